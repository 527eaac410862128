import { describe, expect, it } from 'vitest';
import { checkCounter, checkFencing, type ResourceWrite } from '../../src/verify/fencing-checker.js';
import { acq, rel, withKey } from './ops.js';

const write = (token: number, atMs: number, accepted = true, key = 'L'): ResourceWrite => ({ key, token, atMs, accepted });

describe('checkFencing', () => {
  const good = [
    acq('a', 1000, [0, 10], 1),
    acq('a', 1000, [12, 14], 1), // reentrant
    rel('a', 1, [20, 30], 'ok'),
    acq('b', 1000, [40, 50], 3),
    acq('c', 1000, [45, 60], 'held'),
  ];

  it('passes increasing grants and a resource that never went back', () => {
    const rep = checkFencing(good, [write(1, 11), write(1, 15), write(3, 55), write(1, 56, false), write(3, 57)]);
    expect(rep.violations).toEqual([]);
    expect(rep.valid).toBe(true);
    expect(rep.grantsChecked).toBe(3);
    expect(rep.writesChecked).toBe(5);
  });

  it('catches one token granted to two owners', () => {
    const rep = checkFencing([acq('a', 1000, [0, 10], 1), acq('b', 1000, [5, 15], 1)], []);
    expect(rep.violations.map((v) => v.kind)).toEqual(['duplicate_token']);
  });

  it('catches a token granted again to the same owner after its release', () => {
    const rep = checkFencing([acq('a', 1000, [0, 10], 1), rel('a', 1, [20, 30], 'ok'), acq('a', 1000, [40, 50], 1)], []);
    expect(rep.violations.map((v) => v.kind)).toContain('token_reused_after_release');
  });

  it('catches a token going backwards in real time', () => {
    const rep = checkFencing([acq('a', 1000, [0, 10], 5), rel('a', 5, [20, 30], 'ok'), acq('b', 1000, [40, 50], 3)], []);
    expect(rep.violations.map((v) => v.kind)).toEqual(['token_went_backwards']);
    expect(rep.violations[0]?.opIds).toHaveLength(2);
  });

  it('does not order concurrent grants', () => {
    // b's grant overlaps a's, so b may have been granted first.
    expect(checkFencing([acq('a', 1000, [0, 10], 5), acq('b', 1000, [5, 50], 3)], []).violations).toEqual([]);
  });

  it('catches a resource accepting a stale token after a newer one', () => {
    const rep = checkFencing(good, [write(3, 55), write(1, 56)]);
    expect(rep.violations.map((v) => v.kind)).toEqual(['stale_token_accepted']);
    expect(rep.violations[0]?.writeIndices).toEqual([0, 1]);
  });

  it('checks each key of the resource separately', () => {
    const h = [...withKey('x', [acq('a', 1000, [0, 10], 3)]), ...withKey('y', [acq('a', 1000, [0, 10], 1)])];
    expect(checkFencing(h, [write(3, 20, true, 'x'), write(1, 21, true, 'y')]).valid).toBe(true);
  });

  it('catches an accepted token nobody was granted, unless told writers may hold unknown grants', () => {
    expect(checkFencing(good, [write(2, 55)]).violations.map((v) => v.kind)).toEqual(['accepted_ungranted_token']);
    expect(checkFencing(good, [write(2, 55)], { requireGrantedTokens: false }).valid).toBe(true);
  });

  it('caps the number of reported violations', () => {
    const writes = Array.from({ length: 50 }, (_, i) => write(50 - i, i));
    expect(checkFencing(good, writes, { maxViolations: 3 }).violations).toHaveLength(3);
  });
});

describe('checkCounter', () => {
  it('final == acknowledged increments passes', () => {
    expect(checkCounter({ acknowledged: 10, indeterminate: 0, finalValue: 10 })).toMatchObject({ valid: true });
  });

  it('a lost increment is caught', () => {
    expect(checkCounter({ acknowledged: 10, indeterminate: 0, finalValue: 9 })).toMatchObject({ valid: false, violation: 'lost_increment' });
  });

  it('a phantom increment is caught', () => {
    expect(checkCounter({ acknowledged: 10, indeterminate: 0, finalValue: 11 })).toMatchObject({
      valid: false,
      violation: 'phantom_increment',
    });
  });

  it('indeterminate increments may or may not count', () => {
    for (const finalValue of [10, 11, 12]) {
      expect(checkCounter({ acknowledged: 10, indeterminate: 2, finalValue }).valid).toBe(true);
    }
    expect(checkCounter({ acknowledged: 10, indeterminate: 2, finalValue: 13 }).valid).toBe(false);
    expect(checkCounter({ acknowledged: 10, indeterminate: 2, finalValue: 5, initialValue: 0 }).valid).toBe(false);
    expect(checkCounter({ acknowledged: 1, indeterminate: 0, finalValue: 6, initialValue: 5 }).valid).toBe(true);
  });

  it('rejects nonsense input', () => {
    expect(() => checkCounter({ acknowledged: -1, indeterminate: 0, finalValue: 0 })).toThrow(/non-negative/);
  });
});
