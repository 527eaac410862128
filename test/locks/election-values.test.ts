/**
 * The lease table's election values (holds.ts, proclaim): how they are
 * stored in snapshots (v3 only when some hold or waiter has one, so older
 * formats keep their bytes), that replicas applying the same log stay
 * byte-identical, and which lock names an apply reports as touched (what
 * watches wake on). The semantics themselves are scripted in
 * testdata/elections.txt.
 */
import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { API_BOUNDS } from '../../src/api/contract.js';
import { LeaseTable, SnapshotCorruptError, type LockCommand } from '../../src/locks/index.js';
import { Driver, X, sameBytes } from './helpers.js';

const campaign = (name: string, owner: string, value: string, extra: Partial<Extract<LockCommand, { type: 'acquire' }>> = {}): LockCommand =>
  X(name, owner, { value, ...extra });
const formatOf = (bytes: Uint8Array): string => (Buffer.from(bytes).toString('latin1').match(/raftlock\.leases\.v\d/) ?? [''])[0];

describe('election values in snapshots', () => {
  it('writes v3 only while a hold or a waiter has a value, and the older formats byte for byte otherwise', () => {
    const d = new Driver();
    d.apply({ type: 'acquire', name: 'plain', owner: 'a', mode: 'exclusive', ttlMs: 1_000, waitMs: 0 });
    expect(formatOf(d.table.snapshot())).toBe('raftlock.leases.v1');
    const t = (d.apply(campaign('e', 'c1', 'v1')).result as { token: number }).token;
    d.apply(campaign('e', 'c2', 'v2', { waitMs: 5_000, requestId: 'w2' }));
    const bytes = d.table.snapshot();
    expect(formatOf(bytes)).toBe('raftlock.leases.v3');
    const restored = LeaseTable.restore(bytes);
    expect(sameBytes(restored.snapshot(), bytes)).toBe(true);
    expect(restored.get('e')).toEqual(d.table.get('e'));
    // The waiter's value survived the snapshot: it is the value its grant carries.
    const out = restored.apply({ type: 'release', name: 'e', owner: 'c1', token: t }, { index: d.index + 1, timeMs: d.timeMs });
    expect(out.events).toMatchObject([{ kind: 'granted', owner: 'c2', value: 'v2' }]);
    // Once no value is left, the table writes v1 again.
    d.apply({ type: 'forceRelease', name: 'e' });
    expect(formatOf(d.table.snapshot())).toBe('raftlock.leases.v1');
  });

  it('refuses a snapshot whose value names an unknown lock, a shared hold or a waiter it lacks', () => {
    const d = new Driver();
    d.apply(campaign('e', 'c1', 'v'));
    d.apply({ type: 'acquire', name: 's', owner: 'o', mode: 'shared', ttlMs: 1_000, waitMs: 0 });
    const top = unpack(d.table.snapshot()) as unknown[];
    expect(top.at(-1)).toEqual(['e', null, 'v']);
    const withValues = (values: unknown[]): Uint8Array => pack([...top.slice(0, -1), values]);
    expect(LeaseTable.restore(withValues(['e', null, 'v'])).get('e')?.holders[0]?.value).toBe('v');
    for (const bad of [['f', null, 'v'], ['s', null, 'v'], ['e', 'no-such-waiter', 'v'], ['e', null, 'v', 'e', null, 'w'], ['e', null, 7]]) {
      expect(() => LeaseTable.restore(withValues(bad)), JSON.stringify(bad)).toThrow(SnapshotCorruptError);
    }
  });

  it('keeps replicas byte-identical through campaigns, proclaims, resignations and expiry', () => {
    const run = (): Uint8Array[] => {
      const d = new Driver();
      const out: Uint8Array[] = [];
      const t1 = (d.apply(campaign('e', 'c1', 'a')).result as { token: number }).token;
      d.apply(campaign('e', 'c2', 'b', { waitMs: 3_000, requestId: 'r2' }));
      d.apply(campaign('e', 'c3', 'c', { waitMs: 3_000, requestId: 'r3' }));
      d.apply({ type: 'proclaim', name: 'e', owner: 'c1', token: t1, value: 'a2' });
      out.push(d.table.snapshot());
      d.apply({ type: 'release', name: 'e', owner: 'c1', token: t1 });
      out.push(d.table.snapshot());
      d.expireAfter(1_500);
      out.push(d.table.snapshot());
      return out;
    };
    const a = run();
    const b = run();
    expect(a.map((x, i) => sameBytes(x, b[i]!))).toEqual([true, true, true]);
  });
});

describe('proclaim', () => {
  it('is fenced by the token and deduplicated by its requestId', () => {
    const d = new Driver();
    const t1 = (d.apply(campaign('e', 'c1', 'a')).result as { token: number }).token;
    d.apply({ type: 'release', name: 'e', owner: 'c1', token: t1 });
    const t2 = (d.apply(campaign('e', 'c2', 'b')).result as { token: number }).token;
    expect(t2).toBeGreaterThan(t1);
    expect(d.apply({ type: 'proclaim', name: 'e', owner: 'c1', token: t1, value: 'stale' }).result).toEqual({ ok: false, error: 'not_holder', name: 'e' });
    // A lock nobody holds or waits for has no hold to proclaim into.
    expect(d.apply({ type: 'proclaim', name: 'none', owner: 'c1', token: t1, value: 'v' }).result).toEqual({ ok: false, error: 'not_holder', name: 'none' });
    const first = d.apply({ type: 'proclaim', name: 'e', owner: 'c2', token: t2, value: 'b2', requestId: 'p' });
    expect(first.result).toEqual({ ok: true, name: 'e', token: t2, value: 'b2' });
    d.apply({ type: 'proclaim', name: 'e', owner: 'c2', token: t2, value: 'b3' });
    // A retry of the first proclaim gets its stored answer and does not set b2 again.
    expect(d.apply({ type: 'proclaim', name: 'e', owner: 'c2', token: t2, value: 'b2', requestId: 'p' }).result).toEqual(first.result);
    expect(d.table.get('e')?.holders[0]?.value).toBe('b3');
  });

  it('refuses a value longer than the contract allows', () => {
    const d = new Driver();
    const long = 'x'.repeat(API_BOUNDS.electionValueLengthMax + 1);
    expect(d.apply(campaign('e', 'c1', long)).result).toMatchObject({ ok: false, error: 'bad_request' });
    expect(d.apply(campaign('e', 'c1', long.slice(1))).result).toMatchObject({ ok: true });
  });
});

describe('touched names', () => {
  it('names every lock an entry may have changed, and none for an entry that changed nothing', () => {
    const d = new Driver();
    expect(d.apply(campaign('a', 'o', 'v')).touched).toEqual(['a']);
    expect(d.apply(campaign('b', 'o', 'v', { ttlMs: 5_000 })).touched).toEqual(['b']);
    expect(d.apply({ type: 'release', name: 'zzz', owner: 'o', token: 1 }).touched).toEqual([]);
    expect(d.apply({ type: 'proclaim', name: 'a', owner: 'o', token: 1, value: 'w' }).touched).toEqual(['a']);
    // Expiry of 'a' (1 s) but not 'b' (5 s).
    expect(d.expireAfter(2_000).touched).toEqual(['a']);
    expect(d.apply({ type: 'acquire', name: 'c', owner: 'o', mode: 'exclusive', waitMs: 0 }).touched).toEqual([]);
  });
});
