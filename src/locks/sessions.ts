/**
 * Sessions (Chubby's): a client keeps one session alive with keepalives and
 * holds any number of locks under it; when the session ends, all its holds and
 * waiters go with it.
 */
import { assert } from '../raft/invariant.js';
import { removeHold } from './holds.js';
import type { LeaseState } from './lease-state.js';
import { Session, type HoldFields } from './lock-records.js';
import type { CommandResult } from './types.js';
import { badRequest } from './validate-command.js';
import { endWaiter } from './waiter-queue.js';

/** createSession starts a session of `ttlMs`; the id is the proposer's choice and must be unused. */
export function createSession(st: LeaseState, sessionId: string, ttlMs: number, owner: string | null): CommandResult {
  const state = st.replicated;
  if (state.sessions.has(sessionId)) return badRequest(`session ${sessionId} already exists`);
  const s = new Session(sessionId, owner, ttlMs, state.nowMs + ttlMs, ++state.seq);
  state.sessions.set(sessionId, s);
  st.deadlines.addSession(s);
  return { ok: true, sessionId, ttlMs, expiresAtMs: s.expiresAtMs };
}

/** keepalive moves a live session's expiry to now + its ttlMs. A dead session cannot be revived. */
export function keepalive(st: LeaseState, sessionId: string): CommandResult {
  const state = st.replicated;
  const s = state.sessions.get(sessionId);
  if (s === undefined || s.expiresAtMs <= state.nowMs) return { ok: false, error: 'session_not_found', sessionId };
  s.expiresAtMs = state.nowMs + s.ttlMs;
  st.deadlines.addSession(s);
  return { ok: true, sessionId, ttlMs: s.ttlMs, expiresAtMs: s.expiresAtMs };
}

/** deleteSession ends a session on request: its holds are released and its waiters dropped. */
export function deleteSession(st: LeaseState, sessionId: string): CommandResult {
  const s = st.replicated.sessions.get(sessionId);
  if (s === undefined) return { ok: false, error: 'session_not_found', sessionId };
  // An explicit delete is a clean release, even of a dead session: no lock-delay.
  const { holds, waiters } = endSession(st, s, false);
  return { ok: true, sessionId, locksReleased: holds, waitersRemoved: waiters };
}

/**
 * endSession removes a session with its holds and waiters. `expired` says the
 * session ran out (its holds' lock-delays start at its expiry) rather than
 * being deleted.
 */
export function endSession(st: LeaseState, s: Session, expired: boolean): { holds: number; waiters: number } {
  const state = st.replicated;
  let holds = 0;
  let waiters = 0;
  for (const name of [...s.locks]) {
    const rec = state.locks.get(name);
    assert(rec !== undefined, 'session lists a lock that does not exist');
    let hold: HoldFields | null = null;
    rec.forEachHold((h) => {
      if (h.sessionId === s.id) hold = h;
    });
    assert(hold !== null, 'session lists a lock it does not hold');
    removeHold(st, rec, hold, expired ? s.expiresAtMs : null);
    holds++;
  }
  if (s.waiters !== null) {
    for (const w of [...s.waiters]) {
      endWaiter(st, w, 'session_expired');
      waiters++;
    }
  }
  assert(s.locks.size === 0 && (s.waiters === null || s.waiters.size === 0), 'session still has holds or waiters');
  state.sessions.delete(s.id);
  return { holds, waiters };
}
