/**
 * Expiry by the log: the table never expires anything by itself. The leader
 * proposes an 'expire' entry once nextDeadlineMs() has passed by its clock,
 * and every replica removes what is due at the entry's time. A new leader
 * first proposes 'extendLeases', so that time without a leader (when nobody
 * could renew) never shortens a lease.
 */
import { assert } from '../raft/invariant.js';
import { removeHold } from './holds.js';
import type { LeaseState } from './lease-state.js';
import { clearLockDelay, extendLockDelay } from './lock-delay.js';
import { endSession } from './sessions.js';
import type { ExpireOk } from './types.js';
import { endWaiter } from './waiter-queue.js';

/**
 * expireDue removes everything whose deadline is <= nowMs, in (deadline, seq)
 * order: expired holds (starting their lock-delay), expired sessions (their
 * holds and waiters), timed-out waiters and ended lock-delays. Grants to the
 * freed locks' queues happen afterwards, when the apply settles them, so all
 * removals come before any grant.
 */
export function expireDue(st: LeaseState): ExpireOk {
  const state = st.replicated;
  let holdsExpired = 0;
  let sessionsExpired = 0;
  let waitersTimedOut = 0;
  // Bounded: each due deadline is popped once; the only entries pushed meanwhile
  // come from promoting a shared holder into the inline slot (at most one per hold).
  for (let due = st.deadlines.popDue(state); due !== null; due = st.deadlines.popDue(state)) {
    switch (due.kind) {
      case 'hold':
        removeHold(st, due.rec, due.hold, due.hold.expiresAtMs);
        state.expiriesTotal++;
        holdsExpired++;
        break;
      case 'session': {
        const { holds } = endSession(st, due.session, true);
        state.expiriesTotal += holds;
        holdsExpired += holds;
        sessionsExpired++;
        break;
      }
      case 'waiter':
        endWaiter(st, due.waiter, 'timeout');
        waitersTimedOut++;
        break;
      case 'lockDelay':
        clearLockDelay(st, due.rec);
        break;
    }
  }
  return { ok: true, holdsExpired, sessionsExpired, waitersTimedOut };
}

/**
 * extendLeases adds `byMs` to every lease and session deadline still ahead of
 * the table's time and to every lock-delay still in force (passed ones are
 * cleared), then expires what is due. A lease or session whose deadline has
 * already passed is dead (it could not be renewed or kept alive any more) and
 * stays dead: extending it would revive a hold whose client has already been
 * told, by its own lost rule, that it is gone (issue 11, hole 8). New leaders
 * no longer propose extendLeases (src/node/lease-clock.ts); old logs hold it.
 * Waiters' deadlines stay: the HTTP request that waits gives up after its
 * waitMs whatever happened to the leader.
 */
export function extendLeases(st: LeaseState, byMs: number): ExpireOk {
  assert(byMs >= 0, 'extendLeases never shortens a lease');
  const state = st.replicated;
  const nowMs = state.nowMs;
  for (const rec of state.locks.values()) {
    rec.forEachHold((hold) => {
      // Stryker disable next-line ConditionalExpression: a session hold's expiresAtMs is 0 (holds.ts), never after now
      if (hold.sessionId === null && hold.expiresAtMs > nowMs) hold.expiresAtMs += byMs;
    });
    extendLockDelay(st, rec, byMs);
  }
  for (const s of state.sessions.values()) if (s.expiresAtMs > nowMs) s.expiresAtMs += byMs;
  // Every deadline moved: index them afresh rather than leave stale entries.
  st.deadlines.rebuild(state);
  return expireDue(st);
}
