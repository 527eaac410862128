/**
 * The generic Wing & Gong / Porcupine search, tested with a plain register so the
 * search itself is checked independently of the lock model.
 */
import { describe, expect, it } from 'vitest';
import type { OpStatus } from '../../src/verify/history.js';
import { checkLinearizability, checkPartition, formatLinearizabilityReport } from '../../src/verify/linearizability.js';
import type { ModelFactory, TimedOp } from '../../src/verify/model.js';

interface RegOp extends TimedOp {
  readonly f: 'write' | 'read';
  readonly value: number;
}

let nextId = 1;
function op(f: 'write' | 'read', value: number, invokeMs: number, completeMs: number | null, key = 'r'): RegOp {
  const status: OpStatus = completeMs === null ? 'unknown' : 'ok';
  return { id: nextId++, key, f, value, status, invokeMs, completeMs };
}
const w = (v: number, a: number, b: number | null, key?: string): RegOp => op('write', v, a, b, key);
const r = (v: number, a: number, b: number, key?: string): RegOp => op('read', v, a, b, key);

const register: ModelFactory<number, RegOp> = () => ({
  init: () => [0],
  step: (s, o) => {
    if (o.f === 'write') return o.status === 'unknown' ? [s, o.value] : [o.value];
    return s === o.value ? [s] : [];
  },
  key: (s) => String(s),
});

describe('checkLinearizability (register model)', () => {
  it('accepts a sequential history', () => {
    expect(checkLinearizability([w(1, 0, 1), r(1, 2, 3), w(2, 4, 5), r(2, 6, 7)], register).result).toBe('ok');
  });

  it('accepts reads that overlap a write seeing either value', () => {
    expect(checkLinearizability([w(1, 0, 10), r(0, 1, 2), r(1, 3, 4)], register).result).toBe('ok');
  });

  it('rejects a read of an overwritten value', () => {
    expect(checkLinearizability([w(1, 0, 1), r(0, 2, 3)], register).result).toBe('illegal');
  });

  it('rejects new-then-old reads during one write', () => {
    expect(checkLinearizability([w(1, 0, 10), r(1, 1, 2), r(0, 3, 4)], register).result).toBe('illegal');
  });

  it('treats touching intervals as concurrent', () => {
    expect(checkLinearizability([w(1, 0, 5), r(0, 5, 6)], register).result).toBe('ok');
  });

  it('lets an unknown write take effect late, or never', () => {
    expect(checkLinearizability([w(1, 0, null), r(0, 5, 6), r(1, 100, 101)], register).result).toBe('ok');
    expect(checkLinearizability([w(1, 0, null), r(0, 5, 6), r(0, 100, 101)], register).result).toBe('ok');
    // Once seen, it cannot be undone by itself.
    expect(checkLinearizability([w(1, 0, null), r(1, 5, 6), r(0, 100, 101)], register).result).toBe('illegal');
  });

  it('never lets an unknown write take effect before it was invoked', () => {
    expect(checkLinearizability([r(1, 0, 1), w(1, 5, null)], register).result).toBe('illegal');
  });

  it('reports each key separately and fails the whole if one key fails', () => {
    const rep = checkLinearizability([w(1, 0, 1, 'a'), r(1, 2, 3, 'a'), w(1, 0, 1, 'b'), r(0, 2, 3, 'b')], register);
    expect(rep.valid).toBe(false);
    expect(rep.result).toBe('illegal');
    expect(rep.keys.map((k) => [k.key, k.result])).toEqual([
      ['a', 'ok'],
      ['b', 'illegal'],
    ]);
  });

  it('explains a violation: longest prefix and the op that could not follow it', () => {
    const a = w(1, 0, 1);
    const b = r(1, 2, 3);
    const bad = r(7, 4, 5);
    const v = checkPartition('r', [a, b, bad], register);
    expect(v.result).toBe('illegal');
    expect(v.explanation?.linearizedPrefix.map((o) => o.id)).toEqual([a.id, b.id]);
    expect(v.explanation?.stuckOp.id).toBe(bad.id);
    expect(v.explanation?.statesAfterPrefix).toEqual(['1']);
    const text = formatLinearizabilityReport(checkLinearizability([a, b, bad], register), (o) => `${o.f}(${o.value})#${o.id}`);
    expect(text).toContain('linearizability: illegal');
    expect(text).toContain(`cannot linearize: read(7)#${bad.id}`);
    expect(text).toContain('possible state:   1');
  });

  it('memoization keeps many concurrent writes cheap', () => {
    // 14 concurrent writes then a read of one of them: 14! orders, few distinct configurations matter.
    const ops = [...Array.from({ length: 14 }, (_, i) => w(i + 1, 0, 100)), r(7, 200, 201)];
    const v = checkPartition('r', ops, register);
    expect(v.result).toBe('ok');
    expect(v.steps).toBeLessThan(5_000);
  });

  describe('budgets: running out is never a pass', () => {
    // 16 unknown writes and a read of a value nobody wrote: every subset is explored.
    const pathological = (): RegOp[] => [...Array.from({ length: 16 }, (_, i) => w(i + 1, 0, null)), r(99, 10, 11)];

    it('a step budget yields unknown', () => {
      const rep = checkLinearizability(pathological(), register, { maxSteps: 200 });
      expect(rep.valid).toBe(false);
      expect(rep.result).toBe('unknown');
      expect(rep.keys[0]?.budgetExhausted).toBe('steps');
    });

    it('a time budget yields unknown', () => {
      let now = 0;
      const clock = (): number => (now += 100);
      const rep = checkLinearizability(pathological(), register, { maxMs: 50, clock });
      expect(rep.result).toBe('unknown');
      expect(rep.keys[0]?.budgetExhausted).toBe('time');
    });

    it('a state-set budget yields unknown', () => {
      const rep = checkLinearizability([w(1, 0, null), w(2, 0, null), r(1, 5, 6)], register, { maxStateSetSize: 1 });
      expect(rep.result).toBe('unknown');
      expect(rep.keys[0]?.budgetExhausted).toBe('state_set');
    });

    it('with enough budget the same history is illegal, not unknown', () => {
      const ops = [...Array.from({ length: 8 }, (_, i) => w(i + 1, 0, null)), r(99, 10, 11)];
      expect(checkLinearizability(ops, register).result).toBe('illegal');
    });

    it('an illegal key beats an unknown one in the overall result', () => {
      const ops = [...pathological(), w(1, 0, 1, 'b'), r(0, 2, 3, 'b')];
      const rep = checkLinearizability(ops, register, { maxSteps: 200 });
      expect(rep.result).toBe('illegal');
    });
  });
});
