import { unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { InvariantError, LeaseTable, MAX_LIST_LIMIT, type LockCommand, type LockView } from '../../src/locks/index.js';
import { packr } from '../../src/locks/snapshot-codec.js';
import { Driver, sameBytes } from './helpers.js';

const acquire = (name: string, owner: string, extra: Partial<Extract<LockCommand, { type: 'acquire' }>> = {}): LockCommand => ({
  type: 'acquire',
  name,
  owner,
  mode: 'exclusive',
  ttlMs: 10_000,
  waitMs: 0,
  ...extra,
});

/** busyTable has sessions, shared and exclusive holds, waiters (one with two counted answers: v2), lock-delay and dedupe entries. */
function busyTable(locks: number): Driver {
  const d = new Driver();
  d.apply({ type: 'createSession', sessionId: 's1', ttlMs: 5_000, owner: 'o' });
  d.apply({ type: 'createSession', sessionId: 's2', ttlMs: 5_000, owner: 'p' });
  for (let i = 0; i < locks; i++) d.apply(acquire(`l/${i}`, `c${i % 7}`, i % 3 === 0 ? { requestId: `r${i}` } : {}));
  d.apply(acquire('S', 'a', { mode: 'shared', limit: 3 }));
  d.apply(acquire('S', 'o', { mode: 'shared', limit: 3, ttlMs: undefined, sessionId: 's1' }));
  d.apply(acquire('l/0', 'w', { waitMs: 5_000, requestId: 'w1' }));
  d.apply(acquire('l/0', 'w', { waitMs: 5_000, requestId: 'w1' }));
  d.apply(acquire('D', 'z', { lockDelayMs: 100, ttlMs: 100 }));
  d.expireAfter(150);
  return d;
}

/** electionTable holds election values (a v3 snapshot): a hold's value and a waiter's. */
function electionTable(): Driver {
  const d = new Driver();
  const r = d.apply(acquire('e', 'leader'));
  const token = r.result.ok && 'token' in r.result ? r.result.token : -1;
  d.apply({ type: 'proclaim', name: 'e', owner: 'leader', token, value: 'v1' });
  d.apply(acquire('e', 'next', { waitMs: 5_000, requestId: 'n1', value: 'v2' }));
  return d;
}

/** oneHolderLocks has `n` locks of one holder each and nothing else: 16 elements a lock in the locks array. */
function oneHolderLocks(n: number): Driver {
  const d = new Driver();
  for (let i = 0; i < n; i++) d.apply(acquire(`k/${i}`, 'o'));
  return d;
}

/** encodeInSlices runs an encoder of `table` to its end at `records` a step, calling `between` after each null step. */
function encodeInSlices(table: LeaseTable, records: number, between: () => void = () => {}): { bytes: Uint8Array; steps: number } {
  const encoder = table.snapshotEncoder();
  for (let steps = 1; steps <= 1_000_000; steps++) {
    const bytes = encoder.step(records);
    if (bytes !== null) return { bytes, steps };
    between();
  }
  throw new Error('the encoder did not finish in 1,000,000 steps');
}

/** everything a reader of `table` can see: every lock, the named sessions, the gauges, the clock and the next deadline. */
function viewOf(table: LeaseTable, sessionIds: readonly string[]): unknown {
  const locks: LockView[] = [];
  // Bounded: each page moves past at least one lock, and the table has table.size locks.
  for (let after: string | undefined; locks.length < table.size; ) {
    const page = table.list('', MAX_LIST_LIMIT, after);
    expect(page.length).toBeGreaterThan(0);
    locks.push(...page);
    after = page[page.length - 1]!.name;
  }
  return {
    locks,
    sessions: sessionIds.map((id) => table.session(id)),
    stats: table.stats(),
    next: table.nextDeadlineMs(),
    nowMs: table.nowMs,
    appliedIndex: table.appliedIndex,
  };
}

/** expectSameTable checks that `bytes` decode to the table `d` holds: same views, and the same answers to what comes next. */
function expectSameTable(d: Driver, bytes: Uint8Array, sessionIds: readonly string[], retries: readonly LockCommand[]): void {
  const restored = new Driver(LeaseTable.restore(bytes), d.timeMs);
  restored.index = d.index;
  expect(viewOf(restored.table, sessionIds)).toEqual(viewOf(d.table, sessionIds));
  // Written as msgpack would write the whole array at once, so any reader of msgpack reads it.
  expect(sameBytes(packr.pack(unpack(bytes)), bytes)).toBe(true);
  // The exactly-once table and the counts of answering attempts came along: retries get the same answers.
  const copy = new Driver(LeaseTable.restore(d.table.snapshot()), d.timeMs);
  copy.index = d.index;
  for (const cmd of retries) expect(restored.apply(cmd)).toEqual(copy.apply(cmd));
  expect(viewOf(restored.table, sessionIds)).toEqual(viewOf(copy.table, sessionIds));
}

const BUSY_RETRIES: LockCommand[] = [
  acquire('l/0', 'c0', { requestId: 'r0' }),
  { type: 'cancelWait', name: 'l/0', waiterId: 'w1', owner: 'w' },
  { type: 'cancelWait', name: 'l/0', waiterId: 'w1', owner: 'w' },
];

describe('SnapshotEncoder (a snapshot in slices)', () => {
  it('decodes to the same table whatever the slice size, v1, v2 and v3 alike', () => {
    const tables: [string, Driver, string[], LockCommand[]][] = [
      ['empty', busyTable(0), ['s1', 's2'], BUSY_RETRIES],
      ['busy', busyTable(300), ['s1', 's2'], BUSY_RETRIES],
      ['v1', oneHolderLocks(20), [], []],
      ['v3', electionTable(), [], [{ type: 'cancelWait', name: 'e', waiterId: 'n1', owner: 'next' }]],
    ];
    for (const [what, d, sessionIds, retries] of tables) {
      for (const records of [1, 2, 7, 1_000, Infinity]) {
        const { bytes } = encodeInSlices(d.table, records);
        expect(sameBytes(bytes, d.table.snapshot()), `${what} in slices of ${records}`).toBe(true);
        expectSameTable(d, bytes, sessionIds, retries);
      }
    }
  });

  it('writes each array header in its shortest form at the 16-bit limit (65,535 and 65,536 elements)', () => {
    // 4,096 one-holder locks make a locks array of exactly 65,536 elements; 4,095 one of 65,520.
    for (const n of [4_095, 4_096]) {
      const d = oneHolderLocks(n);
      const { bytes } = encodeInSlices(d.table, 1_000);
      expect((unpack(bytes) as unknown[][])[8]).toHaveLength(16 * n);
      expectSameTable(d, bytes, [], []);
    }
  });

  it('gives the same table whatever happens between slices (other snapshots, other encoders, reads)', () => {
    const d = busyTable(300);
    const other = busyTable(1_000);
    const whole = d.table.snapshot();
    const { bytes } = encodeInSlices(d.table, 3, () => {
      expect(sameBytes(d.table.snapshot(), whole)).toBe(true);
      encodeInSlices(other.table, Infinity);
      packr.pack({ noise: 'x'.repeat(10_000), list: Array.from({ length: 500 }, (_, i) => i) });
      d.table.list('l/', 10);
    });
    expect(sameBytes(bytes, whole)).toBe(true);
    expectSameTable(d, bytes, ['s1', 's2'], BUSY_RETRIES);
  });

  it('copies about 512 bytes of the finished snapshot per record of a step: never all at once, never a part at a time', () => {
    const d = busyTable(300);
    // Records: 2 sessions, the locks, the dedupe entries (every acquire with a requestId).
    const records = 2 + d.table.size + 100 + 1;
    const { bytes, steps } = encodeInSlices(d.table, 1);
    // One record a step, one step to lay out the parts, then the copy: each of its steps but the last copies at
    // least 512 bytes, and less than 512 bytes plus one part (one record, or the head: each under 512 bytes).
    const copySteps = steps - records - 1;
    expect(copySteps).toBeGreaterThanOrEqual(Math.ceil(bytes.length / 1_024));
    expect(copySteps).toBeLessThanOrEqual(Math.ceil(bytes.length / 512));
  });

  it('writes the bytes of snapshot() whatever the slice size, v1 and v2 alike', () => {
    for (const locks of [0, 5, 3_000]) {
      const d = busyTable(locks);
      const whole = d.table.snapshot();
      for (const records of [1, 7, 1_000, Infinity]) {
        const encoder = d.table.snapshotEncoder();
        let bytes: Uint8Array | null = null;
        let steps = 0;
        for (; bytes === null && steps < 100_000; steps++) bytes = encoder.step(records);
        expect(bytes).not.toBeNull();
        expect(sameBytes(bytes!, whole)).toBe(true);
        if (records === 1) expect(steps).toBeGreaterThan(locks);
      }
    }
  });

  it('copies the finished bytes into place in slices too, never all at once for a large table', () => {
    const d = busyTable(20_000);
    const whole = d.table.snapshot();
    const encoder = d.table.snapshotEncoder();
    let bytes: Uint8Array | null = null;
    let steps = 0;
    for (; bytes === null && steps < 10_000; steps++) bytes = encoder.step(100);
    // 20,000 locks in slices of 100 records, then the copy in slices of 100 * 512 bytes.
    expect(steps).toBeGreaterThan(200 + Math.floor(whole.length / (100 * 512)));
    expect(sameBytes(bytes!, whole)).toBe(true);
  });

  it('refuses to go on once the table changed under it (the snapshot would mix two states)', () => {
    const d = busyTable(50);
    const encoder = d.table.snapshotEncoder();
    expect(encoder.step(10)).toBeNull();
    d.apply(acquire('new', 'n'));
    expect(() => encoder.step(10)).toThrow(InvariantError);
    expect(() => encoder.step(10)).toThrow(/the table changed while its snapshot was being encoded/);
  });
});
