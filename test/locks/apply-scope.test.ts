import { describe, expect, it } from 'vitest';
import { ApplyScope } from '../../src/locks/apply-scope.js';
import { InvariantError } from '../../src/raft/invariant.js';
import { Driver, X as acquire } from './helpers.js';

/**
 * What one apply may touch: the lock records it changed are settled (queues
 * granted) once each at its end, in first-touch order, and reported as the
 * apply's touched names (lock watches wake on them); applies do not nest.
 */

describe('touched locks', () => {
  // 1..12 locks: both sides of the switch from a scan to a Set (past 8 records).
  for (const count of [1, 2, 7, 8, 9, 10, 12]) {
    it(`ending a session that holds ${count} lock(s) touches each once, in the order it got them, and grants each to its waiter`, () => {
      const d = new Driver();
      d.apply({ type: 'createSession', sessionId: 's', ttlMs: 60_000 });
      const names = Array.from({ length: count }, (_, i) => `lock-${String(count - i).padStart(2, '0')}`);
      for (const name of names) {
        expect(d.apply(acquire(name, 'o', { ttlMs: undefined, sessionId: 's' })).result).toMatchObject({ ok: true, queued: false });
        expect(d.apply(acquire(name, `w-${name}`, { waitMs: 60_000 })).result).toMatchObject({ ok: true, queued: true });
      }

      const out = d.apply({ type: 'deleteSession', sessionId: 's' });
      expect(out.result).toEqual({ ok: true, sessionId: 's', locksReleased: count, waitersRemoved: 0 });
      // Each record is touched twice (its hold removed, then its waiter granted) but listed and settled once.
      expect(out.touched).toEqual(names);
      expect(out.events.map((e) => [e.kind, e.name, (e as { owner?: string }).owner])).toEqual(names.map((name) => ['granted', name, `w-${name}`]));
      for (const name of names) expect(d.table.get(name)).toMatchObject({ holders: [{ owner: `w-${name}` }], waiters: 0 });
      expect(d.table.stats()).toMatchObject({ locksHeld: count, waiters: 0, sessions: 0 });
    });
  }
});

describe('apply scope', () => {
  it('an apply does not nest: begin inside an apply throws; after end a new apply begins with no events', () => {
    const scope = new ApplyScope();
    expect(scope.isActive()).toBe(false);
    scope.begin(1);
    expect(scope.isActive()).toBe(true);
    expect(() => scope.begin(2)).toThrow(InvariantError);
    scope.emit({ kind: 'waitEnded', waiterId: 'w', name: 'L', reason: 'timeout' });
    const events = scope.events;
    scope.end();
    expect(scope.isActive()).toBe(false);
    // The events handed out stay as they were.
    expect(events).toEqual([{ kind: 'waitEnded', waiterId: 'w', name: 'L', reason: 'timeout' }]);
    scope.begin(3);
    expect([scope.index, scope.events]).toEqual([3, []]);
    scope.end();
  });
});
