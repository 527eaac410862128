/**
 * Holds: granting, renewing, releasing and checking the holders of a lock,
 * with their fencing tokens. A lock's first hold lives inline in its
 * LockRecord; further shared holds are Holders in its LockExt.
 */
import { assert } from '../raft/invariant.js';
import type { LeaseState } from './lease-state.js';
import { startLockDelay } from './lock-delay.js';
import { Holder, MODE_EXCLUSIVE, MODE_SHARED, type HoldFields, type LockRecord, type ModeCode } from './lock-records.js';
import { describeHold } from './read-views.js';
import type { ReplicatedState } from './replicated-state.js';
import type { AcquireGranted, CommandResult, TokenCheck } from './types.js';
import { badRequest } from './validate-command.js';

/** GrantParams describe a hold to create. */
export interface GrantParams {
  readonly owner: string;
  readonly mode: ModeCode;
  /** Semaphore limit; 0 = none. */
  readonly limit: number;
  /** 0 for a session hold. */
  readonly ttlMs: number;
  readonly sessionId: string | null;
  readonly lockDelayMs: number;
  /** Election value of an exclusive hold; null = none. */
  readonly value: string | null;
}

/**
 * grantable: could a new hold with these parameters join the current holders?
 * The queue and lock-delay are the caller's to check.
 */
export function grantable(state: ReplicatedState, rec: LockRecord, mode: ModeCode, limit: number, owner: string, sessionId: string | null): boolean {
  const n = rec.holderCount();
  if (n === 0) return true;
  if (mode === MODE_EXCLUSIVE || rec.mode === MODE_EXCLUSIVE) return false;
  if (rec.semaphoreLimit() !== limit) return false;
  if (n >= state.holdersMax(limit)) return false;
  // The same identity must not hold twice (its old hold may be dead but not yet expired).
  return rec.holdOf(owner, sessionId) === null;
}

/** grant creates a new hold on `rec`. The caller has checked that it is grantable. */
export function grant(st: LeaseState, rec: LockRecord, p: GrantParams): HoldFields {
  const state = st.replicated;
  // Fencing token (Chubby sequencer): derived from the log, strictly increasing per name.
  const token = Math.max(st.scope.index, rec.lastToken + 1);
  assert(token > rec.lastToken, 'fencing tokens must strictly increase');
  rec.lastToken = token;
  const seq = ++state.seq;
  // Stryker disable next-line ConditionalExpression: a session hold's own expiresAtMs is never read (isHoldLive, holdExpiresAtMs and the deadlines use its session's)
  const expiresAtMs = p.sessionId === null ? state.nowMs + p.ttlMs : 0;
  assert((p.sessionId === null) === (p.ttlMs > 0), 'a hold has exactly one of ttl and session');
  let hold: HoldFields;
  if (rec.owner === null) {
    assert(rec.ext === null || (rec.ext.more.length === 0 && rec.ext.limit === 0), 'free lock with leftovers');
    rec.owner = p.owner;
    rec.token = token;
    rec.expiresAtMs = expiresAtMs;
    rec.ttlMs = p.ttlMs;
    rec.holdCount = 1;
    rec.sessionId = p.sessionId;
    rec.lockDelayMs = p.lockDelayMs;
    rec.seq = seq;
    rec.mode = p.mode;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: limit 0 is a record's default; writing it changes nothing
    if (p.limit > 0) rec.ensureExt().limit = p.limit;
    if (p.value !== null) {
      assert(p.mode === MODE_EXCLUSIVE, 'only an exclusive hold carries a value');
      rec.ensureExt().value = p.value;
    }
    st.locksHeld++;
    hold = rec;
  } else {
    assert(rec.mode === MODE_SHARED && p.mode === MODE_SHARED, 'exclusive locks have at most one holder');
    assert(rec.semaphoreLimit() === p.limit, 'semaphore limit mismatch');
    assert(rec.holderCount() < state.holdersMax(p.limit), 'holders must not exceed the limit');
    assert(p.value === null, 'a shared hold carries no value');
    hold = new Holder(rec, p.owner, token, expiresAtMs, p.ttlMs, 1, p.sessionId, p.lockDelayMs, seq);
    rec.ensureExt().more.push(hold as Holder);
  }
  if (p.sessionId === null) {
    st.deadlines.addHold(rec, hold);
    st.ttlHolds++;
  } else {
    const s = state.sessions.get(p.sessionId);
    assert(s !== undefined && s.expiresAtMs > state.nowMs, 'grant under a dead session');
    assert(!s.locks.has(rec.name), 'a session holds a lock at most once');
    s.locks.add(rec.name);
  }
  st.scope.touch(rec);
  return hold;
}

/** renewLease gives a TTL hold a fresh lease of `ttlMs` from now. */
export function renewLease(st: LeaseState, rec: LockRecord, hold: HoldFields, ttlMs: number): void {
  hold.ttlMs = ttlMs;
  hold.expiresAtMs = st.replicated.nowMs + ttlMs;
  st.deadlines.addHold(rec, hold);
}

/**
 * removeHold removes a hold entirely. `expiredAtMs` is the deadline that
 * passed when expiry removes it (its lock-delay starts there), null for a
 * clean release.
 */
export function removeHold(st: LeaseState, rec: LockRecord, hold: HoldFields, expiredAtMs: number | null): void {
  const state = st.replicated;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: with lockDelayMs 0 the delay would end at the passed deadline, never after now: none starts either way
  if (expiredAtMs !== null && hold.lockDelayMs > 0) {
    const untilMs = expiredAtMs + hold.lockDelayMs;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a lock-delay that has already ended is cleared by the settle of this same apply (the record is touched)
    if (untilMs > state.nowMs) startLockDelay(st, rec, untilMs);
  }
  if (hold.sessionId === null) {
    st.ttlHolds--;
  } else {
    const s = state.sessions.get(hold.sessionId);
    assert(s !== undefined && s.locks.has(rec.name), 'session hold without its session');
    s.locks.delete(rec.name);
  }
  if (hold === rec) removeInlineHold(st, rec);
  else removeExtraHold(rec, hold as Holder);
  st.scope.touch(rec);
}

/** removeInlineHold promotes the next holder into the inline slot, or frees the lock. */
function removeInlineHold(st: LeaseState, rec: LockRecord): void {
  const ext = rec.ext;
  if (ext !== null && ext.more.length > 0) {
    // The promoted hold's deadline entry moves with it.
    const h = ext.more.shift()!;
    h.alive = false;
    rec.owner = h.owner;
    rec.token = h.token;
    rec.expiresAtMs = h.expiresAtMs;
    rec.ttlMs = h.ttlMs;
    rec.holdCount = h.holdCount;
    rec.sessionId = h.sessionId;
    rec.lockDelayMs = h.lockDelayMs;
    rec.seq = h.seq;
    if (h.sessionId === null) st.deadlines.addHold(rec, rec);
    return;
  }
  rec.owner = null;
  rec.token = 0;
  rec.expiresAtMs = 0;
  rec.ttlMs = 0;
  rec.holdCount = 0;
  rec.sessionId = null;
  rec.lockDelayMs = 0;
  rec.seq = 0;
  rec.mode = MODE_EXCLUSIVE;
  if (ext !== null) {
    ext.limit = 0;
    // The value belongs to the hold: the next leader proclaims its own.
    ext.value = null;
  }
  st.locksHeld--;
}

function removeExtraHold(rec: LockRecord, h: Holder): void {
  const ext = rec.ext;
  assert(ext !== null, 'extra holder without ext');
  const i = ext.more.indexOf(h);
  assert(i >= 0, 'holder not found');
  ext.more.splice(i, 1);
  h.alive = false;
}

/** release drops one hold of the holder with `token` (the last one removes the hold). */
export function release(st: LeaseState, name: string, owner: string, token: number): CommandResult {
  const rec = st.replicated.locks.get(name);
  const hold = rec === undefined ? null : rec.holdByToken(token);
  // Stryker disable next-line ConditionalExpression: hold is null whenever rec is undefined; that test is for the type checker
  if (rec === undefined || hold === null || hold.owner !== owner) return { ok: false, error: 'not_holder', name };
  st.scope.touch(rec);
  hold.holdCount--;
  const left = hold.holdCount;
  // A clean release (even of a dead lease) never starts a lock-delay.
  if (left === 0) removeHold(st, rec, hold, null);
  return { ok: true, name, holdCount: left };
}

/** renew gives a live TTL hold a fresh lease of `ttlMs` (default: its last one). */
export function renew(st: LeaseState, name: string, owner: string, token: number, ttlMs: number | undefined): CommandResult {
  const state = st.replicated;
  const rec = state.locks.get(name);
  const hold = rec === undefined ? null : rec.holdByToken(token);
  // Stryker disable next-line ConditionalExpression: hold is null whenever rec is undefined; that test is for the type checker
  if (rec === undefined || hold === null || hold.owner !== owner || !state.isHoldLive(hold)) {
    return { ok: false, error: 'not_holder', name };
  }
  if (hold.sessionId !== null) return badRequest(`${name} is held under session ${hold.sessionId}; keep the session alive instead`);
  st.scope.touch(rec);
  renewLease(st, rec, hold, ttlMs ?? hold.ttlMs);
  return { ok: true, name, token, expiresAtMs: hold.expiresAtMs };
}

/**
 * proclaim replaces the value of the caller's live exclusive hold with
 * `token` (etcd's Election.Proclaim): a deposed holder's token names no hold
 * and gets not_holder, so a stale leader cannot overwrite its successor's value.
 */
export function proclaim(st: LeaseState, name: string, owner: string, token: number, value: string): CommandResult {
  const state = st.replicated;
  const rec = state.locks.get(name);
  const hold = rec === undefined ? null : rec.holdByToken(token);
  if (rec === undefined || hold === null || hold.owner !== owner || !state.isHoldLive(hold)) {
    return { ok: false, error: 'not_holder', name };
  }
  if (rec.mode !== MODE_EXCLUSIVE) return badRequest(`${name} is held in shared mode; only an exclusive hold (an election's leader) carries a value`);
  st.scope.touch(rec);
  rec.ensureExt().value = value;
  return { ok: true, name, token, value };
}

/**
 * checkToken answers Chubby's CheckSequencer: `valid` iff a hold with this
 * token exists and its lease/session is not dead; `currentToken` is the
 * largest token among the current holds (null when free).
 */
export function checkToken(state: ReplicatedState, name: string, token: number): TokenCheck {
  const rec = state.locks.get(name);
  if (rec === undefined || rec.owner === null) return { valid: false, currentToken: null };
  let valid = false;
  let current = 0;
  rec.forEachHold((hold) => {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: holds are visited in grant order, so tokens ascend and the last is the largest
    if (hold.token > current) current = hold.token;
    if (hold.token === token && state.isHoldLive(hold)) valid = true;
  });
  return { valid, currentToken: current };
}

/** grantedResult is the answer to an acquire that got (or re-entered) `hold`. */
export function grantedResult(state: ReplicatedState, rec: LockRecord, hold: HoldFields): AcquireGranted {
  // Key order matters: stored results (dedupe) are part of the snapshot bytes.
  return describeHold({ ok: true as const, queued: false as const, name: rec.name }, state, rec, hold);
}

/** assertHolds checks the invariants of a record's holders between applies. */
export function assertHolds(state: ReplicatedState, rec: LockRecord): void {
  const n = rec.holderCount();
  const ext = rec.ext;
  if (n === 0) {
    assert(ext === null || (ext.more.length === 0 && ext.limit === 0 && ext.value === null), 'free lock keeps holders, a limit or a value');
    return;
  }
  assert(ext === null || ext.value === null || rec.mode === MODE_EXCLUSIVE, 'a shared lock with a value');
  assert(rec.mode === MODE_SHARED || n === 1, 'exclusive lock with more than one holder');
  assert(n <= state.holdersMax(rec.semaphoreLimit()), 'more holders than the limit');
  rec.forEachHold((hold) => {
    assert(hold.token >= 1 && hold.token <= rec.lastToken, 'hold token above lastToken');
    assert(hold.holdCount >= 1, 'hold with zero count');
    assert((hold.sessionId === null) === (hold.ttlMs > 0), 'hold needs exactly one of ttl and session');
  });
}
