import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { LeaseTable, MAX_HOLD_COUNT, MAX_HOLDERS_IN_RESULT, type LockCommand } from '../../src/locks/index.js';
import { DedupeTable } from '../../src/locks/dedupe-table.js';
import { Driver, S as shared, X as acquire } from './helpers.js';

/**
 * Rules of the lease table that mutation testing (npm run mutate) found
 * unchecked: each test names the rule it holds the table to.
 */

/** The gauges a table keeps up to date during applies (they bound its deadline index). */
function gauges(table: LeaseTable): Record<string, number> {
  const st = table['st'];
  return { locksHeld: st.locksHeld, waiters: st.waiters, ttlHolds: st.ttlHolds, lockDelays: st.lockDelays };
}

describe('grants and waiters', () => {
  it('grants a queued semaphore waiter only with holders of its own limit', () => {
    const d = new Driver();
    d.apply(acquire('L', 'w'));
    d.apply(shared('L', 'a', { limit: 2, waitMs: 60_000 }));
    d.apply(shared('L', 'b', { limit: 3, waitMs: 60_000 }));
    const rel = d.apply({ type: 'release', name: 'L', owner: 'w', token: 1 });
    expect(rel.events.filter((e) => e.kind === 'granted').map((e) => (e as { owner: string }).owner)).toEqual(['a']);
    expect(d.table.get('L')).toMatchObject({ holders: [{ owner: 'a' }], waiters: 1 });
  });

  it('grants the queue head in the apply that touches the lock at the exact end of its lock-delay', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply(acquire('L', 'a', { ttlMs: 1_000, lockDelayMs: 2_000 }));
    d.apply(acquire('L', 'b', { waitMs: 60_000 }));
    d.timeMs = t0 + 1_000;
    d.apply({ type: 'expire' }); // a's lease ends: lock-delay until t0 + 3000
    d.timeMs = t0 + 3_000;
    // Not an expire: a newcomer's acquire settles the lock first, and the delay is over.
    const c = d.apply(acquire('L', 'c'));
    expect(c.events).toMatchObject([{ kind: 'granted', owner: 'b' }]);
    expect(c.result).toMatchObject({ ok: false, error: 'lock_held', holders: [{ owner: 'b' }] });
  });
});

describe('one wait per identity', () => {
  it('a waiter whose wait ends at this very time no longer waits: its owner may acquire again', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply(acquire('L', 'x', { ttlMs: 10_000 }));
    d.apply(acquire('L', 'v', { waitMs: 60_000 })); // ahead of w, so w is not a dead queue head the acquire drops first
    expect(d.apply(acquire('L', 'w', { waitMs: 1_000 })).result).toMatchObject({ ok: true, queued: true });
    d.timeMs = t0 + 999;
    expect(d.apply(acquire('L', 'w')).result).toMatchObject({ ok: false, error: 'already_waiting' });
    d.timeMs = t0 + 1_000; // no expire has run yet: the waiter is still in the queue, but its wait is over
    expect(d.apply(acquire('L', 'w')).result).toMatchObject({ ok: false, error: 'lock_held' });
  });
});

describe('fencing tokens of a shared lock', () => {
  it('each holder renews and releases by its own token, never by another holder’s', () => {
    const d = new Driver();
    const tokenOf = (r: { result: unknown }): number => (r.result as { token: number }).token;
    const ta = tokenOf(d.apply(shared('L', 'a', { limit: 3 })));
    const tb = tokenOf(d.apply(shared('L', 'b', { limit: 3 })));
    const tc = tokenOf(d.apply(shared('L', 'c', { limit: 3 })));
    expect(d.apply({ type: 'release', name: 'L', owner: 'b', token: tc }).result).toEqual({ ok: false, error: 'not_holder', name: 'L' });
    expect(d.apply({ type: 'renew', name: 'L', owner: 'b', token: tc }).result).toEqual({ ok: false, error: 'not_holder', name: 'L' });
    expect(d.apply({ type: 'renew', name: 'L', owner: 'c', token: tc }).result).toMatchObject({ ok: true, token: tc });
    expect(d.apply({ type: 'release', name: 'L', owner: 'c', token: tc }).result).toEqual({ ok: true, name: 'L', holdCount: 0 });
    expect(d.apply({ type: 'release', name: 'L', owner: 'b', token: tb }).result).toEqual({ ok: true, name: 'L', holdCount: 0 });
    expect(d.table.get('L')?.holders.map((h) => [h.owner, h.token])).toEqual([['a', ta]]);
  });
});

describe('forceRelease', () => {
  it('of a lock in lock-delay with no holder removes no hold and frees the lock at once', () => {
    const d = new Driver();
    d.apply(acquire('L', 'a', { ttlMs: 1_000, lockDelayMs: 2_000 }));
    d.expireAfter(1_000); // a's lease ends: lock-delay until 2 s later
    expect(d.table.get('L')).toMatchObject({ holders: [], waiters: 0 });
    expect(d.apply({ type: 'forceRelease', name: 'L' }).result).toEqual({ ok: true, name: 'L', holdersRemoved: 0, waitersRemoved: 0 });
    expect(d.table.get('L')).toBeNull();
    expect(d.table.stats()).toMatchObject({ locksHeld: 0, waiters: 0 });
    expect(gauges(d.table)).toEqual(gauges(LeaseTable.restore(d.table.snapshot())));
    expect(d.apply(acquire('L', 'b')).result).toMatchObject({ ok: true, queued: false, owner: 'b' });
  });
});

describe('lease expiry, lock-delay and extension', () => {
  it('a later lock-delay end is never shortened by a hold that expires after it with a shorter delay', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply(shared('L', 'a', { ttlMs: 1_000, lockDelayMs: 5_000 }));
    d.apply(shared('L', 'b', { ttlMs: 1_000, lockDelayMs: 1_000 }));
    d.timeMs = t0 + 1_000;
    expect(d.apply({ type: 'expire' }).result).toMatchObject({ holdsExpired: 2 });
    expect(d.table.get('L')).toMatchObject({ lockDelayUntilMs: t0 + 6_000 });
    d.timeMs = t0 + 3_000;
    expect(d.apply(acquire('L', 'c')).result).toMatchObject({ error: 'lock_held', lockDelayUntilMs: t0 + 6_000 });
  });

  it('extendLeases clears a lock-delay that ends exactly now instead of extending it', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply(acquire('L', 'a', { ttlMs: 1_000, lockDelayMs: 2_000 }));
    d.timeMs = t0 + 1_000;
    d.apply({ type: 'expire' });
    d.timeMs = t0 + 3_000;
    d.apply({ type: 'extendLeases', byMs: 5_000 });
    expect(d.apply(acquire('L', 'b')).result).toMatchObject({ ok: true, owner: 'b' });
  });

  it('extendLeases does not revive a lease or a session whose deadline is exactly now: they are dead and expire', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply(acquire('L', 'a', { ttlMs: 1_000 }));
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 1_000 });
    d.apply(acquire('M', 'b', { ttlMs: undefined, sessionId: 's' }));
    d.timeMs = t0 + 1_000;
    expect(d.apply({ type: 'extendLeases', byMs: 5_000 }).result).toEqual({
      ok: true,
      holdsExpired: 2,
      sessionsExpired: 1,
      waitersTimedOut: 0,
    });
    expect(d.table.get('L')).toBeNull();
    expect(d.table.get('M')).toBeNull();
    expect(d.table.session('s')).toBeNull();
  });

  it('keeps the gauges of holds, waiters and lock-delays equal to a recount after every apply, and seq only grows', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    const steps: LockCommand[] = [
      acquire('L', 'a', { ttlMs: 1_000, lockDelayMs: 3_000 }),
      shared('S', 'x', { ttlMs: 2_000, lockDelayMs: 500 }),
      shared('S', 'y', { ttlMs: 1_000, lockDelayMs: 4_000 }),
      // Two delays on one lock, the later end second: one lock-delay, moved later.
      shared('T', 'p', { ttlMs: 1_000, lockDelayMs: 1_000 }),
      shared('T', 'q', { ttlMs: 1_000, lockDelayMs: 3_000 }),
      acquire('L', 'b', { waitMs: 10_000 }),
      { type: 'createSession', sessionId: 's', ttlMs: 1_500 },
      acquire('M', 'c', { ttlMs: undefined, sessionId: 's' }),
      { type: 'release', name: 'S', owner: 'x', token: 2 },
    ];
    // seq orders deadlines that fall on the same ms (FIFO among equals): every new hold, waiter or delay takes a larger one.
    let lastSeq = 0;
    const check = (): void => {
      expect(gauges(d.table)).toEqual(gauges(LeaseTable.restore(d.table.snapshot())));
      const seq = d.table['st'].replicated.seq;
      expect(seq).toBeGreaterThanOrEqual(lastSeq);
      lastSeq = seq;
    };
    for (const cmd of steps) {
      d.apply(cmd);
      check();
    }
    for (const atMs of [1_000, 1_500, 2_000, 4_000, 5_000, 20_000]) {
      d.timeMs = t0 + atMs;
      d.apply({ type: 'expire' });
      check();
    }
    expect(gauges(d.table)).toEqual({ locksHeld: 0, waiters: 0, ttlHolds: 0, lockDelays: 0 });
  });
});

describe('sessions', () => {
  it('ending a session removes its own hold of a shared lock, never another holder of it', () => {
    for (const end of ['delete', 'expire'] as const) {
      const d = new Driver();
      d.apply({ type: 'createSession', sessionId: 's', ttlMs: 1_000 });
      d.apply(shared('L', 'a', { ttlMs: undefined, sessionId: 's' }));
      d.apply(shared('L', 'x', { ttlMs: 60_000 }));
      if (end === 'delete') d.apply({ type: 'deleteSession', sessionId: 's' });
      else d.expireAfter(1_000);
      expect(d.table.get('L')?.holders.map((h) => h.owner)).toEqual(['x']);
    }
  });
});

describe('exactly-once', () => {
  it('a waiter without a requestId never changes the stored result of a request whose id equals its waiter id', () => {
    for (const outcome of ['granted', 'timeout'] as const) {
      const d = new Driver();
      d.apply(acquire('L', 'w')); // index 1
      const first = d.apply({ type: 'createSession', sessionId: 's', ttlMs: 60_000, requestId: '3' }); // index 2
      // Index 3: its waiter id is '3', the index, as it has no requestId.
      expect(d.apply(acquire('L', 'a', { waitMs: 5_000 })).result).toMatchObject({ queued: true, waiterId: '3' });
      if (outcome === 'granted') d.apply({ type: 'release', name: 'L', owner: 'w', token: 1 });
      else d.expireAfter(5_000);
      expect(d.apply({ type: 'createSession', sessionId: 's', ttlMs: 60_000, requestId: '3' }).result).toBe(first.result);
    }
  });

  it('the dedupe table evicts by age and answers retryAfterMs correctly across the compaction of its order', () => {
    const ttlMs = 100_000;
    const table = new DedupeTable(20_000, ttlMs);
    const result = { ok: true as const, cancelled: false };
    // One id per ms: 10,000 ids at times 0..9999.
    for (let i = 0; i < 10_000; i++) table.remember(`r${i}`, result, i, 0);
    table.evictExpired(6_000 + ttlMs); // evicts r0..r6000: enough to compact the order
    expect(table.size).toBe(3_999);
    expect(table.get('r6000')).toBeUndefined();
    expect(table.get('r6001')).toBeDefined();
    expect(table.retryAfterMs(6_000 + ttlMs)).toBe(1);
    expect(table.retryAfterMs(ttlMs)).toBe(6_001);
    // An id evicted before the compaction and remembered again stays until its own ttl.
    table.remember('r5', result, 10_000, 0);
    table.evictExpired(9_000 + ttlMs);
    expect(table.size).toBe(999 + 1); // r9001..r9999 and r5
    expect(table.get('r5')).toBeDefined();
    expect(table.retryAfterMs(9_000 + ttlMs)).toBe(1);
    table.evictExpired(10_000 + ttlMs);
    expect(table.size).toBe(0);
  });
});

describe('acquire', () => {
  it('refuses a reentrant acquire past MAX_HOLD_COUNT holds and keeps the count at the bound', () => {
    const d = new Driver();
    d.apply(acquire('L', 'a'));
    // One hold short of the bound, set in the snapshot: a million applies would take too long.
    const top = unpack(d.table.snapshot()) as unknown[];
    const lock = top[8] as unknown[];
    expect(lock.slice(0, 8)).toEqual(['L', 0, 1, 0, 0, 0, 1, 'a']);
    lock[7 + 4] = MAX_HOLD_COUNT - 1; // the hold's holdCount
    d.table = LeaseTable.restore(pack(top));
    expect(d.apply(acquire('L', 'a')).result).toMatchObject({ ok: true, token: 1, holdCount: MAX_HOLD_COUNT });
    expect(d.apply(acquire('L', 'a')).result).toEqual({ ok: false, error: 'bad_request', message: 'too many reentrant holds' });
    expect(d.table.get('L')?.holders[0]?.holdCount).toBe(MAX_HOLD_COUNT);
  });

  it('a reentrant acquire without a value keeps the value the hold has', () => {
    const d = new Driver();
    d.apply(acquire('L', 'a', { value: 'v' }));
    expect(d.apply(acquire('L', 'a')).result).toMatchObject({ ok: true, holdCount: 2, value: 'v' });
    expect(d.table.get('L')?.holders[0]?.value).toBe('v');
    expect(d.apply(acquire('L', 'a', { value: 'w' })).result).toMatchObject({ ok: true, holdCount: 3, value: 'w' });
  });

  it('lock_held names at most MAX_HOLDERS_IN_RESULT holders, the first in grant order', () => {
    const d = new Driver();
    const owners = Array.from({ length: MAX_HOLDERS_IN_RESULT + 1 }, (_, i) => `o${String(i).padStart(2, '0')}`);
    for (const o of owners) d.apply(shared('L', o));
    const held = d.apply(acquire('L', 'x')).result as { error: string; holders: { owner: string }[] };
    expect(held.error).toBe('lock_held');
    expect(held.holders.map((h) => h.owner)).toEqual(owners.slice(0, MAX_HOLDERS_IN_RESULT));
  });
});

describe('apply', () => {
  it('a retry answered from the dedupe table, and a dedupe_full refusal, report no events and touch no lock', () => {
    const d = Driver.withLimits({ dedupeEntriesMax: 1 });
    const first = d.apply(acquire('L', 'a', { requestId: 'r1' }));
    expect(first.touched).toEqual(['L']);
    expect(d.apply(acquire('L', 'a', { requestId: 'r1' }))).toEqual({ result: first.result, events: [], touched: [] });
    const full = d.apply(acquire('M', 'b', { requestId: 'r2' }));
    expect(full).toEqual({ result: { ok: false, error: 'dedupe_full', retryAfterMs: expect.any(Number) }, events: [], touched: [] });
  });

  it('the token floor never goes down: a record freed after one with newer tokens keeps the newer floor', () => {
    const d = new Driver();
    const floor = (): unknown => (unpack(d.table.snapshot()) as unknown[])[4];
    d.apply(acquire('A', 'a')); // token 1
    d.apply(acquire('B', 'b')); // token 2
    d.apply({ type: 'release', name: 'B', owner: 'b', token: 2 });
    expect(floor()).toBe(2);
    d.apply({ type: 'release', name: 'A', owner: 'a', token: 1 });
    expect(floor()).toBe(2);
  });
});
