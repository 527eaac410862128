/**
 * Fencing checks: what a downstream resource protected by fencing tokens sees.
 *
 * The lock contract says tokens for one lock name strictly increase with every grant,
 * so (1) two different grants never share a token, (2) a grant that starts after
 * another finished carries a larger token (real-time order is part of any
 * linearization), and (3) a resource that rejects stale tokens never accepts one
 * lower than a token it already accepted. The counter workload adds (4): the final
 * counter equals the number of acknowledged increments (within the unknown ones).
 */
import { effectiveCompleteMs, validateHistory, type AcquireOp, type History } from './history.js';

/** ResourceWrite is one entry of the toy resource's log, in the order the resource processed them. */
export interface ResourceWrite {
  readonly key: string;
  readonly token: number;
  /** Harness time at which the resource decided. */
  readonly atMs: number;
  readonly accepted: boolean;
}

/** FencingViolationKind names a broken fencing rule. */
export type FencingViolationKind =
  | 'duplicate_token'
  | 'token_reused_after_release'
  | 'token_went_backwards'
  | 'stale_token_accepted'
  | 'accepted_ungranted_token';

/** FencingViolation is one broken rule with the evidence. */
export interface FencingViolation {
  readonly kind: FencingViolationKind;
  readonly key: string;
  readonly token: number;
  readonly detail: string;
  /** Operation ids involved (grants, releases). */
  readonly opIds: readonly number[];
  /** Indices into the writes array involved. */
  readonly writeIndices: readonly number[];
}

/** FencingReport is the outcome of checkFencing. */
export interface FencingReport {
  readonly valid: boolean;
  readonly violations: readonly FencingViolation[];
  readonly grantsChecked: number;
  readonly writesChecked: number;
}

/** FencingOptions selects optional checks. */
export interface FencingOptions {
  /**
   * requireGrantedTokens: every accepted write must carry a token some acquire returned
   * ok for that key (default true). Turn off if writers may use tokens of acquires
   * whose response was lost.
   */
  readonly requireGrantedTokens?: boolean;
  /** maxViolations caps the report (default 100). */
  readonly maxViolations?: number;
}

type OkAcquire = AcquireOp & { status: 'ok' };

function okAcquires(history: History): OkAcquire[] {
  return history.filter((op): op is OkAcquire => op.f === 'acquire' && op.status === 'ok');
}

/** AddViolation records one violation (the caller caps how many it keeps). */
type AddViolation = (v: FencingViolation) => void;

/**
 * checkFencing checks the grants of `history` and the resource's write log against
 * the fencing rules above.
 */
export function checkFencing(history: History, writes: readonly ResourceWrite[], options: FencingOptions = {}): FencingReport {
  const ops = validateHistory(history);
  const maxViolations = options.maxViolations ?? 100;
  const violations: FencingViolation[] = [];
  const add: AddViolation = (v) => {
    if (violations.length < maxViolations) violations.push(v);
  };
  const grants = okAcquires(ops);
  const releasedAt = earliestReleases(ops);
  for (const [key, list] of groupBy(grants, (g) => g.key)) {
    checkTokenReuse(key, list, releasedAt, add);
    checkRealTimeOrder(key, list, add);
  }
  checkResourceWrites(writes, grants, options.requireGrantedTokens ?? true, add);
  return { valid: violations.length === 0, violations, grantsChecked: grants.length, writesChecked: writes.length };
}

function groupBy<T, K>(items: readonly T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const list = groups.get(keyOf(item)) ?? [];
    list.push(item);
    groups.set(keyOf(item), list);
  }
  return groups;
}

interface Release {
  readonly completeMs: number;
  readonly id: number;
}

function releaseKey(key: string, owner: string, token: number): string {
  return JSON.stringify([key, owner, token]);
}

/**
 * earliestReleases is the earliest definite release ok per (key, owner, token): a
 * grant of the same token invoked after it cannot be reentrant, it is a second
 * grant of a used token.
 */
function earliestReleases(ops: History): Map<string, Release> {
  const releasedAt = new Map<string, Release>();
  for (const op of ops) {
    if (op.f !== 'release' || op.status !== 'ok') continue;
    const k = releaseKey(op.key, op.input.owner, op.input.token);
    const prev = releasedAt.get(k);
    if (prev === undefined || op.completeMs < prev.completeMs) releasedAt.set(k, { completeMs: op.completeMs, id: op.id });
  }
  return releasedAt;
}

/** checkTokenReuse is rule (1) and reuse: one key's token granted to two owners, or again after its release. */
function checkTokenReuse(key: string, grants: readonly OkAcquire[], releasedAt: ReadonlyMap<string, Release>, add: AddViolation): void {
  for (const [token, same] of groupBy(grants, (g) => g.output.token)) {
    const owners = new Set(same.map((g) => g.input.owner));
    if (owners.size > 1) {
      add({
        kind: 'duplicate_token',
        key,
        token,
        detail: `token ${token} granted to ${[...owners].join(', ')}`,
        opIds: same.map((g) => g.id),
        writeIndices: [],
      });
      continue;
    }
    const rel = releasedAt.get(releaseKey(key, same[0]!.input.owner, token));
    const again = rel === undefined ? [] : same.filter((g) => g.invokeMs > rel.completeMs);
    if (rel !== undefined && again.length > 0) {
      add({
        kind: 'token_reused_after_release',
        key,
        token,
        detail: `token ${token} granted again after its release #${rel.id} completed`,
        opIds: [rel.id, ...again.map((g) => g.id)],
        writeIndices: [],
      });
    }
  }
}

/**
 * checkRealTimeOrder is rule (2) for one key: sweep grants by invocation, folding
 * in every grant that completed strictly before, and compare with the largest
 * token among those.
 */
function checkRealTimeOrder(key: string, grants: readonly OkAcquire[], add: AddViolation): void {
  const byInvoke = [...grants].sort((a, b) => a.invokeMs - b.invokeMs);
  const byComplete = [...grants].sort((a, b) => effectiveCompleteMs(a) - effectiveCompleteMs(b));
  let c = 0;
  let maxDone: OkAcquire | null = null;
  for (const g of byInvoke) {
    while (c < byComplete.length && byComplete[c]!.completeMs < g.invokeMs) {
      const d = byComplete[c]!;
      if (maxDone === null || d.output.token > maxDone.output.token) maxDone = d;
      c++;
    }
    if (maxDone === null) continue;
    const t = g.output.token;
    const reentrant = t === maxDone.output.token && g.input.owner === maxDone.input.owner;
    if (t < maxDone.output.token || (t === maxDone.output.token && !reentrant)) {
      add({
        kind: 'token_went_backwards',
        key,
        token: t,
        detail: `grant #${g.id} got token ${t} after grant #${maxDone.id} had completed with token ${maxDone.output.token}`,
        opIds: [maxDone.id, g.id],
        writeIndices: [],
      });
    }
  }
}

/** checkResourceWrites is rule (3), in the resource's own processing order, and (optionally) that accepted tokens were granted. */
function checkResourceWrites(writes: readonly ResourceWrite[], grants: readonly OkAcquire[], requireGranted: boolean, add: AddViolation): void {
  const highest = new Map<string, { token: number; index: number }>();
  const granted = new Set(grants.map((g) => JSON.stringify([g.key, g.output.token])));
  writes.forEach((w, index) => {
    if (!w.accepted) return;
    const hi = highest.get(w.key);
    if (hi !== undefined && w.token < hi.token) {
      add({
        kind: 'stale_token_accepted',
        key: w.key,
        token: w.token,
        detail: `write ${index} with token ${w.token} accepted after write ${hi.index} with token ${hi.token}`,
        opIds: [],
        writeIndices: [hi.index, index],
      });
    }
    if (hi === undefined || w.token > hi.token) highest.set(w.key, { token: w.token, index });
    if (requireGranted && !granted.has(JSON.stringify([w.key, w.token]))) {
      add({
        kind: 'accepted_ungranted_token',
        key: w.key,
        token: w.token,
        detail: `write ${index} accepted with token ${w.token}, which no acquire returned for ${w.key}`,
        opIds: [],
        writeIndices: [index],
      });
    }
  });
}

/** CounterObservation summarizes the counter workload: increments by outcome and the final value. */
export interface CounterObservation {
  /** Increments whose write the resource acknowledged. */
  readonly acknowledged: number;
  /** Increments whose outcome is unknown (may or may not have been applied). */
  readonly indeterminate: number;
  /** The counter read after healing. */
  readonly finalValue: number;
  /** The counter's value before the run (default 0). */
  readonly initialValue?: number;
}

/** CounterReport says whether the final counter is explained by the increments. */
export interface CounterReport {
  readonly valid: boolean;
  readonly expectedMin: number;
  readonly expectedMax: number;
  readonly finalValue: number;
  /** 'lost_increment' if below the acknowledged count, 'phantom_increment' if above what could have been applied. */
  readonly violation?: 'lost_increment' | 'phantom_increment';
}

/**
 * checkCounter: the final counter must equal the acknowledged increments, plus any
 * subset of the indeterminate ones (exactly the acknowledged count when none are).
 */
export function checkCounter(obs: CounterObservation): CounterReport {
  for (const [name, v] of Object.entries(obs)) {
    if (!(Number.isSafeInteger(v) && (v as number) >= 0)) throw new Error(`invariant: counter ${name} must be a non-negative integer`);
  }
  const base = obs.initialValue ?? 0;
  const expectedMin = base + obs.acknowledged;
  const expectedMax = expectedMin + obs.indeterminate;
  const common = { expectedMin, expectedMax, finalValue: obs.finalValue };
  if (obs.finalValue < expectedMin) return { valid: false, ...common, violation: 'lost_increment' };
  if (obs.finalValue > expectedMax) return { valid: false, ...common, violation: 'phantom_increment' };
  return { valid: true, ...common };
}
