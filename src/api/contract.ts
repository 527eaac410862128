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
