import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadlineHeap } from '../../src/locks/deadline-heap.js';

describe('DeadlineHeap', () => {
  it('pops in (deadline, seq) order whatever the push/pop interleaving', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ d: fc.integer({ min: 0, max: 5 }), push: fc.constant(true) }), fc.constant({ d: 0, push: false })), {
          maxLength: 300,
        }),
        (ops) => {
          const heap = new DeadlineHeap<string>();
          const model: { d: number; seq: number }[] = [];
          let seq = 0;
          for (const op of ops) {
            if (op.push) {
              // Seqs are pushed out of order too (a renew re-pushes an old seq).
              const s = (seq++ * 7919) % 1009;
              heap.push(op.d, s, 1 + (s % 5), `t${s}`);
              model.push({ d: op.d, seq: s });
            } else if (model.length > 0) {
              model.sort((a, b) => a.d - b.d || a.seq - b.seq);
              const want = model.shift()!;
              expect([heap.topDeadlineMs(), heap.topSeq(), heap.topTarget(), heap.topKind()]).toEqual([want.d, want.seq, `t${want.seq}`, 1 + (want.seq % 5)]);
              heap.pop();
            }
            expect(heap.size).toBe(model.length);
          }
          // heapify after unordered appends gives the same order.
          const h2 = new DeadlineHeap<string>();
          for (const m of model) h2.appendUnordered(m.d, m.seq, 1, `t${m.seq}`);
          h2.heapify();
          model.sort((a, b) => a.d - b.d || a.seq - b.seq);
          for (const m of model) {
            expect([h2.topDeadlineMs(), h2.topSeq()]).toEqual([m.d, m.seq]);
            h2.pop();
          }
          expect(h2.topDeadlineMs()).toBe(Infinity);
        },
      ),
      { numRuns: 200 },
    );
  });
});
