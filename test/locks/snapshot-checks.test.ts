/**
 * What restore refuses: a snapshot that is not one this table wrote (a torn
 * file, a foreign format, state no apply can reach) throws
 * SnapshotCorruptError, so the host rebuilds from its peers instead of
 * serving a table that differs from theirs. Each case below breaks one rule
 * of the layout in src/locks/snapshot-codec.ts in a snapshot that restores
 * fine before the change.
 */
import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { API_BOUNDS } from '../../src/api/contract.js';
import { InvariantError, LeaseTable, SnapshotCorruptError, type LockCommand } from '../../src/locks/index.js';
import { Driver, S, X, sameBytes } from './helpers.js';

// Fields of the top-level array, of one hold and of one waiter (snapshot-codec.ts).
const TOP = { format: 0, limits: 1, nowMs: 2, appliedIndex: 3, sessions: 7, locks: 8, dedupe: 9, answers: 10 } as const;
const LIMIT = { waitersPerLockMax: 7, holdersPerLockMax: 8, dedupeEntriesMax: 9 } as const;
const HOLD_FIELDS = 8;
const WAITER_FIELDS = 10;
const H = { token: 1, ttlMs: 3, holdCount: 4, sessionId: 5 } as const;
const W = { ttlMs: 4, sessionId: 5, deduped: 9 } as const;

/**
 * busy: lock L (shared, limit 3) held by a (own lease) and b (session s), with
 * waiters w (own lease, requestId w1, retried: 2 counted answers, so v2) and v
 * (session t); lock D in lock-delay only, with nobody holding or waiting.
 */
function busy(): Driver {
  const d = new Driver();
  d.apply({ type: 'createSession', sessionId: 's', ttlMs: 60_000 });
  d.apply({ type: 'createSession', sessionId: 't', ttlMs: 60_000 });
  d.apply(S('L', 'a', { limit: 3, ttlMs: 60_000, requestId: 'ra' }));
  d.apply(S('L', 'b', { limit: 3, ttlMs: undefined, sessionId: 's' }));
  d.apply(X('L', 'w', { waitMs: 30_000, ttlMs: 60_000, requestId: 'w1' }));
  d.apply(X('L', 'w', { waitMs: 30_000, ttlMs: 60_000, requestId: 'w1' }));
  d.apply(X('L', 'v', { waitMs: 30_000, ttlMs: undefined, sessionId: 't' }));
  d.apply(X('D', 'z', { ttlMs: 1_000, lockDelayMs: 50_000 }));
  d.expireAfter(1_000);
  return d;
}

type Top = unknown[];
const locksOf = (top: Top): unknown[] => top[TOP.locks] as unknown[];
/** lockAt is the index of lock `name`'s first field in the locks array (L comes first, then D). */
// L: 7 fields before its holds, 2 holds, its waiter count, 2 waiters; then D.
const lockAt = (_top: Top, name: 'L' | 'D'): number => (name === 'L' ? 0 : 7 + 2 * HOLD_FIELDS + 1 + 2 * WAITER_FIELDS);
const holdAt = (top: Top, i: number): number => lockAt(top, 'L') + 7 + i * HOLD_FIELDS;
const waiterAt = (top: Top, i: number): number => lockAt(top, 'L') + 7 + 2 * HOLD_FIELDS + 1 + i * WAITER_FIELDS;

describe('restore refuses a snapshot this table could not have written', () => {
  const d = busy();
  const good = d.table.snapshot();
  const base = unpack(good) as Top;

  it('reads the layout this test assumes, and restores it unchanged', () => {
    expect(base[TOP.format]).toBe('raftlock.leases.v2');
    expect(base).toHaveLength(11);
    const locks = locksOf(base);
    expect(locks.slice(0, 7)).toEqual(['L', 1, expect.any(Number), 3, 0, 0, 2]);
    expect(locks[holdAt(base, 0)]).toBe('a');
    expect(locks[holdAt(base, 1)]).toBe('b');
    expect(locks[holdAt(base, 1) + H.sessionId]).toBe('s');
    expect(locks[waiterAt(base, 0) - 1]).toBe(2);
    expect(locks.slice(waiterAt(base, 0), waiterAt(base, 0) + 2)).toEqual(['w1', 'w']);
    expect(locks[waiterAt(base, 1) + 1]).toBe('v');
    expect(locks[waiterAt(base, 1) + W.sessionId]).toBe('t');
    expect(locks.slice(lockAt(base, 'D'), lockAt(base, 'D') + 7)).toEqual(['D', 0, expect.any(Number), 0, expect.any(Number), expect.any(Number), 0]);
    expect(locks[lockAt(base, 'D') + 7]).toBe(0);
    expect(locks).toHaveLength(lockAt(base, 'D') + 8);
    expect(base[TOP.answers]).toEqual(['w1', 2]);
    // The unchanged array, packed again, restores to the same table.
    expect(sameBytes(LeaseTable.restore(pack(base)).snapshot(), good)).toBe(true);
  });

  const lock = (top: Top): unknown[] => locksOf(top);
  const limits = (top: Top): unknown[] => top[TOP.limits] as unknown[];
  const sessions = (top: Top): unknown[] => top[TOP.sessions] as unknown[];
  const dedupe = (top: Top): unknown[] => top[TOP.dedupe] as unknown[];
  const answers = (top: Top): unknown[] => top[TOP.answers] as unknown[];
  // [what is broken, the part of the error message that names the rule, how to break it]
  const cases: [string, string, (top: Top) => void][] = [
    ['an unknown format', 'unknown snapshot format', (t) => (t[TOP.format] = 'raftlock.leases.v9')],
    ['a format that is not a string', 'snapshot[0]: string expected', (t) => (t[TOP.format] = 3)],
    ['limits of the wrong length', 'bad limits', (t) => limits(t).pop()],
    ['limits with a value too many', 'bad limits', (t) => limits(t).push(1)],
    ['limits that are not an array', 'bad limits', (t) => (t[TOP.limits] = 5)],
    ['a negative limit', 'bad limits', (t) => (limits(t)[0] = -1)],
    ['a fractional limit', 'bad limits', (t) => (limits(t)[0] = 1.5)],
    ['a limit that is not a number', 'bad limits', (t) => (limits(t)[0] = '1')],
    ['limits the table refuses (ttlMsMin 0)', 'bad limits', (t) => (limits(t)[0] = 0)],
    ['a clock that is not a number', 'snapshot[2]: number expected', (t) => (t[TOP.nowMs] = 'now')],
    ['a clock that is not finite', 'snapshot[2]: number expected', (t) => (t[TOP.nowMs] = Infinity)],
    ['a negative applied index', 'snapshot[3]: non-negative integer expected', (t) => (t[TOP.appliedIndex] = -1)],
    ['a fractional applied index', 'snapshot[3]: non-negative integer expected', (t) => (t[TOP.appliedIndex] = 2.5)],
    ['a field after the last list', 'trailing fields', (t) => t.push([])],
    ['a missing last list', 'truncated', (t) => t.pop()],
    ['sessions that are not an array', 'sessions is not an array', (t) => (t[TOP.sessions] = 5)],
    ['locks that are not an array', 'locks is not an array', (t) => (t[TOP.locks] = 5)],
    ['a dedupe list that is not an array', 'dedupe is not an array', (t) => (t[TOP.dedupe] = 5)],
    ['answers that are not an array', 'answers is not an array', (t) => (t[TOP.answers] = 5)],
    ['a session twice', 'duplicate session', (t) => sessions(t).push(...sessions(t).slice(0, 5))],
    ['a session id that is not a string', 'sessions[0]: string expected', (t) => (sessions(t)[0] = 7)],
    ['a session owner that is neither a string nor null', 'sessions[1]: string or null expected', (t) => (sessions(t)[1] = 7)],
    ['a lock twice', 'duplicate lock', (t) => lock(t).push(...lock(t).slice(lockAt(t, 'D')))],
    ['a lock cut short', 'truncated', (t) => lock(t).pop()],
    ['a mode that is no mode', 'locks[1]: mode expected', (t) => (lock(t)[1] = 2)],
    ['more holders than holdersPerLockMax', 'too many holders', (t) => (limits(t)[LIMIT.holdersPerLockMax] = 1)],
    ['more waiters than waitersPerLockMax', 'too many waiters', (t) => (limits(t)[LIMIT.waitersPerLockMax] = 1)],
    ['an exclusive lock with two holders', 'exclusive lock with several holders', (t) => ((lock(t)[1] = 0), (lock(t)[3] = 0))],
    ['a lock without holders in shared mode', 'free lock with a mode or limit', (t) => (lock(t)[lockAt(t, 'D') + 1] = 1)],
    ['a lock without holders with a semaphore limit', 'free lock with a mode or limit', (t) => (lock(t)[lockAt(t, 'D') + 3] = 2)],
    ['a free lock (no holder, waiter or lock-delay)', 'free lock record', (t) => (lock(t)[lockAt(t, 'D') + 4] = 0)],
    ['a hold with token 0', 'bad hold', (t) => (lock(t)[holdAt(t, 0) + H.token] = 0)],
    ['a hold with a token above the lock\'s last token', 'bad hold', (t) => (lock(t)[holdAt(t, 0) + H.token] = (lock(t)[2] as number) + 1)],
    ['a hold with a hold count of 0', 'bad hold', (t) => (lock(t)[holdAt(t, 0) + H.holdCount] = 0)],
    ['a hold with neither a lease nor a session', 'hold needs exactly one of ttl and session', (t) => (lock(t)[holdAt(t, 0) + H.ttlMs] = 0)],
    ['a hold with both a lease and a session', 'hold needs exactly one of ttl and session', (t) => (lock(t)[holdAt(t, 1) + H.ttlMs] = 1_000)],
    ['a hold of an unknown session', 'unknown session', (t) => (lock(t)[holdAt(t, 1) + H.sessionId] = 'nope')],
    ['a session holding one lock twice', 'session holds a lock twice', (t) => ((lock(t)[holdAt(t, 0) + H.sessionId] = 's'), (lock(t)[holdAt(t, 0) + H.ttlMs] = 0))],
    ['a waiter with neither a lease nor a session', 'waiter needs exactly one of ttl and session', (t) => (lock(t)[waiterAt(t, 0) + W.ttlMs] = 0)],
    ['a waiter with both a lease and a session', 'waiter needs exactly one of ttl and session', (t) => (lock(t)[waiterAt(t, 1) + W.ttlMs] = 1_000)],
    ['a waiter of an unknown session', 'unknown session', (t) => (lock(t)[waiterAt(t, 1) + W.sessionId] = 'nope')],
    ['a waiter whose deduped flag is not a boolean', 'boolean expected', (t) => (lock(t)[waiterAt(t, 0) + W.deduped] = 1)],
    ['a stored result that is not an object', 'bad result', (t) => (dedupe(t)[2] = 5)],
    ['a stored result without ok', 'bad result', (t) => (dedupe(t)[2] = { name: 'L' })],
    ['a stored result that is null', 'bad result', (t) => (dedupe(t)[2] = null)],
    ['a request id twice', 'duplicate dedupe entry', (t) => dedupe(t).push(...dedupe(t).slice(0, 3))],
    ['more request ids than dedupeEntriesMax', 'dedupe table over its bound', (t) => (limits(t)[LIMIT.dedupeEntriesMax] = 1)],
    ['answers of an unknown request id', 'bad answers entry', (t) => (answers(t)[0] = 'nope')],
    ['answers of a refused request', 'bad answers entry', (t) => (dedupe(t)[dedupe(t).indexOf('w1') + 2] = { ok: false, error: 'lock_held', name: 'L', holders: [] })],
    ['a count of 0 answers', 'bad answers entry', (t) => (answers(t)[1] = 0)],
    ['answers of one request twice', 'bad answers entry', (t) => answers(t).push('w1', 1)],
  ];
  it('refuses a snapshot that passes the format checks but breaks a lock invariant (two holders under a limit of 1)', () => {
    const top = structuredClone(base);
    lock(top)[3] = 1;
    expect(() => LeaseTable.restore(pack(top))).toThrow(InvariantError);
    expect(() => LeaseTable.restore(pack(top))).toThrow('more holders than the limit');
  });

  it('refuses bytes that are not msgpack, and msgpack that is not an array', () => {
    expect(() => LeaseTable.restore(Uint8Array.of(0x92, 0x01))).toThrow('not msgpack');
    // The host tells corruption from a bug by these.
    expect(() => LeaseTable.restore(Uint8Array.of(0x92, 0x01))).toThrow(expect.objectContaining({ name: 'SnapshotCorruptError', code: 'snapshot_corrupt' }));
    expect(() => LeaseTable.restore(pack('raftlock.leases.v2'))).toThrow('snapshot is not an array');
  });

  for (const [what, rule, breakIt] of cases) {
    it(`refuses ${what}`, () => {
      const top = structuredClone(base);
      breakIt(top);
      const restore = (): LeaseTable => LeaseTable.restore(pack(top));
      expect(restore).toThrow(SnapshotCorruptError);
      expect(restore).toThrow(rule);
    });
  }
});

describe('a restored table is the same table', () => {
  /** expectTwins applies each command to the table and to its restored copy, at the same index and time: the outcomes must agree. */
  function expectTwins(d: Driver, commands: LockCommand[], stepMs: number): void {
    const copy = LeaseTable.restore(d.table.snapshot());
    for (const cmd of commands) {
      d.timeMs += stepMs;
      const index = d.index + 1;
      const fromCopy = copy.apply(cmd, { index, timeMs: d.timeMs });
      expect(d.apply(cmd), JSON.stringify(cmd)).toEqual(fromCopy);
      expect(sameBytes(copy.snapshot(), d.table.snapshot())).toBe(true);
    }
  }

  it('ends a session\'s waiters in the order they queued, not in lock-table order', () => {
    const d = new Driver();
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 60_000 });
    d.apply(X('A', 'x', { ttlMs: 60_000 })); // record A comes first in the table...
    d.apply(X('B', 'y', { ttlMs: 60_000 }));
    d.apply(X('B', 'o', { ttlMs: undefined, sessionId: 's', waitMs: 30_000 })); // ...but the session waits for B first
    d.apply(X('A', 'o', { ttlMs: undefined, sessionId: 's', waitMs: 30_000 }));
    const copy = LeaseTable.restore(d.table.snapshot());
    const end: LockCommand = { type: 'deleteSession', sessionId: 's' };
    const fromCopy = copy.apply(end, { index: d.index + 1, timeMs: d.timeMs });
    expect(fromCopy.touched).toEqual(['B', 'A']);
    expect(d.apply(end)).toEqual(fromCopy);
  });

  it('answers the commands that follow a restore exactly as the original does', () => {
    const d = busy();
    const release = (name: string, owner: string): LockCommand => {
      const token = d.table.get(name)!.holders.find((h) => h.owner === owner)!.token;
      return { type: 'release', name, owner, token };
    };
    expectTwins(
      d,
      [
        X('L', 'w', { waitMs: 30_000, ttlMs: 60_000, requestId: 'w1' }), // a retry: its stored answer
        { type: 'cancelWait', name: 'L', waiterId: 'w1', owner: 'w' }, // one of two attempts gone: stays queued
        release('L', 'a'),
        { type: 'deleteSession', sessionId: 's' }, // b's hold goes: w is granted, v waits on
        { type: 'keepalive', sessionId: 't' },
        { type: 'expire' },
      ],
      10,
    );
    expectTwins(d, [{ type: 'expire' }, { type: 'expire' }, X('D', 'n')], 30_000);
  });
});

describe('restore takes a table at its bounds', () => {
  it('restores exactly holdersPerLockMax holders, waitersPerLockMax waiters, dedupeEntriesMax ids and the longest value', () => {
    const d = Driver.withLimits({ holdersPerLockMax: 2, waitersPerLockMax: 1, dedupeEntriesMax: 2 });
    d.apply(S('L', 'a', { requestId: 'r1' }));
    d.apply(S('L', 'b', { requestId: 'r2' }));
    d.apply(X('L', 'w', { waitMs: 5_000 }));
    const longest = 'v'.repeat(API_BOUNDS.electionValueLengthMax);
    d.apply(X('E', 'c', { value: longest }));
    const bytes = d.table.snapshot();
    const restored = LeaseTable.restore(bytes);
    expect(sameBytes(restored.snapshot(), bytes)).toBe(true);
    expect(restored.get('L')).toMatchObject({ holders: [{ owner: 'a' }, { owner: 'b' }], waiters: 1 });
    expect(restored.dedupeSize).toBe(2);
    expect(restored.get('E')?.holders[0]?.value).toBe(longest);
    // One character more is no value this table could have stored.
    const top = unpack(bytes) as unknown[];
    expect(top.at(-1)).toEqual(['E', null, longest]);
    top[top.length - 1] = ['E', null, `${longest}v`];
    expect(() => LeaseTable.restore(pack(top))).toThrow(SnapshotCorruptError);
  });
});

describe('restore refuses election values this table could not have written', () => {
  // E: held by c1 (value a); waiters q2 (exclusive, value b), q3 (exclusive, no value), q4 (shared). D: lock-delay only.
  const d = new Driver();
  d.apply(X('E', 'c1', { value: 'a', ttlMs: 60_000 }));
  d.apply(X('E', 'c2', { value: 'b', waitMs: 30_000, ttlMs: 60_000, requestId: 'q2' }));
  d.apply(X('E', 'c3', { waitMs: 30_000, ttlMs: 60_000, requestId: 'q3' }));
  d.apply(S('E', 'c4', { waitMs: 30_000, ttlMs: 60_000, requestId: 'q4' }));
  d.apply(X('D', 'z', { ttlMs: 1_000, lockDelayMs: 50_000 }));
  d.expireAfter(1_000);
  const base = unpack(d.table.snapshot()) as unknown[];
  const withValues = (values: unknown): Uint8Array => pack([...base.slice(0, -1), values]);

  it('puts each value back on the hold or waiter it names', () => {
    expect(base[0]).toBe('raftlock.leases.v3');
    expect(base.at(-1)).toEqual(['E', null, 'a', 'E', 'q2', 'b']);
    const moved = ['E', null, 'a', 'E', 'q3', 'c'];
    expect((unpack(LeaseTable.restore(withValues(moved)).snapshot()) as unknown[]).at(-1)).toEqual(moved);
  });

  const cases: [string, string, unknown][] = [
    ['values that are not an array', 'values is not an array', 5],
    ['a value of an unknown lock', 'value of an unknown lock', ['X', null, 'v']],
    ['a value longer than the contract allows', 'value of an unknown lock', ['E', null, 'v'.repeat(API_BOUNDS.electionValueLengthMax + 1)]],
    ['a value of a lock nobody holds', 'bad hold value', ['D', null, 'v']],
    ['two values of one hold', 'bad hold value', ['E', null, 'a', 'E', null, 'b']],
    ['a value of a waiter the queue lacks', 'bad waiter value', ['E', 'nope', 'v']],
    ['a value of a shared waiter', 'bad waiter value', ['E', 'q4', 'v']],
    ['two values of one waiter', 'bad waiter value', ['E', 'q2', 'b', 'E', 'q2', 'c']],
  ];
  for (const [what, rule, values] of cases) {
    it(`refuses ${what}`, () => {
      const restore = (): LeaseTable => LeaseTable.restore(withValues(values));
      expect(restore).toThrow(SnapshotCorruptError);
      expect(restore).toThrow(rule);
    });
  }
});
