/**
 * No lost acknowledgements: after the cluster has healed, a final linearizable read
 * of every lock must reflect what clients were told.
 *
 * - A grant acknowledged before the final read, whose lease cannot have expired by
 *   then and which nothing may have ended (no release or renew-refusal of its token,
 *   no later grant of the lock), must still be the holder.
 * - A release acknowledged before the final read must not show its (owner, token)
 *   holding.
 * - The final lastToken is at least every token acknowledged before the read: a
 *   rollback of the lease table (lost Raft entries) shows up here.
 */
import { effectiveCompleteMs, isMeaningfulFail, validateHistory, type History, type Operation, type ReadOp } from './history.js';

/** NoLostAckOptions mirrors the lease rule of the lock model. */
export interface NoLostAckOptions {
  /** marginMs is subtracted from every lease bound (see LockModelOptions.marginMs). */
  readonly marginMs: number;
}

/** LostAckKind names the broken promise. */
export type LostAckKind = 'lost_grant' | 'released_still_held' | 'last_token_regressed' | 'no_final_read';

/** LostAckViolation is one broken promise with the operations involved. */
export interface LostAckViolation {
  readonly kind: LostAckKind;
  readonly key: string;
  /** The acknowledged operation, when one is involved. */
  readonly opId: number | null;
  readonly finalReadId: number | null;
  readonly detail: string;
}

/** NoLostAckReport is the outcome of checkNoLostAck. */
export interface NoLostAckReport {
  readonly valid: boolean;
  readonly violations: readonly LostAckViolation[];
  /** Grants that had to be visible in a final read. */
  readonly grantsRequired: number;
  /** Grants excused because their lease may have expired or something may have ended them. */
  readonly grantsExcused: number;
  readonly releasesChecked: number;
}

type OkRead = ReadOp & { status: 'ok' };

interface LeaseSetter {
  readonly invokeMs: number;
  readonly completeMs: number; // +∞ when it may or may not have happened
  readonly ttlMs: number;
  readonly definite: boolean;
}

/**
 * earliestExpiryMs is the earliest harness time at which the lease of a grant may have
 * expired: the minimum lease bound over every lease-setting operation that may have
 * been the last one applied (one not followed in real time by a definite setter).
 */
function earliestExpiryMs(setters: readonly LeaseSetter[], marginMs: number): number {
  let bound = Infinity;
  for (const s of setters) {
    const overridden = setters.some((d) => d.definite && d.invokeMs > s.completeMs);
    if (!overridden) bound = Math.min(bound, s.invokeMs + s.ttlMs - marginMs);
  }
  return bound;
}

function holdersInclude(read: OkRead, owner: string, token: number): boolean {
  return read.output.holders.some((h) => h.owner === owner && h.token === token);
}

/** Tally is a report being built. */
interface Tally {
  readonly violations: LostAckViolation[];
  grantsRequired: number;
  grantsExcused: number;
  releasesChecked: number;
}

/**
 * checkNoLostAck checks every final read against the operations acknowledged before
 * it was invoked. A key with acknowledged grants or releases but no final read is a
 * violation ('no_final_read'): an unchecked promise is not a kept one.
 */
export function checkNoLostAck(history: History, finalReads: readonly ReadOp[], options: NoLostAckOptions): NoLostAckReport {
  if (!(options.marginMs >= 0)) throw new Error('invariant: marginMs must be >= 0');
  const finals = validateHistory(finalReads).map((r) => {
    if (r.f !== 'read' || r.status !== 'ok') throw new Error(`invariant: final read #${r.id} must be a read with status ok`);
    return r as OkRead;
  });
  const finalIds = new Set(finals.map((r) => r.id));
  const readsByKey = groupByKey(finals);
  const byKey = groupByKey(validateHistory(history).filter((op) => !finalIds.has(op.id)));

  const tally: Tally = { violations: [], grantsRequired: 0, grantsExcused: 0, releasesChecked: 0 };
  for (const [key, keyOps] of [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const reads = readsByKey.get(key) ?? [];
    if (reads.length === 0) {
      const acked = keyOps.some((op) => op.status === 'ok' && (op.f === 'acquire' || op.f === 'release'));
      if (acked) tally.violations.push({ kind: 'no_final_read', key, opId: null, finalReadId: null, detail: `no final read of ${key}` });
      continue;
    }
    for (const fr of reads) checkFinalRead(key, keyOps, fr, options.marginMs, tally);
  }
  const { violations, grantsRequired, grantsExcused, releasesChecked } = tally;
  return { valid: violations.length === 0, violations, grantsRequired, grantsExcused, releasesChecked };
}

function groupByKey<T extends { readonly key: string }>(items: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const list = groups.get(item.key) ?? [];
    list.push(item);
    groups.set(item.key, list);
  }
  return groups;
}

/** checkFinalRead checks one final read of `key` against the key's operations. */
function checkFinalRead(key: string, keyOps: readonly Operation[], fr: OkRead, marginMs: number, tally: Tally): void {
  const before = keyOps.filter((op) => op.status !== 'unknown' && effectiveCompleteMs(op) < fr.invokeMs);
  // Anything invoked before the final read completed may have been applied before it.
  const mayPrecede = keyOps.filter((op) => op.invokeMs < fr.completeMs);
  checkLastToken(key, before, fr, tally);
  checkReleases(key, before, fr, tally);
  checkGrants(key, before, mayPrecede, fr, marginMs, tally);
}

/** checkLastToken: the final lastToken is at least every token acknowledged before the read. */
function checkLastToken(key: string, before: readonly Operation[], fr: OkRead, tally: Tally): void {
  let maxAcked: { token: number; id: number } | null = null;
  for (const op of before) {
    if (op.f === 'acquire' && op.status === 'ok' && (maxAcked === null || op.output.token > maxAcked.token)) {
      maxAcked = { token: op.output.token, id: op.id };
    }
  }
  if (maxAcked !== null && fr.output.lastToken < maxAcked.token) {
    tally.violations.push({
      kind: 'last_token_regressed',
      key,
      opId: maxAcked.id,
      finalReadId: fr.id,
      detail: `final read #${fr.id} shows lastToken ${fr.output.lastToken} < acknowledged token ${maxAcked.token}`,
    });
  }
}

/** checkReleases: a release acknowledged before the read must not show its (owner, token) holding. */
function checkReleases(key: string, before: readonly Operation[], fr: OkRead, tally: Tally): void {
  for (const op of before) {
    if (op.f !== 'release' || op.status !== 'ok') continue;
    tally.releasesChecked++;
    if (holdersInclude(fr, op.input.owner, op.input.token)) {
      tally.violations.push({
        kind: 'released_still_held',
        key,
        opId: op.id,
        finalReadId: fr.id,
        detail: `release #${op.id} of ${op.input.owner}:${op.input.token} was acknowledged, final read #${fr.id} still shows it`,
      });
    }
  }
}

/** AckedGrant is one (owner, token) pair and the acknowledged acquires that returned it. */
interface AckedGrant {
  readonly owner: string;
  readonly token: number;
  readonly members: Operation[];
}

/** ackedGrants groups acknowledged acquires by grant: the pair (owner, token), as reentrant acquires return the same pair. */
function ackedGrants(before: readonly Operation[]): AckedGrant[] {
  const grants = new Map<string, AckedGrant>();
  for (const op of before) {
    if (op.f !== 'acquire' || op.status !== 'ok') continue;
    const k = JSON.stringify([op.input.owner, op.output.token]);
    const g = grants.get(k) ?? { owner: op.input.owner, token: op.output.token, members: [] };
    g.members.push(op);
    grants.set(k, g);
  }
  return [...grants.values()];
}

/**
 * checkGrants: a grant acknowledged before the read, whose lease cannot have
 * expired by its end and which nothing may have ended, must still be a holder.
 */
function checkGrants(key: string, before: readonly Operation[], mayPrecede: readonly Operation[], fr: OkRead, marginMs: number, tally: Tally): void {
  for (const { owner, token, members } of ackedGrants(before)) {
    if (mayHaveEnded(owner, token, mayPrecede) || earliestExpiryMs(leaseSetters(owner, token, mayPrecede), marginMs) <= fr.completeMs) {
      tally.grantsExcused++;
      continue;
    }
    tally.grantsRequired++;
    if (holdersInclude(fr, owner, token)) continue;
    const first = members.reduce((a, b) => (b.invokeMs < a.invokeMs ? b : a));
    tally.violations.push({
      kind: 'lost_grant',
      key,
      opId: first.id,
      finalReadId: fr.id,
      detail: `grant #${first.id} (${owner}:${token}) cannot have expired or ended, but final read #${fr.id} shows [${fr.output.holders
        .map((h) => `${h.owner}:${h.token}`)
        .join(', ')}]`,
    });
  }
}

/** mayHaveEnded: a later grant of the lock, or a release or renew-refusal of this (owner, token), may precede the read. */
function mayHaveEnded(owner: string, token: number, mayPrecede: readonly Operation[]): boolean {
  return mayPrecede.some((o) => {
    if (o.f === 'acquire') return o.status === 'ok' && o.output.token > token;
    if (o.f !== 'release' && o.f !== 'renew') return false;
    if (o.input.owner !== owner || o.input.token !== token) return false;
    if (o.f === 'release') return o.status !== 'fail' || isMeaningfulFail(o);
    return o.status === 'fail' && isMeaningfulFail(o);
  });
}

/**
 * leaseSetters lists what may have set the grant's lease last. Which acquire of
 * the pair was the original grant, and whether reentrant ones restarted the
 * lease, is not known: every acquire of the pair (and every unknown acquire of
 * the owner) is a possible lease setter; only an ok renew is a definite one,
 * overriding whatever came before it.
 */
function leaseSetters(owner: string, token: number, mayPrecede: readonly Operation[]): LeaseSetter[] {
  const setters: LeaseSetter[] = [];
  for (const o of mayPrecede) {
    if (o.f === 'acquire' && o.input.owner === owner && (o.status === 'unknown' || (o.status === 'ok' && o.output.token === token))) {
      setters.push({ invokeMs: o.invokeMs, completeMs: effectiveCompleteMs(o), ttlMs: o.input.ttlMs, definite: false });
    } else if (o.f === 'renew' && o.input.owner === owner && o.input.token === token && o.status !== 'fail') {
      setters.push({ invokeMs: o.invokeMs, completeMs: effectiveCompleteMs(o), ttlMs: o.input.ttlMs, definite: o.status === 'ok' });
    }
  }
  return setters;
}
