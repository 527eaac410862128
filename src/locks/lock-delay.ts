/**
 * Lock-delay (Chubby, Consul): after a hold's lease or session EXPIRES, the
 * lock stays closed to everyone until `expiredAtMs + lockDelayMs`, so that a
 * holder that was cut off, not dead, has time to notice before someone else
 * acts. A clean release or delete never starts one.
 */
import { assert } from '../raft/invariant.js';
import type { LeaseState } from './lease-state.js';
import type { LockRecord } from './lock-records.js';

/** startLockDelay closes `rec` until `untilMs`; an earlier end never shortens a later one already set. */
export function startLockDelay(st: LeaseState, rec: LockRecord, untilMs: number): void {
  const ext = rec.ensureExt();
  // Stryker disable next-line EqualityOperator: an equal end sets the same end again (the old heap entry becomes stale and is skipped)
  if (untilMs <= ext.delayUntilMs) return;
  if (ext.delayUntilMs === 0) st.lockDelays++;
  ext.delayUntilMs = untilMs;
  ext.delaySeq = ++st.replicated.seq;
  st.deadlines.addLockDelay(rec);
}

/** clearLockDelay ends the lock-delay of `rec` (it passed, or an operator force-released the lock). */
export function clearLockDelay(st: LeaseState, rec: LockRecord): void {
  const ext = rec.ext;
  assert(ext !== null && ext.delayUntilMs !== 0, 'no lock-delay to clear');
  ext.delayUntilMs = 0;
  ext.delaySeq = 0;
  st.lockDelays--;
  st.scope.touch(rec);
}

/** extendLockDelay moves a lock-delay still in force `byMs` later, and clears one that has passed (extendLeases). */
export function extendLockDelay(st: LeaseState, rec: LockRecord, byMs: number): void {
  const ext = rec.ext;
  if (ext === null || ext.delayUntilMs === 0) return;
  // Stryker disable next-line BlockStatement: a passed lock-delay left here is cleared by the expireDue that follows (its deadline is due)
  if (ext.delayUntilMs <= st.replicated.nowMs) {
    clearLockDelay(st, rec);
  } else {
    ext.delayUntilMs += byMs;
  }
}
