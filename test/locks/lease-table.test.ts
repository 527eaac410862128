import { describe, expect, it } from 'vitest';
import { API_BOUNDS, DEDUPE_TTL_MS, MAX_CLOCK_RATE_ERROR, retryHorizonMsMax } from '../../src/api/contract.js';
import { DEFAULT_LEASE_TABLE_LIMITS, InvariantError, LeaseTable, SnapshotCorruptError, type LockCommand } from '../../src/locks/index.js';
import { Driver, S, X, sameBytes } from './helpers.js';


function token(out: { result: unknown }): number {
  const r = out.result as { ok: boolean; token?: number };
  expect(r.ok).toBe(true);
  expect(typeof r.token).toBe('number');
  return r.token!;
}

describe('exclusive locks and fencing tokens', () => {
  it('grants, refuses a second owner with the holders, and frees on release', () => {
    const d = new Driver();
    const a = d.apply(X('L', 'a'));
    expect(a.result).toEqual({
      ok: true,
      queued: false,
      name: 'L',
      owner: 'a',
      token: 1,
      mode: 'exclusive',
      expiresAtMs: d.timeMs + 1_000,
      holdCount: 1,
    });
    const b = d.apply(X('L', 'b'));
    expect(b.result).toMatchObject({ ok: false, error: 'lock_held', name: 'L', holders: [{ owner: 'a', token: 1 }] });
    expect(d.apply({ type: 'release', name: 'L', owner: 'a', token: 1 }).result).toEqual({ ok: true, name: 'L', holdCount: 0 });
    expect(d.table.get('L')).toBeNull();
    expect(token(d.apply(X('L', 'b')))).toBe(4); // token = index of the granting entry
  });

  it('release/renew with the wrong owner or a stale token answer not_holder', () => {
    const d = new Driver();
    const t = token(d.apply(X('L', 'a')));
    expect(d.apply({ type: 'release', name: 'L', owner: 'b', token: t }).result).toEqual({ ok: false, error: 'not_holder', name: 'L' });
    expect(d.apply({ type: 'release', name: 'L', owner: 'a', token: t + 1 }).result).toMatchObject({ error: 'not_holder' });
    expect(d.apply({ type: 'renew', name: 'L', owner: 'b', token: t }).result).toMatchObject({ error: 'not_holder' });
    expect(d.apply({ type: 'renew', name: 'nope', owner: 'a', token: t }).result).toMatchObject({ error: 'not_holder' });
    expect(d.table.get('L')?.holders[0]?.owner).toBe('a');
  });

  it('keeps tokens strictly increasing after a free record is dropped (token floor)', () => {
    const d = new Driver();
    d.apply(X('L', 'w')); // index 1, token 1
    for (let i = 0; i < 5; i++) d.apply(S('L', `s${i}`, { waitMs: 10_000 })); // indexes 2..6 queue
    const rel = d.apply({ type: 'release', name: 'L', owner: 'w', token: 1 }); // index 7 grants 5 shared waiters
    const granted = rel.events.filter((e) => e.kind === 'granted').map((e) => (e as { token: number }).token);
    expect(granted).toEqual([7, 8, 9, 10, 11]);
    expect(d.apply({ type: 'forceRelease', name: 'L' }).result).toMatchObject({ holdersRemoved: 5 }); // index 8
    expect(d.table.get('L')).toBeNull();
    // Index 9 < lastToken 11: the record is gone, but the floor keeps the token above 11.
    expect(token(d.apply(X('L', 'z')))).toBe(12);
  });

  it('clamps a leader clock that goes backwards', () => {
    const d = new Driver();
    d.timeMs = 50_000;
    d.apply({ type: 'expire' });
    d.timeMs = 40_000;
    const r = d.apply(X('L', 'a'));
    expect(d.table.nowMs).toBe(50_000);
    expect(r.result).toMatchObject({ expiresAtMs: 51_000 });
  });

  it('rejects a non-increasing index as a host bug', () => {
    const t = new LeaseTable();
    t.apply({ type: 'expire' }, { index: 5, timeMs: 1 });
    expect(() => t.apply({ type: 'expire' }, { index: 5, timeMs: 2 })).toThrow(InvariantError);
    expect(() => t.apply({ type: 'expire' }, { index: 6, timeMs: Number.NaN })).toThrow(InvariantError);
  });
});

describe('validation', () => {
  const bad: unknown[] = [
    null,
    42,
    'acquire',
    [],
    { type: 'nope' },
    { type: 'acquire', name: 'L', owner: 'a', mode: 'exclusive', ttlMs: 50, waitMs: 0 },
    { type: 'acquire', name: 'L', owner: 'a', mode: 'exclusive', ttlMs: 3_600_001, waitMs: 0 },
    { type: 'acquire', name: 'L', owner: 'a', mode: 'exclusive', waitMs: 0 },
    { type: 'acquire', name: 'L', owner: 'a', mode: 'exclusive', ttlMs: 1000, sessionId: 's', waitMs: 0 },
    { type: 'acquire', name: 'L', owner: 'a', mode: 'weird', ttlMs: 1000, waitMs: 0 },
    { type: 'acquire', name: 'L', owner: 'a', mode: 'exclusive', ttlMs: 1000, waitMs: 0, limit: 2 },
    { type: 'acquire', name: 'L', owner: 'a', mode: 'shared', ttlMs: 1000, waitMs: 0, limit: 0 },
    { type: 'acquire', name: 'L', owner: 'a', mode: 'shared', ttlMs: 1000, waitMs: -1 },
    { type: 'acquire', name: 'L', owner: 'a', mode: 'shared', ttlMs: 1000, waitMs: 1.5 },
    { type: 'acquire', name: '', owner: 'a', mode: 'shared', ttlMs: 1000, waitMs: 0 },
    { type: 'acquire', name: 'L', owner: 'a', mode: 'shared', ttlMs: 1000, waitMs: 0, lockDelayMs: 60_001 },
    { type: 'acquire', name: 'L', owner: 'a', mode: 'shared', ttlMs: 1000, waitMs: 0, requestId: 7 },
    { type: 'release', name: 'L', owner: 'a', token: 0 },
    { type: 'release', name: 'L', owner: 'a', token: '1' },
    { type: 'renew', name: 'L', owner: 'a', token: 1, ttlMs: 10 },
    { type: 'createSession', sessionId: 's', ttlMs: 999 },
    { type: 'createSession', sessionId: '', ttlMs: 5000 },
    { type: 'keepalive' },
    { type: 'cancelWait', name: 'L' },
    { type: 'extendLeases', byMs: -1 },
    { type: 'extendLeases', byMs: Number.POSITIVE_INFINITY },
  ];
  it.each(bad.map((c, i) => [i, c]))('answers bad_request and changes nothing (#%i)', (_i, cmd) => {
    const d = new Driver();
    d.apply(X('other', 'a'));
    const before = d.table.snapshot();
    const out = d.apply(cmd as LockCommand);
    expect(out.result).toMatchObject({ ok: false, error: 'bad_request' });
    expect(typeof (out.result as { message: string }).message).toBe('string');
    expect(out.events).toEqual([]);
    // Only the applied index moved.
    const t2 = LeaseTable.restore(before);
    t2.apply({ type: 'expire' }, { index: d.index + 100, timeMs: d.timeMs });
    expect(d.table.get('other')).toEqual(t2.get('other'));
  });

  it('accepts exactly the API contract by default (waits up to 300 s, names up to 256 characters)', () => {
    const d = new Driver();
    const name = 'n'.repeat(API_BOUNDS.nameLengthMax);
    expect(d.apply(X(name, 'a', { waitMs: API_BOUNDS.waitMsMax })).result).toMatchObject({ ok: true, name });
    expect(d.apply(X('L', 'a', { waitMs: API_BOUNDS.waitMsMax + 1 })).result).toMatchObject({ error: 'bad_request' });
    expect(d.apply(X(`${name}n`, 'a')).result).toMatchObject({ error: 'bad_request' });
    expect(d.apply(X('L', 'o'.repeat(API_BOUNDS.ownerLengthMax + 1))).result).toMatchObject({ error: 'bad_request' });
    expect(d.apply(S('L', 'a', { limit: API_BOUNDS.semaphoreLimitMax + 1 })).result).toMatchObject({ error: 'bad_request' });
    expect(d.apply(X('L', 'a', { requestId: 'r'.repeat(API_BOUNDS.requestIdLengthMax) })).result).toMatchObject({ ok: true });
  });
});

describe('shared locks and semaphores', () => {
  it('admits many shared holders and no exclusive one', () => {
    const d = new Driver();
    token(d.apply(S('L', 'a')));
    token(d.apply(S('L', 'b')));
    expect(d.apply(X('L', 'c')).result).toMatchObject({ error: 'lock_held' });
    expect(d.table.get('L')?.holders.map((h) => h.owner)).toEqual(['a', 'b']);
  });

  it('limits a semaphore to N holders and rejects a different limit', () => {
    const d = new Driver();
    for (const o of ['a', 'b']) token(d.apply(S('sem', o, { limit: 2 })));
    expect(d.apply(S('sem', 'c', { limit: 2 })).result).toMatchObject({ error: 'lock_held' });
    expect(d.apply(S('sem', 'c', { limit: 3 })).result).toEqual({ ok: false, error: 'limit_mismatch', name: 'sem', limit: 2 });
    expect(d.apply(S('sem', 'c')).result).toMatchObject({ error: 'limit_mismatch', limit: 2 });
    expect(d.table.get('sem')?.limit).toBe(2);
    // Once free, the next first holder sets a new limit.
    d.apply({ type: 'forceRelease', name: 'sem' });
    token(d.apply(S('sem', 'c', { limit: 5 })));
    expect(d.table.get('sem')?.limit).toBe(5);
  });

  it('grants consecutive shared heads together, and stops at an exclusive head', () => {
    const d = new Driver();
    const tx = token(d.apply(X('L', 'w')));
    d.apply(S('L', 'r1', { waitMs: 5_000 }));
    d.apply(S('L', 'r2', { waitMs: 5_000 }));
    d.apply(X('L', 'w2', { waitMs: 5_000 }));
    d.apply(S('L', 'r3', { waitMs: 5_000 }));
    const out = d.apply({ type: 'release', name: 'L', owner: 'w', token: tx });
    expect(out.events.map((e) => [e.kind, (e as { owner?: string }).owner])).toEqual([
      ['granted', 'r1'],
      ['granted', 'r2'],
    ]);
    expect(d.table.get('L')?.waiters).toBe(2);
    // r3 must not overtake w2 (FIFO), even though it is compatible with the holders.
    expect(d.apply(S('L', 'r4')).result).toMatchObject({ error: 'lock_held' });
  });
});

describe('reentrancy', () => {
  it('returns the same token, counts holds, refreshes the lease, and frees at zero', () => {
    const d = new Driver();
    const t = token(d.apply(X('L', 'a', { ttlMs: 1_000 })));
    d.timeMs += 500;
    const again = d.apply(X('L', 'a', { ttlMs: 2_000 }));
    expect(again.result).toMatchObject({ token: t, holdCount: 2, expiresAtMs: d.timeMs + 2_000 });
    expect(d.apply({ type: 'release', name: 'L', owner: 'a', token: t }).result).toMatchObject({ holdCount: 1 });
    expect(d.table.get('L')?.holders[0]?.holdCount).toBe(1);
    expect(d.apply({ type: 'release', name: 'L', owner: 'a', token: t }).result).toMatchObject({ holdCount: 0 });
    expect(d.table.get('L')).toBeNull();
  });

  it('is not reentrant across sessions or modes', () => {
    const d = new Driver();
    d.apply({ type: 'createSession', sessionId: 's1', ttlMs: 10_000 });
    token(d.apply(X('L', 'a', { ttlMs: undefined, sessionId: 's1' })));
    expect(d.apply(X('L', 'a')).result).toMatchObject({ error: 'lock_held' }); // TTL identity differs from session identity
    expect(d.apply(S('L', 'a', { ttlMs: undefined, sessionId: 's1' })).result).toMatchObject({ error: 'bad_request' });
    expect(d.apply(X('L', 'b', { ttlMs: undefined, sessionId: 's1' })).result).toMatchObject({ error: 'bad_request' });
  });

  it('does not re-enter a lease that already ran out (it waits for expire instead)', () => {
    const d = new Driver();
    const t = token(d.apply(X('L', 'a', { ttlMs: 1_000 })));
    d.timeMs += 1_000;
    expect(d.apply(X('L', 'a')).result).toMatchObject({ error: 'lock_held' });
    expect(d.apply({ type: 'renew', name: 'L', owner: 'a', token: t }).result).toMatchObject({ error: 'not_holder' });
    expect(d.table.checkToken('L', t)).toEqual({ valid: false, currentToken: t });
    const q = d.apply(X('L', 'a', { waitMs: 5_000 }));
    expect(q.result).toMatchObject({ queued: true });
    const e = d.apply({ type: 'expire' });
    expect(e.events).toMatchObject([{ kind: 'granted', owner: 'a', waiterId: String(d.index - 1) }]);
    expect((e.events[0] as { token: number }).token).toBeGreaterThan(t);
  });
});

describe('identity', () => {
  it('never gives one (owner, session) two holds of a shared lock, even while its old hold awaits expiry', () => {
    const d = new Driver();
    const t = token(d.apply(S('L', 'a', { ttlMs: 1_000 })));
    token(d.apply(S('L', 'b', { ttlMs: 5_000 })));
    d.timeMs += 1_000; // a's lease ran out; 'expire' has not removed it yet
    expect(d.apply(S('L', 'a')).result).toMatchObject({ error: 'lock_held' });
    expect(d.apply(S('L', 'a', { waitMs: 5_000 })).result).toMatchObject({ queued: true });
    expect(d.table.get('L')?.holders.map((h) => h.owner)).toEqual(['a', 'b']);
    const out = d.apply({ type: 'expire' });
    expect(out.events).toMatchObject([{ kind: 'granted', owner: 'a' }]);
    expect((out.events[0] as { token: number }).token).toBeGreaterThan(t);
    expect(d.table.get('L')?.holders.map((h) => h.owner)).toEqual(['b', 'a']);
  });
});

describe('expiry', () => {
  it('never expires before the TTL and reports the deadline', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply(X('L', 'a', { ttlMs: 1_000 }));
    expect(d.table.nextDeadlineMs()).toBe(t0 + 1_000);
    d.timeMs = t0 + 999;
    expect(d.apply({ type: 'expire' }).result).toMatchObject({ holdsExpired: 0 });
    expect(d.table.get('L')).not.toBeNull();
    d.timeMs = t0 + 1_000;
    expect(d.apply({ type: 'expire' }).result).toMatchObject({ holdsExpired: 1 });
    expect(d.table.get('L')).toBeNull();
    expect(d.table.nextDeadlineMs()).toBeNull();
    expect(d.table.stats()).toEqual({ locksHeld: 0, waiters: 0, sessions: 0, expiriesTotal: 1 });
  });

  it('renew moves the deadline, also backwards to a shorter ttl', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    const t = token(d.apply(X('L', 'a', { ttlMs: 5_000 })));
    d.timeMs += 100;
    expect(d.apply({ type: 'renew', name: 'L', owner: 'a', token: t, ttlMs: 1_000 }).result).toEqual({
      ok: true,
      name: 'L',
      token: t,
      expiresAtMs: t0 + 1_100,
    });
    expect(d.table.nextDeadlineMs()).toBe(t0 + 1_100);
    d.timeMs = t0 + 1_100;
    d.apply({ type: 'expire' });
    expect(d.table.get('L')).toBeNull();
  });

  it('times out waiters on expire, and never grants a waiter whose deadline passed', () => {
    const d = new Driver();
    const t = token(d.apply(X('L', 'a', { ttlMs: 10_000 })));
    d.apply(X('L', 'b', { waitMs: 1_000, requestId: 'rb' }));
    d.apply(X('L', 'c', { waitMs: 5_000, requestId: 'rc' }));
    d.timeMs += 1_000;
    // b's deadline passed but no expire yet: a release must skip b.
    const out = d.apply({ type: 'release', name: 'L', owner: 'a', token: t });
    expect(out.events).toEqual([
      { kind: 'waitEnded', waiterId: 'rb', name: 'L', reason: 'timeout' },
      expect.objectContaining({ kind: 'granted', waiterId: 'rc', owner: 'c' }),
    ]);
    // The dedupe entries follow the waiters' fate.
    expect(d.apply(X('L', 'b', { waitMs: 1_000, requestId: 'rb' })).result).toEqual({
      ok: false,
      error: 'wait_ended',
      name: 'L',
      reason: 'timeout',
    });
    expect(d.apply(X('L', 'c', { waitMs: 5_000, requestId: 'rc' })).result).toMatchObject({ ok: true, queued: false, owner: 'c' });
  });

  it('expire reports timeouts as events', () => {
    const d = new Driver();
    d.apply(X('L', 'a', { ttlMs: 10_000 }));
    d.apply(X('L', 'b', { waitMs: 1_000 }));
    expect(d.table.nextDeadlineMs()).toBe(d.timeMs + 1_000);
    const out = d.expireAfter(1_000);
    expect(out.events).toEqual([{ kind: 'waitEnded', waiterId: '2', name: 'L', reason: 'timeout' }]);
    expect(out.result).toEqual({ ok: true, holdsExpired: 0, sessionsExpired: 0, waitersTimedOut: 1 });
    expect(d.table.stats().waiters).toBe(0);
  });

  it('a dead queue head does not block a compatible newcomer', () => {
    const d = new Driver();
    token(d.apply(S('L', 'r0', { ttlMs: 10_000 })));
    d.apply(X('L', 'w', { waitMs: 500 })); // exclusive waiter blocks shared newcomers...
    expect(d.apply(S('L', 'r1')).result).toMatchObject({ error: 'lock_held' });
    d.timeMs += 500; // ...until its deadline passes, even before an 'expire' removes it
    const out = d.apply(S('L', 'r1'));
    expect(out.result).toMatchObject({ ok: true, queued: false, owner: 'r1' });
    expect(out.events).toEqual([{ kind: 'waitEnded', waiterId: '2', name: 'L', reason: 'timeout' }]);
  });

  it('cancelWait removes a waiter and wakes the next grantable one', () => {
    const d = new Driver();
    token(d.apply(S('L', 'r0', { ttlMs: 10_000 })));
    d.apply(X('L', 'w', { waitMs: 5_000, requestId: 'w1' }));
    d.apply(S('L', 'r1', { waitMs: 5_000, requestId: 'r1' }));
    const out = d.apply({ type: 'cancelWait', name: 'L', waiterId: 'w1' });
    expect(out.result).toEqual({ ok: true, cancelled: true });
    expect(out.events).toEqual([
      { kind: 'waitEnded', waiterId: 'w1', name: 'L', reason: 'cancelled' },
      expect.objectContaining({ kind: 'granted', waiterId: 'r1' }),
    ]);
    expect(d.apply({ type: 'cancelWait', name: 'L', waiterId: 'w1' }).result).toEqual({ ok: true, cancelled: false });
  });

  it('bounds the queue', () => {
    const d = Driver.withLimits({ waitersPerLockMax: 2 });
    d.apply(X('L', 'a'));
    d.apply(X('L', 'b', { waitMs: 100 }));
    d.apply(X('L', 'c', { waitMs: 100 }));
    expect(d.apply(X('L', 'd', { waitMs: 100 })).result).toEqual({ ok: false, error: 'too_many_waiters', name: 'L' });
  });

  it('refuses any other acquire by an identity that already waits: one waiter, one grant (issue 11, hole 5)', () => {
    const d = new Driver();
    d.apply(X('L', 'a'));
    d.apply(X('L', 'b', { waitMs: 1_000, requestId: 'b1' }));
    expect(d.apply(X('L', 'b', { waitMs: 1_000, requestId: 'b2' })).result).toEqual({ ok: false, error: 'already_waiting', name: 'L' });
    expect(d.apply(X('L', 'b')).result).toEqual({ ok: false, error: 'already_waiting', name: 'L' });
    expect(d.table.get('L')?.waiters).toBe(1);
    const out = d.apply({ type: 'release', name: 'L', owner: 'a', token: 1 });
    expect(out.events).toMatchObject([{ kind: 'granted', waiterId: 'b1', owner: 'b', holdCount: 1 }]);
    // Under a session the session is the identity, whoever the owner.
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 10_000 });
    d.apply(X('M', 'x'));
    expect(d.apply(S('M', 'o1', { ttlMs: undefined, sessionId: 's', waitMs: 1_000 })).result).toMatchObject({ queued: true });
    expect(d.apply(S('M', 'o2', { ttlMs: undefined, sessionId: 's', waitMs: 1_000 })).result).toMatchObject({ error: 'already_waiting' });
    expect(d.apply(S('M', 'o1', { waitMs: 1_000 })).result).toMatchObject({ queued: true }); // o1 without the session is another identity
  });
});

describe('lock-delay', () => {
  it('blocks everyone, even the queue head, until expiry + lockDelayMs after an EXPIRY', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply(X('L', 'a', { ttlMs: 1_000, lockDelayMs: 5_000 }));
    d.apply(X('L', 'b', { waitMs: 60_000 }));
    d.timeMs = t0 + 3_000; // expire runs late; the delay counts from the lease's end, not from now
    const e = d.apply({ type: 'expire' });
    expect(e.events).toEqual([]);
    expect(d.table.get('L')).toMatchObject({ holders: [], waiters: 1, lockDelayUntilMs: t0 + 6_000 });
    expect(d.table.nextDeadlineMs()).toBe(t0 + 6_000);
    expect(d.apply(X('L', 'c')).result).toMatchObject({ error: 'lock_held', holders: [], lockDelayUntilMs: t0 + 6_000 });
    d.timeMs = t0 + 5_999;
    expect(d.apply({ type: 'expire' }).events).toEqual([]);
    // Touching the lock 1 ms before the end must not end the delay either.
    expect(d.apply(X('L', 'c')).result).toMatchObject({ error: 'lock_held', lockDelayUntilMs: t0 + 6_000 });
    expect(d.table.get('L')?.holders).toEqual([]);
    d.timeMs = t0 + 6_000;
    expect(d.apply({ type: 'expire' }).events).toMatchObject([{ kind: 'granted', owner: 'b' }]);
  });

  it('does not apply on a clean release', () => {
    const d = new Driver();
    const t = token(d.apply(X('L', 'a', { lockDelayMs: 5_000 })));
    d.apply({ type: 'release', name: 'L', owner: 'a', token: t });
    token(d.apply(X('L', 'b')));
  });

  it('keeps the record alive during the delay even without waiters', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    const t = token(d.apply(X('L', 'a', { ttlMs: 1_000, lockDelayMs: 2_000 })));
    d.timeMs = t0 + 1_000;
    d.apply({ type: 'expire' });
    expect(d.table.get('L')).toMatchObject({ lockDelayUntilMs: t0 + 3_000, lastToken: t });
    d.reload();
    expect(d.table.nextDeadlineMs()).toBe(t0 + 3_000);
    d.timeMs = t0 + 3_000;
    d.apply({ type: 'expire' });
    expect(d.table.get('L')).toBeNull();
  });

  it('applies when a session holding the lock expires', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 2_000 });
    d.apply(X('L', 'a', { ttlMs: undefined, sessionId: 's', lockDelayMs: 1_000 }));
    d.timeMs = t0 + 2_000;
    d.apply({ type: 'expire' });
    expect(d.table.get('L')).toMatchObject({ lockDelayUntilMs: t0 + 3_000 });
  });
});

describe('sessions', () => {
  it('creates, keeps alive, and rejects unknown or dead sessions', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    expect(d.apply({ type: 'createSession', sessionId: 's', ttlMs: 5_000, owner: 'a' }).result).toEqual({
      ok: true,
      sessionId: 's',
      ttlMs: 5_000,
      expiresAtMs: t0 + 5_000,
    });
    expect(d.apply({ type: 'createSession', sessionId: 's', ttlMs: 5_000 }).result).toMatchObject({ error: 'bad_request' });
    d.timeMs = t0 + 4_000;
    expect(d.apply({ type: 'keepalive', sessionId: 's' }).result).toMatchObject({ expiresAtMs: t0 + 9_000 });
    expect(d.apply({ type: 'keepalive', sessionId: 'x' }).result).toEqual({ ok: false, error: 'session_not_found', sessionId: 'x' });
    expect(d.apply(X('L', 'b', { ttlMs: undefined, sessionId: 's' })).result).toMatchObject({ error: 'bad_request' }); // owner-bound
    d.timeMs = t0 + 9_000; // dead by time, not yet expired
    expect(d.apply({ type: 'keepalive', sessionId: 's' }).result).toMatchObject({ error: 'session_not_found' });
    expect(d.apply(X('L', 'a', { ttlMs: undefined, sessionId: 's' })).result).toMatchObject({ error: 'session_not_found' });
    expect(d.table.session('s')).toMatchObject({ sessionId: 's', owner: 'a' });
    d.apply({ type: 'expire' });
    expect(d.table.session('s')).toBeNull();
  });

  it('session expiry releases its locks (granting waiters) and drops its waiters', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply({ type: 'createSession', sessionId: 's1', ttlMs: 2_000 });
    d.apply({ type: 'createSession', sessionId: 's2', ttlMs: 60_000 });
    token(d.apply(X('A', 'a', { ttlMs: undefined, sessionId: 's1' })));
    token(d.apply(X('B', 'b', { ttlMs: 30_000 })));
    d.apply(X('B', 'a', { ttlMs: undefined, sessionId: 's1', waitMs: 50_000, requestId: 'aw' }));
    d.apply(X('A', 'c', { ttlMs: undefined, sessionId: 's2', waitMs: 50_000, requestId: 'cw' }));
    expect(d.table.session('s1')?.locks).toEqual(['A']);
    d.timeMs = t0 + 2_000;
    const out = d.apply({ type: 'expire' });
    expect(out.result).toEqual({ ok: true, holdsExpired: 1, sessionsExpired: 1, waitersTimedOut: 0 });
    expect(out.events).toEqual([
      { kind: 'waitEnded', waiterId: 'aw', name: 'B', reason: 'session_expired' },
      expect.objectContaining({ kind: 'granted', waiterId: 'cw', name: 'A', owner: 'c', sessionId: 's2', expiresAtMs: t0 + 60_000 }),
    ]);
    expect(d.table.session('s2')?.locks).toEqual(['A']);
  });

  it('never grants to a queued waiter whose session is dead but not yet expired (etcd #11456)', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 1_000 });
    const t = token(d.apply(X('L', 'a', { ttlMs: 10_000 })));
    d.apply(X('L', 'b', { ttlMs: undefined, sessionId: 's', waitMs: 30_000 }));
    d.timeMs = t0 + 1_000;
    const out = d.apply({ type: 'release', name: 'L', owner: 'a', token: t });
    expect(out.events).toEqual([{ kind: 'waitEnded', waiterId: '3', name: 'L', reason: 'session_expired' }]);
    expect(d.table.get('L')).toBeNull();
  });

  it('deleteSession releases cleanly (no lock-delay) and grants waiters', () => {
    const d = new Driver();
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 10_000 });
    d.apply(X('L', 'a', { ttlMs: undefined, sessionId: 's', lockDelayMs: 10_000 }));
    d.apply(X('L', 'b', { waitMs: 5_000 }));
    const out = d.apply({ type: 'deleteSession', sessionId: 's' });
    expect(out.result).toEqual({ ok: true, sessionId: 's', locksReleased: 1, waitersRemoved: 0 });
    expect(out.events).toMatchObject([{ kind: 'granted', owner: 'b' }]);
    expect(d.apply({ type: 'deleteSession', sessionId: 's' }).result).toMatchObject({ error: 'session_not_found' });
  });
});

describe('extendLeases', () => {
  it('adds byMs to leases, sessions and lock-delays, but not to waiter deadlines', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply(X('L', 'a', { ttlMs: 1_000 }));
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 1_000 });
    d.apply(X('L', 'b', { waitMs: 1_500 }));
    d.timeMs = t0 + 900; // a new leader took a while, but both deadlines are still ahead
    const out = d.apply({ type: 'extendLeases', byMs: 2_000 });
    expect(out.result).toEqual({ ok: true, holdsExpired: 0, sessionsExpired: 0, waitersTimedOut: 0 });
    expect(d.table.get('L')?.holders[0]?.expiresAtMs).toBe(t0 + 3_000);
    expect(d.table.session('s')?.expiresAtMs).toBe(t0 + 3_000);
    expect(d.table.nextDeadlineMs()).toBe(t0 + 1_500); // the waiter
    d.timeMs = t0 + 2_999;
    d.apply({ type: 'expire' });
    expect(d.table.get('L')?.holders).toHaveLength(1);
    d.timeMs = t0 + 3_000;
    const e = d.apply({ type: 'expire' });
    expect(e.result).toEqual({ ok: true, holdsExpired: 1, sessionsExpired: 1, waitersTimedOut: 0 });
    expect(d.table.get('L')).toBeNull();
  });

  it('does not revive a lease or a session already past its deadline: they expire (issue 11, hole 8)', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply(X('L', 'a', { ttlMs: 1_000 }));
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 1_000 });
    d.apply(X('M', 'o', { ttlMs: undefined, sessionId: 's' }));
    d.timeMs = t0 + 1_200; // past both deadlines, though deadline + byMs is still ahead
    const out = d.apply({ type: 'extendLeases', byMs: 2_000 });
    expect(out.result).toEqual({ ok: true, holdsExpired: 2, sessionsExpired: 1, waitersTimedOut: 0 });
    expect(d.table.get('L')).toBeNull();
    expect(d.table.get('M')).toBeNull();
    expect(d.table.session('s')).toBeNull();
  });

  it('also expires what is still due after the extension', () => {
    const d = new Driver();
    d.apply(X('L', 'a', { ttlMs: 1_000 }));
    d.timeMs += 5_000;
    expect(d.apply({ type: 'extendLeases', byMs: 1_000 }).result).toMatchObject({ holdsExpired: 1 });
  });
});

describe('exactly-once', () => {
  it('returns the first result again with no second effect', () => {
    const d = new Driver();
    const first = d.apply(X('L', 'a', { requestId: 'r1' }));
    const again = d.apply(X('L', 'a', { requestId: 'r1' }));
    expect(again.result).toBe(first.result);
    expect(d.table.get('L')?.holders[0]?.holdCount).toBe(1);
    const rel1 = d.apply({ type: 'release', name: 'L', owner: 'a', token: 1, requestId: 'r2' });
    d.apply(X('L', 'b'));
    expect(d.apply({ type: 'release', name: 'L', owner: 'a', token: 1, requestId: 'r2' }).result).toBe(rel1.result);
    expect(d.table.get('L')?.holders[0]?.owner).toBe('b');
    // The table survives a restart with its dedupe entries.
    d.reload();
    expect(d.apply(X('L', 'a', { requestId: 'r1' })).result).toEqual(first.result);
  });

  it('is capped by count: a new id is refused without effect, and no remembered id is forgotten (issue 11, hole 7)', () => {
    const d = Driver.withLimits({ dedupeEntriesMax: 3, dedupeTtlMs: 10_000 });
    const t0 = d.timeMs;
    const first = d.apply({ type: 'createSession', sessionId: 's0', ttlMs: 5_000, requestId: 'r0' });
    d.timeMs += 1_000;
    for (let i = 1; i < 5; i++) d.apply({ type: 'createSession', sessionId: `s${i}`, ttlMs: 5_000, requestId: `r${i}` });
    expect(d.table.dedupeSize).toBe(3);
    // r3 and r4 were refused and did nothing: no session, nothing remembered.
    const refused = d.apply({ type: 'createSession', sessionId: 's3', ttlMs: 5_000, requestId: 'r3' });
    expect(refused.result).toEqual({ ok: false, error: 'dedupe_full', retryAfterMs: t0 + 10_000 - d.timeMs });
    expect(d.table.session('s3')).toBeNull();
    expect(d.table.session('s4')).toBeNull();
    // r0, the oldest, is still remembered: its late retry gets the first result.
    expect(d.apply({ type: 'createSession', sessionId: 's0', ttlMs: 5_000, requestId: 'r0' }).result).toBe(first.result);
    // Once r0 expires there is room again.
    d.timeMs = t0 + 10_000;
    expect(d.apply({ type: 'createSession', sessionId: 's3', ttlMs: 5_000, requestId: 'r3' }).result).toMatchObject({ ok: true });
    expect(d.table.dedupeSize).toBe(3);
  });

  it('remembers an id longer than any client call can retry it', () => {
    expect(DEFAULT_LEASE_TABLE_LIMITS.dedupeTtlMs).toBe(DEDUPE_TTL_MS);
    // A call's attempts end within callTimeoutMsMax + waitMsMax of its start; table time may run fast by the rate bound.
    const clientMs = API_BOUNDS.callTimeoutMsMax + API_BOUNDS.waitMsMax;
    expect(retryHorizonMsMax()).toBeGreaterThan((clientMs * (1 + MAX_CLOCK_RATE_ERROR)) / (1 - MAX_CLOCK_RATE_ERROR));
    expect(retryHorizonMsMax()).toBeLessThanOrEqual(DEDUPE_TTL_MS);
  });

  it('expires entries by the table clock during apply', () => {
    const d = Driver.withLimits({ dedupeTtlMs: 10_000 });
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 1_000_000, requestId: 'r' });
    d.timeMs += 9_999;
    d.apply({ type: 'expire' });
    expect(d.table.dedupeSize).toBe(1);
    d.timeMs += 1;
    d.apply({ type: 'expire' });
    expect(d.table.dedupeSize).toBe(0);
  });
});

describe('queries', () => {
  it('checkToken is valid only for a held, live token', () => {
    const d = new Driver();
    const t1 = token(d.apply(S('L', 'a')));
    const t2 = token(d.apply(S('L', 'b')));
    expect(d.table.checkToken('L', t1)).toEqual({ valid: true, currentToken: t2 });
    expect(d.table.checkToken('L', 99)).toEqual({ valid: false, currentToken: t2 });
    expect(d.table.checkToken('M', 1)).toEqual({ valid: false, currentToken: null });
    d.apply({ type: 'release', name: 'L', owner: 'a', token: t1 });
    expect(d.table.checkToken('L', t1)).toEqual({ valid: false, currentToken: t2 });
  });

  it('list is sorted, filtered by prefix, paged by `after`, and bounded', () => {
    const d = new Driver();
    for (const n of ['b/2', 'a/1', 'b/1', 'b/3', 'c']) d.apply(X(n, 'o'));
    expect(d.table.list('b/', 10).map((v) => v.name)).toEqual(['b/1', 'b/2', 'b/3']);
    expect(d.table.list('b/', 2).map((v) => v.name)).toEqual(['b/1', 'b/2']);
    expect(d.table.list('b/', 2, 'b/2').map((v) => v.name)).toEqual(['b/3']);
    expect(d.table.list('', 100).map((v) => v.name)).toEqual(['a/1', 'b/1', 'b/2', 'b/3', 'c']);
    expect(d.table.list('', 0)).toEqual([]);
  });

  it('waiters lists a lock\'s queue in grant order, bounded, and drops who left it', () => {
    const d = new Driver();
    const t = token(d.apply(X('L', 'a')));
    d.apply(X('L', 'b', { waitMs: 5_000, requestId: 'rb' }));
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 60_000 });
    d.apply(X('L', 'c', { waitMs: 2_000, requestId: 'rc', ttlMs: undefined, sessionId: 's' }));
    const at = d.timeMs;
    expect(d.table.waiters('L', 10)).toEqual([
      { owner: 'b', mode: 'exclusive', deadlineMs: at + 5_000 },
      { owner: 'c', mode: 'exclusive', deadlineMs: at + 2_000, sessionId: 's' },
    ]);
    expect(d.table.waiters('L', 1).map((w) => w.owner)).toEqual(['b']);
    expect(d.table.waiters('nobody', 10)).toEqual([]);
    d.apply({ type: 'release', name: 'L', owner: 'a', token: t });
    expect(d.table.waiters('L', 10).map((w) => w.owner)).toEqual(['c']);
    d.expireAfter(2_001);
    expect(d.table.waiters('L', 10)).toEqual([]);
  });

  it('sessions lists sessions oldest first, bounded', () => {
    const d = new Driver();
    d.apply({ type: 'createSession', sessionId: 's1', ttlMs: 5_000, owner: 'o' });
    d.apply({ type: 'createSession', sessionId: 's2', ttlMs: 9_000 });
    d.apply(X('L', 'o', { ttlMs: undefined, sessionId: 's1' }));
    expect(d.table.sessions(10)).toEqual([
      { sessionId: 's1', ttlMs: 5_000, expiresAtMs: d.timeMs + 5_000, owner: 'o', locks: ['L'] },
      { sessionId: 's2', ttlMs: 9_000, expiresAtMs: d.timeMs + 9_000, locks: [] },
    ]);
    expect(d.table.sessions(1).map((v) => v.sessionId)).toEqual(['s1']);
    expect(d.table.sessions(0)).toEqual([]);
  });
});

describe('snapshots', () => {
  it('round-trips a busy table byte for byte', () => {
    const d = new Driver();
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 5_000, owner: 'o' });
    d.apply(S('L', 'a', { limit: 3, requestId: 'x' }));
    d.apply(S('L', 'o', { limit: 3, ttlMs: undefined, sessionId: 's' }));
    d.apply(X('L', 'w', { waitMs: 1_000 }));
    d.apply(X('M', 'z', { lockDelayMs: 100, ttlMs: 100 }));
    d.expireAfter(150);
    const bytes = d.table.snapshot();
    const t2 = LeaseTable.restore(bytes);
    expect(sameBytes(t2.snapshot(), bytes)).toBe(true);
    for (const n of ['L', 'M']) expect(t2.get(n)).toEqual(d.table.get(n));
    expect(t2.session('s')).toEqual(d.table.session('s'));
    expect(t2.stats()).toEqual(d.table.stats());
    expect(t2.nextDeadlineMs()).toBe(d.table.nextDeadlineMs());
    expect(t2.nowMs).toBe(d.table.nowMs);
    expect(t2.appliedIndex).toBe(d.table.appliedIndex);
  });

  it('writes v2 only when a waiting acquire has counted answers, and reads both byte for byte', () => {
    const formatOf = (bytes: Uint8Array): string => (Buffer.from(bytes).toString('latin1').match(/raftlock\.leases\.v\d/) ?? [''])[0];
    const d = new Driver();
    d.apply(X('L', 'a', { requestId: 'plain' }));
    expect(formatOf(d.table.snapshot())).toBe('raftlock.leases.v1');
    d.apply(X('L', 'w', { waitMs: 5_000, requestId: 'w1' }));
    d.apply(X('L', 'w', { waitMs: 5_000, requestId: 'w1' })); // a retry's long-poll waits too: 2 answers
    const bytes = d.table.snapshot();
    expect(formatOf(bytes)).toBe('raftlock.leases.v2');
    const t2 = LeaseTable.restore(bytes);
    expect(sameBytes(t2.snapshot(), bytes)).toBe(true);
    // The count came back: one cancel by a gone client leaves the waiter for the other attempt.
    const out = t2.apply({ type: 'cancelWait', name: 'L', waiterId: 'w1', owner: 'w' }, { index: d.table.appliedIndex + 1, timeMs: d.timeMs });
    expect(out.result).toEqual({ ok: true, cancelled: false });
    expect(t2.get('L')?.waiters).toBe(1);
  });

  it('restores a session lock list in grant order, not in lock-table order', () => {
    const d = new Driver();
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 10_000 });
    d.apply(S('a', 'x')); // record 'a' is created first
    d.apply(S('b', 'o', { ttlMs: undefined, sessionId: 's' }));
    d.apply(S('a', 'o', { ttlMs: undefined, sessionId: 's' })); // ...but the session got 'b' first
    expect(d.table.session('s')?.locks).toEqual(['b', 'a']);
    d.reload();
    expect(d.table.session('s')?.locks).toEqual(['b', 'a']);
  });

  it('rejects foreign bytes with a typed error', () => {
    expect(() => LeaseTable.restore(new Uint8Array([1, 2, 3]))).toThrow(SnapshotCorruptError);
    expect(() => LeaseTable.restore(new Uint8Array([0x93, 1, 2, 3]))).toThrow(SnapshotCorruptError);
    const good = new LeaseTable().snapshot();
    expect(() => LeaseTable.restore(good.subarray(0, good.length - 1))).toThrow(SnapshotCorruptError);
  });
});
