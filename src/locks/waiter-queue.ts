/**
 * The waiter queue of a lock: acquires that could not be granted at once wait
 * FIFO, each until its deadline (and under its session, if it has one). A
 * waiter leaves the queue granted (a 'granted' event) or not (a 'waitEnded'
 * event); either way its dedupe entry, if it has one, learns the outcome.
 */
import { assert } from '../raft/invariant.js';
import { grant, grantable, grantedResult, type GrantParams } from './holds.js';
import type { LeaseState } from './lease-state.js';
import { clearLockDelay } from './lock-delay.js';
import { Waiter, type LockRecord } from './lock-records.js';
import type { ReplicatedState } from './replicated-state.js';
import type { AcquireResult, GrantedEvent, WaitEndReason } from './types.js';
import { badRequest } from './validate-command.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * queuedWaiterOf finds the live waiter of an identity on `rec`, the same
 * identity a hold has (LockRecord.holdOf): under a session, the session's
 * waiter whatever its owner; without one, the owner's waiter that has no
 * session. An identity waits at most once per lock (acquire.ts).
 */
export function queuedWaiterOf(state: ReplicatedState, rec: LockRecord, owner: string, sessionId: string | null): Waiter | null {
  const ext = rec.ext;
  if (ext === null) return null;
  for (const w of ext.waiters) {
    if (w.alive && w.sessionId === sessionId && (sessionId !== null || w.owner === owner) && state.isWaiterLive(w)) return w;
  }
  return null;
}

/**
 * enqueue queues an acquire on `rec` for at most `waitMs`. Its waiter id is
 * the acquire's requestId, or else the entry's index (unique in the log).
 */
export function enqueue(st: LeaseState, rec: LockRecord, p: GrantParams, waitMs: number, requestId: string | undefined): AcquireResult {
  const state = st.replicated;
  if (rec.queueLength() >= state.limits.waitersPerLockMax) return { ok: false, error: 'too_many_waiters', name: rec.name };
  const waiterId = requestId ?? String(st.scope.index);
  const ext = rec.ensureExt();
  for (const w of ext.waiters) {
    if (w.alive && w.id === waiterId) return badRequest(`waiter id ${waiterId} is already queued on ${rec.name}`);
  }
  // A retry whose earlier wait under this requestId ended (timed out) while settling this very entry: its listener is
  // this request. (An index id is never an earlier waiter's.)
  st.scope.retractWaitEnded(rec.name, waiterId);
  const w = new Waiter(
    rec,
    waiterId,
    p.owner,
    p.mode,
    p.limit,
    p.ttlMs,
    p.sessionId,
    state.nowMs + waitMs,
    p.lockDelayMs,
    ++state.seq,
    requestId !== undefined,
  );
  w.value = p.value;
  ext.waiters.push(w);
  st.waiters++;
  if (p.sessionId !== null) {
    const s = state.sessions.get(p.sessionId);
    assert(s !== undefined, 'waiter under an unknown session');
    (s.waiters ??= new Set()).add(w);
  }
  st.deadlines.addWaiter(w);
  return { ok: true, queued: true, name: rec.name, waiterId };
}

/**
 * settle is the only place queued waiters are granted: unless a lock-delay is
 * in force, it drops dead heads (deadline passed, session dead) and grants
 * heads while they are grantable, stopping at the first one that is not
 * (FIFO; consecutive shared heads may all be granted).
 */
export function settle(st: LeaseState, rec: LockRecord): void {
  const ext = rec.ext;
  if (ext === null) return;
  const state = st.replicated;
  const now = state.nowMs;
  if (ext.delayUntilMs !== 0) {
    if (ext.delayUntilMs > now) return;
    clearLockDelay(st, rec);
  }
  const queue = ext.waiters;
  // Bounded by the queue length (grants and removals never add waiters).
  for (let i = 0; i < queue.length; i++) {
    const w = queue[i]!;
    if (!w.alive) continue;
    if (w.deadlineMs <= now) {
      endWaiter(st, w, 'timeout');
      continue;
    }
    if (w.sessionId !== null && !state.isSessionLive(w.sessionId)) {
      endWaiter(st, w, 'session_expired');
      continue;
    }
    if (!grantable(state, rec, w.mode, w.limit, w.owner, w.sessionId)) break;
    grantWaiter(st, w);
  }
}

function grantWaiter(st: LeaseState, w: Waiter): void {
  const state = st.replicated;
  // Never grant after the waiter's deadline or its session's end (etcd issue 11456).
  assert(w.alive && w.deadlineMs > state.nowMs, 'grant to a waiter past its deadline');
  assert(w.sessionId === null || state.isSessionLive(w.sessionId), 'grant to a waiter whose session is dead');
  const rec = w.rec;
  leaveQueue(st, w);
  const hold = grant(st, rec, {
    owner: w.owner,
    mode: w.mode,
    limit: w.limit,
    ttlMs: w.ttlMs,
    sessionId: w.sessionId,
    lockDelayMs: w.lockDelayMs,
    value: w.value,
  });
  const r = grantedResult(state, rec, hold);
  const ev: Mutable<GrantedEvent> = {
    kind: 'granted',
    waiterId: w.id,
    name: r.name,
    owner: r.owner,
    token: r.token,
    mode: r.mode,
    expiresAtMs: r.expiresAtMs,
    holdCount: r.holdCount,
  };
  if (r.sessionId !== undefined) ev.sessionId = r.sessionId;
  if (r.value !== undefined) ev.value = r.value;
  st.scope.emit(ev);
  if (w.deduped) state.dedupe.replace(w.id, r);
}

/** endWaiter removes a waiter without a grant and reports why. */
export function endWaiter(st: LeaseState, w: Waiter, reason: WaitEndReason): void {
  const rec = w.rec;
  leaveQueue(st, w);
  st.scope.emit({ kind: 'waitEnded', waiterId: w.id, name: rec.name, reason });
  if (w.deduped) st.replicated.dedupe.replace(w.id, { ok: false, error: 'wait_ended', name: rec.name, reason });
  st.scope.touch(rec);
}

/** leaveQueue marks a waiter dead (the queue drops it at the end of the apply) and detaches it from its session. */
function leaveQueue(st: LeaseState, w: Waiter): void {
  assert(w.alive, 'waiter left the queue twice');
  w.alive = false;
  w.rec.ext!.deadWaiters++;
  st.waiters--;
  if (w.sessionId === null) return;
  const s = st.replicated.sessions.get(w.sessionId);
  assert(s !== undefined && s.waiters !== null && s.waiters.delete(w), 'session waiter without its session');
}

/** findWaiter finds the queued waiter `waiterId` of lock `name`, or null (granted, ended, unknown). */
export function findWaiter(state: ReplicatedState, name: string, waiterId: string): Waiter | null {
  const ext = state.locks.get(name)?.ext ?? null;
  if (ext === null) return null;
  for (const w of ext.waiters) if (w.alive && w.id === waiterId) return w;
  return null;
}

/** dropDeadWaiters compacts the queue of `rec` at the end of an apply. */
export function dropDeadWaiters(rec: LockRecord): void {
  const ext = rec.ext;
  // Stryker disable next-line ConditionalExpression: filtering a queue with no dead waiters leaves it as it was
  if (ext === null || ext.deadWaiters === 0) return;
  ext.waiters = ext.waiters.filter((w) => w.alive);
  ext.deadWaiters = 0;
}

/** assertQueue checks the invariants of a record's queue between applies. */
export function assertQueue(state: ReplicatedState, rec: LockRecord): void {
  const ext = rec.ext;
  if (ext === null) return;
  assert(ext.deadWaiters === 0, 'dead waiters left in the queue');
  assert(ext.waiters.length <= state.limits.waitersPerLockMax, 'queue over its bound');
}
