/**
 * Sessions (Chubby's): a client keeps one session alive with keepalives and
 * holds any number of locks under it; when the session ends, all its holds and
 * waiters go with it.
 */
import { assert } from '../raft/invariant.js';
import { removeHold } from './holds.js';
import type { LeaseState } from './lease-state.js';
import { Session, type HoldFields } from './lock-records.js';
import type { CommandResult, SessionLeasesOk } from './types.js';
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

/**
 * checkpointSessions raises each named session's expiry to the given table time (never lowers it). The leader
 * answered those keepalives from memory; it writes them here before any expiry could need them. A session whose
 * stored expiry has passed but that is still in the table is raised too: the leader vouches that a keepalive it
 * confirmed kept it alive, and until 'expire' removes a session nothing else has been told it ended.
 */
export function checkpointSessions(st: LeaseState, entries: readonly (readonly [string, number])[]): SessionLeasesOk {
  const sessions = st.replicated.sessions;
  let moved = 0;
  for (const [id, expiresAtMs] of entries) {
    const s = sessions.get(id);
    if (s === undefined || expiresAtMs <= s.expiresAtMs) continue;
    s.expiresAtMs = expiresAtMs;
    st.deadlines.addSession(s);
    moved++;
  }
  return { ok: true, sessionsExtended: moved };
}

/**
 * restartSessionLeases gives every session at least its full ttlMs from the table's time: a new leader's first
 * command, since its predecessor may have answered keepalives it never wrote to the log. Sessions whose stored
 * expiry has passed are included for the same reason (only 'expire' ends a session, and none ran since).
 */
export function restartSessionLeases(st: LeaseState): SessionLeasesOk {
  const state = st.replicated;
  let moved = 0;
  for (const s of state.sessions.values()) {
    const floorMs = state.nowMs + s.ttlMs;
    if (s.expiresAtMs >= floorMs) continue;
    s.expiresAtMs = floorMs;
    moved++;
  }
  // Every moved deadline: index them afresh rather than push one stale entry each.
  if (moved > 0) st.deadlines.rebuild(state);
  return { ok: true, sessionsExtended: moved };
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
