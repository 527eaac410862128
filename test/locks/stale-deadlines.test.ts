import { describe, expect, it } from 'vitest';
import { Driver, S as shared, X as acquire } from './helpers.js';

/**
 * A deadline that moved (a renew) or whose hold was replaced (a release that
 * grants the next waiter) leaves its old entry in the deadline index. Those
 * stale entries must expire nothing and must not change the order in which
 * due deadlines are processed: (deadline, creation seq of what is due now).
 */

describe('stale deadlines', () => {
  it('a shared holder after the first that renews keeps its lock past its old deadline', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    const a = d.apply(shared('L', 'a', { ttlMs: 5_000 })).result as { token: number };
    const b = d.apply(shared('L', 'b', { ttlMs: 1_000 })).result as { token: number };
    d.timeMs = t0 + 500;
    expect(d.apply({ type: 'renew', name: 'L', owner: 'b', token: b.token, ttlMs: 1_000 }).result).toMatchObject({ ok: true, expiresAtMs: t0 + 1_500 });
    expect(d.table.nextDeadlineMs()).toBe(t0 + 1_500);

    d.timeMs = t0 + 1_000;
    expect(d.apply({ type: 'expire' }).result).toEqual({ ok: true, holdsExpired: 0, sessionsExpired: 0, waitersTimedOut: 0 });
    expect(d.table.get('L')?.holders).toMatchObject([
      { owner: 'a', token: a.token },
      { owner: 'b', token: b.token, expiresAtMs: t0 + 1_500 },
    ]);
    expect(d.table.checkToken('L', b.token)).toEqual({ valid: true, currentToken: b.token });

    d.timeMs = t0 + 1_500;
    expect(d.apply({ type: 'expire' }).result).toMatchObject({ holdsExpired: 1 });
    expect(d.table.get('L')?.holders).toMatchObject([{ owner: 'a', token: a.token }]);
    expect(d.table.nextDeadlineMs()).toBe(t0 + 5_000);
  });

  it('holds that expire at the same ms go in the order they were granted, even when a previous holder of one had that deadline too', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    // a's first hold (granted first) ends at t0 + 1000; its queue: w, then u.
    const a = d.apply(acquire('a', 'x', { ttlMs: 1_000 })).result as { token: number };
    d.apply(acquire('a', 'w', { ttlMs: 500, waitMs: 60_000 }));
    d.apply(acquire('a', 'u', { waitMs: 60_000 }));
    d.timeMs = t0 + 500;
    // b is granted next, also until t0 + 1000; v waits for it.
    d.apply(acquire('b', 'y', { ttlMs: 500 }));
    d.apply(acquire('b', 'v', { waitMs: 60_000 }));
    // x releases: w gets a, until t0 + 1000 as well, granted after b's hold.
    const rel = d.apply({ type: 'release', name: 'a', owner: 'x', token: a.token });
    expect(rel.events).toMatchObject([{ kind: 'granted', name: 'a', owner: 'w', expiresAtMs: t0 + 1_000 }]);

    d.timeMs = t0 + 1_000;
    const exp = d.apply({ type: 'expire' });
    expect(exp.result).toMatchObject({ holdsExpired: 2 });
    // b's hold was granted before w's hold of a: b is freed (and granted on) first.
    expect(exp.touched).toEqual(['b', 'a']);
    expect(exp.events.map((e) => [e.kind, e.name, (e as { owner?: string }).owner])).toEqual([
      ['granted', 'b', 'v'],
      ['granted', 'a', 'u'],
    ]);
  });
});
