import { describe, expect, it } from 'vitest';
import { InvariantError, type LockCommand } from '../../src/locks/index.js';
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

describe('SnapshotEncoder (a snapshot in slices)', () => {
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
  });
});
