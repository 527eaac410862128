import { describe, expect, it } from 'vitest';
import { STALE_SLACK } from '../../src/locks/deadlines.js';
import { LeaseTable } from '../../src/locks/index.js';
import { Driver, S as shared, X as acquire } from './helpers.js';

/**
 * The deadline index (src/locks/deadlines.ts) keeps stale entries until they
 * reach the top, so its memory is bounded only by rebuilding it: after a
 * rebuild it holds one entry per live deadline, and it is rebuilt once it
 * holds more than 2x its live deadlines plus STALE_SLACK (not before: a rebuild
 * costs O(n), so it must pay off over that many stale entries).
 */

/** The index's entry count (stale ones included) and the live deadlines it must cover. */
function index(table: LeaseTable): { entries: number; live: number } {
  const st = table['st'];
  return { entries: st.deadlines.size, live: st.liveDeadlines() };
}

describe('deadline index', () => {
  it('a restored table indexes each live deadline once: no entry for session holds, free records or a holder under a session', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 10_000 });
    // An exclusive lock held under the session (its record has an owner but no lease of its own).
    d.apply(acquire('held-by-session', 'o', { ttlMs: undefined, sessionId: 's' }));
    // A shared lock: a TTL hold first, then a hold under the session and a second TTL hold.
    d.apply(shared('shared', 'a', { ttlMs: 3_000 }));
    d.apply(shared('shared', 'o', { ttlMs: undefined, sessionId: 's' }));
    d.apply(shared('shared', 'p', { ttlMs: 4_000 }));
    // A lock whose hold expired into a lock-delay: a free record with a delay and a waiter.
    d.apply(acquire('delayed', 'b', { ttlMs: 1_000, lockDelayMs: 5_000 }));
    d.apply(acquire('delayed', 'c', { waitMs: 20_000 }));
    d.timeMs = t0 + 1_000;
    expect(d.apply({ type: 'expire' }).result).toMatchObject({ holdsExpired: 1 });
    expect(d.table.get('delayed')).toMatchObject({ holders: [], waiters: 1, lockDelayUntilMs: t0 + 6_000 });

    d.reload();
    // Live deadlines: the two shared TTL holds, the session, the waiter and the lock-delay.
    expect(index(d.table)).toEqual({ entries: 5, live: 5 });
    expect(d.table.nextDeadlineMs()).toBe(t0 + 3_000);
    // And each of them still ends when it should.
    d.timeMs = t0 + 4_000;
    expect(d.apply({ type: 'expire' }).result).toMatchObject({ holdsExpired: 2, sessionsExpired: 0 });
    expect(d.table.get('shared')?.holders).toMatchObject([{ owner: 'o', sessionId: 's' }]);
    expect(d.table.nextDeadlineMs()).toBe(t0 + 6_000);
    d.timeMs = t0 + 6_000;
    expect(d.apply({ type: 'expire' }).events).toMatchObject([{ kind: 'granted', name: 'delayed', owner: 'c' }]);
    expect(d.table.nextDeadlineMs()).toBe(t0 + 7_000);
  });

  it('is rebuilt once stale entries pass 2x the live deadlines + STALE_SLACK, not before, and then holds only the live ones', () => {
    const d = new Driver();
    for (const id of ['s1', 's2', 's3']) d.apply({ type: 'createSession', sessionId: id, ttlMs: 60_000 });
    const bound = 2 * 3 + STALE_SLACK;
    const entries: number[] = [];
    // Each keepalive moves s1's deadline and leaves its old entry behind.
    for (let i = 0; i < bound + 100; i++) {
      d.timeMs += 1;
      d.apply({ type: 'keepalive', sessionId: 's1' });
      const { entries: n, live } = index(d.table);
      expect(live).toBe(3);
      entries.push(n);
    }
    expect(Math.max(...entries)).toBe(bound);
    const rebuiltAt = entries.findIndex((n, i) => i > 0 && n < entries[i - 1]!);
    expect(entries[rebuiltAt - 1]).toBe(bound);
    expect(entries[rebuiltAt]).toBe(3);
    // The sessions' deadlines all survived the rebuild.
    expect(d.table.nextDeadlineMs()).toBe(Math.min(...['s1', 's2', 's3'].map((id) => d.table.session(id)!.expiresAtMs)));
  });

  it('maybeRebuild says whether it rebuilt', () => {
    const d = new Driver();
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 60_000 });
    const st = d.table['st'];
    const session = st.replicated.sessions.get('s')!;
    while (st.deadlines.size < 2 + STALE_SLACK) st.deadlines.addSession(session);
    expect(st.deadlines.maybeRebuild(st.replicated, st.liveDeadlines())).toBe(false);
    expect(st.deadlines.size).toBe(2 + STALE_SLACK);
    st.deadlines.addSession(session);
    expect(st.deadlines.maybeRebuild(st.replicated, st.liveDeadlines())).toBe(true);
    expect(st.deadlines.size).toBe(1);
  });
});
