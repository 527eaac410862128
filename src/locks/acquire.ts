/**
 * Acquire: the one command that needs holds and the queue together. It
 * re-enters a hold the caller already has, grants at once when nobody is in
 * the way, queues the caller, or refuses with the current holders.
 */
import { grant, grantable, grantedResult, renewLease, type GrantParams } from './holds.js';
import type { LeaseState } from './lease-state.js';
import { LockRecord, MODE_SHARED, modeCode, modeName } from './lock-records.js';
import { holderView } from './read-views.js';
import type { AcquireCommand, AcquireResult, HolderView, LockHeldError } from './types.js';
import { badRequest } from './validate-command.js';
import { enqueue, queuedWaiterOf, settle } from './waiter-queue.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** MAX_HOLDERS_IN_RESULT bounds the holder list inside a lock_held result (results are stored for dedupe). */
export const MAX_HOLDERS_IN_RESULT = 16;
/** MAX_HOLD_COUNT bounds reentrant holds of one hold. */
export const MAX_HOLD_COUNT = 1_000_000;

/** acquire applies an AcquireCommand (already validated). */
export function acquire(st: LeaseState, cmd: AcquireCommand): AcquireResult {
  const state = st.replicated;
  const owner = cmd.owner;
  const sessionId = cmd.sessionId ?? null;
  if (sessionId !== null) {
    const s = state.sessions.get(sessionId);
    // A dead session must never get a grant (etcd issue 11456).
    if (s === undefined || s.expiresAtMs <= state.nowMs) return { ok: false, error: 'session_not_found', sessionId };
    if (s.owner !== null && s.owner !== owner) return badRequest(`session ${sessionId} belongs to another owner`);
  }
  const p: GrantParams = {
    owner,
    mode: modeCode(cmd.mode),
    limit: cmd.limit ?? 0,
    ttlMs: cmd.ttlMs ?? 0,
    sessionId,
    lockDelayMs: cmd.lockDelayMs ?? 0,
    value: cmd.value ?? null,
  };
  let rec = state.locks.get(cmd.name);
  if (rec !== undefined) {
    st.scope.touch(rec);
    settle(st, rec); // drop dead queue heads and grant what can be granted before judging this request
    const known = acquireAgain(st, rec, p);
    if (known !== null) return known;
  }
  // FIFO: nobody overtakes a queued waiter; lock-delay blocks everyone.
  if (
    rec === undefined ||
    (rec.queueLength() === 0 && !rec.isLockDelayed(state.nowMs) && grantable(state, rec, p.mode, p.limit, owner, sessionId))
  ) {
    rec ??= createRecord(st, cmd.name);
    return grantedResult(state, rec, grant(st, rec, p));
  }
  if (cmd.waitMs === 0) return lockHeld(st, rec);
  return enqueue(st, rec, p, cmd.waitMs, cmd.requestId);
}

/**
 * acquireAgain answers an acquire by an identity the lock already knows: a
 * reentrant acquire by a live holder, or any acquire by an identity that
 * waits in the queue, which is refused with already_waiting (see
 * AlreadyWaitingError: one waiter per identity and lock). Also refuses a
 * semaphore limit that differs from the current holders'. Null when none of
 * these applies.
 */
function acquireAgain(st: LeaseState, rec: LockRecord, p: GrantParams): AcquireResult | null {
  const state = st.replicated;
  // Stryker disable next-line ConditionalExpression: a free record has mode exclusive and no limit (holds.ts resets them) and holdOf finds no hold in it: nothing below answers
  if (rec.owner !== null) {
    if (p.mode === MODE_SHARED && rec.mode === MODE_SHARED && rec.semaphoreLimit() !== p.limit) {
      return { ok: false, error: 'limit_mismatch', name: rec.name, limit: rec.semaphoreLimit() };
    }
    const mine = rec.holdOf(p.owner, p.sessionId);
    if (mine !== null && state.isHoldLive(mine)) {
      if (mine.owner !== p.owner) return badRequest(`session ${p.sessionId} already holds ${rec.name} under another owner`);
      if (rec.mode !== p.mode) return badRequest(`${p.owner} already holds ${rec.name} in ${modeName(rec.mode)} mode`);
      if (mine.holdCount >= MAX_HOLD_COUNT) return badRequest('too many reentrant holds');
      // Reentrant: same token, one more hold, fresh lease.
      mine.holdCount++;
      mine.lockDelayMs = p.lockDelayMs;
      // A campaign that re-enters its own leadership proclaims the value it brings (mode checked above: exclusive).
      if (p.value !== null) rec.ensureExt().value = p.value;
      if (p.sessionId === null) renewLease(st, rec, mine, p.ttlMs);
      return grantedResult(state, rec, mine);
    }
  }
  // A retry of the waiting acquire itself never gets here: its requestId finds the stored result first.
  return queuedWaiterOf(state, rec, p.owner, p.sessionId) === null ? null : { ok: false, error: 'already_waiting', name: rec.name };
}

/** createRecord adds the record of a lock nobody holds or waits for; its tokens start above the table's floor. */
function createRecord(st: LeaseState, name: string): LockRecord {
  const state = st.replicated;
  const rec = new LockRecord(name, state.tokenFloor);
  state.locks.set(name, rec);
  st.scope.touch(rec);
  return rec;
}

/** lockHeld is the refusal of an acquire that would not wait: who holds the lock, and any lock-delay. */
function lockHeld(st: LeaseState, rec: LockRecord): LockHeldError {
  const state = st.replicated;
  const holders: HolderView[] = [];
  rec.forEachHold((hold) => {
    if (holders.length < MAX_HOLDERS_IN_RESULT) holders.push(holderView(state, rec, hold));
  });
  const r: Mutable<LockHeldError> = { ok: false, error: 'lock_held', name: rec.name, holders };
  if (rec.isLockDelayed(state.nowMs)) r.lockDelayUntilMs = rec.ext!.delayUntilMs;
  return r;
}
