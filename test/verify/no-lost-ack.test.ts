import { describe, expect, it } from 'vitest';
import type { Operation, ReadOp } from '../../src/verify/history.js';
import { checkNoLostAck } from '../../src/verify/no-lost-ack.js';
import { acq, rd, rel, ren, withKey } from './ops.js';

const FINAL: [number, number] = [1000, 1010];
const final = (holders: readonly (readonly [string, number])[], lastToken: number, key = 'L'): ReadOp => rd(FINAL, holders, lastToken, { key });
const kinds = (h: readonly Operation[], reads: readonly ReadOp[], marginMs = 0): string[] =>
  checkNoLostAck(h, reads, { marginMs }).violations.map((v) => v.kind);

describe('checkNoLostAck', () => {
  it('a live grant shown by the final read passes', () => {
    const rep = checkNoLostAck([acq('a', 5000, [0, 10], 1)], [final([['a', 1]], 1)], { marginMs: 0 });
    expect(rep.valid).toBe(true);
    expect(rep.grantsRequired).toBe(1);
  });

  it('catches a live grant missing from the final read', () => {
    expect(kinds([acq('a', 5000, [0, 10], 1)], [final([], 1)])).toEqual(['lost_grant']);
    expect(kinds([acq('a', 5000, [0, 10], 1)], [final([['b', 2]], 2)])).toEqual(['lost_grant']);
  });

  it('excuses a grant whose lease may have expired by the final read', () => {
    const rep = checkNoLostAck([acq('a', 500, [0, 10], 1)], [final([], 1)], { marginMs: 0 });
    expect(rep.valid).toBe(true);
    expect(rep.grantsExcused).toBe(1);
    // At the boundary the margin decides: the lease may end at 0 + 1011 - margin; the read completes at 1010.
    expect(kinds([acq('a', 1011, [0, 10], 1)], [final([], 1)])).toEqual(['lost_grant']);
    expect(kinds([acq('a', 1011, [0, 10], 1)], [final([], 1)], 5)).toEqual([]);
  });

  it('a renew keeps the grant alive past its first lease', () => {
    const h = [acq('a', 500, [0, 10], 1), ren('a', 1, 5000, [400, 410], 'ok')];
    expect(kinds(h, [final([], 1)])).toEqual(['lost_grant']);
    expect(kinds(h, [final([['a', 1]], 1)])).toEqual([]);
  });

  it('an unknown renew with a shorter ttl may have shortened the lease', () => {
    const h = [acq('a', 5000, [0, 10], 1), ren('a', 1, 100, [400, null], 'unknown')];
    expect(kinds(h, [final([], 1)])).toEqual([]);
  });

  it('a reentrant acquire does not count as a definite lease restart', () => {
    const h = [acq('a', 500, [0, 10], 1), acq('a', 5000, [400, 410], 1)];
    expect(kinds(h, [final([], 1)])).toEqual([]);
  });

  it('excuses a grant that a release (even unknown) or a later grant may have ended', () => {
    expect(kinds([acq('a', 5000, [0, 10], 1), rel('a', 1, [20, null], 'unknown')], [final([], 1)])).toEqual([]);
    expect(kinds([acq('a', 5000, [0, 10], 1), rel('a', 1, [20, 30], 'not_holder')], [final([], 1)])).toEqual([]);
    expect(kinds([acq('a', 5000, [0, 10], 1), acq('b', 5000, [20, 30], 2)], [final([['b', 2]], 2)])).toEqual([]);
  });

  it('catches an acknowledged release still holding', () => {
    const h = [acq('a', 5000, [0, 10], 1), rel('a', 1, [20, 30], 'ok')];
    expect(kinds(h, [final([], 1)])).toEqual([]);
    expect(kinds(h, [final([['a', 1]], 1)])).toEqual(['released_still_held']);
  });

  it('catches lastToken rolled back below an acknowledged token', () => {
    const h = [acq('a', 10, [0, 10], 1), rel('a', 1, [20, 30], 'ok'), acq('b', 10, [40, 50], 2)];
    expect(kinds(h, [final([], 2)])).toEqual([]);
    expect(kinds(h, [final([], 1)])).toEqual(['last_token_regressed']);
  });

  it('ignores operations still running when the final read started', () => {
    const h = [acq('a', 5000, [995, 1005], 1)];
    expect(kinds(h, [final([], 0)])).toEqual([]);
  });

  it('a key with acknowledged operations but no final read is a violation', () => {
    const h = [...withKey('x', [acq('a', 5000, [0, 10], 1)]), ...withKey('y', [acq('a', 5000, [0, 10], 1)])];
    expect(kinds(h, [final([['a', 1]], 1, 'x')])).toEqual(['no_final_read']);
    // A key where nothing was acknowledged needs no read.
    expect(kinds([acq('a', 5000, [0, 10], 'held', { key: 'z' })], [])).toEqual([]);
  });

  it('rejects a final read that did not succeed', () => {
    expect(() => checkNoLostAck([], [rd(FINAL, 'fail')], { marginMs: 0 })).toThrow(/status ok/);
  });

  it('tolerates the final reads also being part of the history', () => {
    const fr = final([['a', 1]], 1);
    expect(checkNoLostAck([acq('a', 5000, [0, 10], 1), fr], [fr], { marginMs: 0 }).valid).toBe(true);
  });
});
