/**
 * The API contract: the bounds every layer agrees on for lock names, owners,
 * ids, TTLs and waits. The HTTP schemas (src/server), the lease table's
 * default limits (src/locks) and the client's checks (src/client) all import
 * these, so they cannot drift apart (they once disagreed: waits of 600 s vs
 * 300 s, names of 512 vs 256 characters).
 *
 * Pure data with no imports: the lowest layer, importable from the pure core
 * and from the client package alike. Bounds are named units last, then Min or
 * Max (`ttlMsMax`), as everywhere in raftlock.
 */

/** API_BOUNDS are the inclusive limits of every number and string the API takes. */
export const API_BOUNDS = Object.freeze({
  /** A lock name: [A-Za-z0-9._:/-], 1 to 256 characters, not `.` or `..` (they would be path segments in a URL). */
  nameLengthMax: 256,
  ownerLengthMax: 256,
  requestIdLengthMax: 128,
  sessionIdLengthMax: 128,
  /** A TTL hold's lease. */
  ttlMsMin: 100,
  ttlMsMax: 3_600_000,
  /** A session's TTL. */
  sessionTtlMsMin: 1_000,
  sessionTtlMsMax: 3_600_000,
  /** How long an acquire may wait in the queue. */
  waitMsMax: 300_000,
  /** Opt-in lock-delay after an expiry. */
  lockDelayMsMax: 60_000,
  /** Largest semaphore limit, and the bound on shared holders of one lock. */
  semaphoreLimitMax: 10_000,
  /** Most locks one list call returns. */
  listLimitMax: 1_000,
  /** An election's value (what a leader proclaims: an address, an id): at most this many characters, may be empty. */
  electionValueLengthMax: 1_024,
  /** How long a watch (a blocking GET with `?index=N&wait=...`) may be held open waiting for a change. */
  watchWaitMsMax: 300_000,
  /** The longest a client call may keep retrying (the client's callTimeoutMs), on top of a long-poll's waitMs. */
  callTimeoutMsMax: 120_000,
});

/** LOCK_NAME_PATTERN is the JSON-schema pattern of a lock name (also valid as a JavaScript RegExp source). */
export const LOCK_NAME_PATTERN = `^(?!\\.{1,2}$)[A-Za-z0-9._:/-]{1,${API_BOUNDS.nameLengthMax}}$`;

/** LOCK_PREFIX_PATTERN is the pattern of a list prefix: a name's characters, possibly empty. */
export const LOCK_PREFIX_PATTERN = `^[A-Za-z0-9._:/-]{0,${API_BOUNDS.nameLengthMax}}$`;

const LOCK_NAME_REGEXP = new RegExp(LOCK_NAME_PATTERN);

/** isLockName says whether `name` is a valid lock name. */
export function isLockName(name: string): boolean {
  return LOCK_NAME_REGEXP.test(name);
}

/** LOCK_NAME_RULE describes a valid name in words, for error messages. */
export const LOCK_NAME_RULE = `[A-Za-z0-9._:/-]{1,${API_BOUNDS.nameLengthMax}}, not "." or ".."`;

/**
 * MAX_CLOCK_RATE_ERROR is the one clock assumption lease safety rests on:
 * every machine's monotonic clock runs within ±1% of real time. Quartz is off
 * by about 0.01% and NTP slews by at most 0.05%, so 1% leaves a wide margin.
 * Wall clocks may disagree between machines by any amount and may step either
 * way: no lease decision reads them (src/node/lease-clock.ts).
 */
export const MAX_CLOCK_RATE_ERROR = 0.01;

/**
 * leaseSafetyMarginMsMin is the least a client must subtract from a lease of
 * `ttlMs` that it dates on its own monotonic clock from the start of the call
 * that got it: the leader's clock may run fast by ρ (the lease ends after
 * ttl / (1 + ρ) real ms) and the client's slow by ρ (its ttl - margin takes
 * (ttl - margin) / (1 - ρ) real ms), so margin >= ttl * 2ρ / (1 + ρ), rounded
 * up, plus 1 ms because the leader stamps whole milliseconds (rounding down).
 */
export function leaseSafetyMarginMsMin(ttlMs: number): number {
  return Math.ceil((ttlMs * 2 * MAX_CLOCK_RATE_ERROR) / (1 + MAX_CLOCK_RATE_ERROR)) + 1;
}

/**
 * defaultLeaseSafetyMarginMs is the client library's margin: a tenth of the
 * ttl (at least 50 ms), five times leaseSafetyMarginMsMin, for the scheduling
 * delay of the client's own `lost` timer on a busy machine.
 */
export function defaultLeaseSafetyMarginMs(ttlMs: number): number {
  return Math.max(ttlMs / 10, 50, leaseSafetyMarginMsMin(ttlMs));
}

/**
 * DEDUPE_APPLY_SLACK_MS is the table time the exactly-once window allows,
 * beyond the client's own bound, for an attempt the server received before
 * the call's deadline to be applied: a proposal waits at most the leader's
 * proposal timeout (seconds) while table time runs, and table time stands
 * still while there is no leader to commit it.
 */
export const DEDUPE_APPLY_SLACK_MS = 60_000;

/**
 * retryHorizonMsMax is the longest table time between the first and the last
 * apply of one client call's attempts: every attempt is sent within
 * callTimeoutMs + waitMs of the call's start (src/client/http-transport.ts),
 * the first apply comes after that start, table time runs at most
 * (1 + ρ) / (1 - ρ) times as fast as the client's clock (the leader's
 * monotonic clock fast by ρ = MAX_CLOCK_RATE_ERROR, the client's slow by ρ),
 * and the last attempt applies within DEDUPE_APPLY_SLACK_MS of table time
 * after it arrived.
 */
export function retryHorizonMsMax(): number {
  const clientMs = API_BOUNDS.callTimeoutMsMax + API_BOUNDS.waitMsMax;
  return Math.ceil((clientMs * (1 + MAX_CLOCK_RATE_ERROR)) / (1 - MAX_CLOCK_RATE_ERROR)) + DEDUPE_APPLY_SLACK_MS;
}

/**
 * DEDUPE_TTL_MS is how long, in table time, the lease table remembers a
 * requestId and its first result (exactly-once, Raft thesis §6.3). It must
 * be at least retryHorizonMsMax(), so that no retry of a call can come after
 * its id was forgotten and act a second time (issue 11, hole 7): 600 s
 * against (120 s + 300 s) * 1.01 / 0.99 + 60 s = 489 s. The client refuses a
 * callTimeoutMs above API_BOUNDS.callTimeoutMsMax to keep it so.
 */
export const DEDUPE_TTL_MS = 600_000;
