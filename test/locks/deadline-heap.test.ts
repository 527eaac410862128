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

  it('keeps (deadline, seq) order past its initial capacity, pushed or heapified', () => {
    // 100 entries: several times the 16 slots a new heap starts with. Pushed in
    // reverse order, so every push has to sift to the top.
    const pushed = new DeadlineHeap<number>();
    const appended = new DeadlineHeap<number>();
    for (let i = 99; i >= 0; i--) {
      pushed.push(1_000 + Math.floor(i / 2), i, 1 + (i % 5), i);
      appended.appendUnordered(1_000 + Math.floor(i / 2), i, 1 + (i % 5), i);
    }
    appended.heapify();
    for (const heap of [pushed, appended]) {
      expect(heap.size).toBe(100);
      const popped: [number, number, number, number][] = [];
      for (let n = 0; n < 100; n++) {
        popped.push([heap.topDeadlineMs(), heap.topSeq(), heap.topKind(), heap.topTarget()]);
        heap.pop();
      }
      expect(popped).toEqual(Array.from({ length: 100 }, (_, i) => [1_000 + Math.floor(i / 2), i, 1 + (i % 5), i]));
      expect(heap.size).toBe(0);
    }
  });

  it('pop on an empty heap changes nothing: the heap stays empty and usable', () => {
    const heap = new DeadlineHeap<string>();
    heap.pop();
    heap.push(5, 1, 1, 'a');
    heap.pop();
    heap.pop();
    expect(heap.size).toBe(0);
    expect(heap.topDeadlineMs()).toBe(Infinity);
    heap.push(7, 2, 2, 'b');
    expect([heap.size, heap.topDeadlineMs(), heap.topSeq(), heap.topTarget()]).toEqual([1, 7, 2, 'b']);
  });

  it('clear drops every entry: what is pushed afterwards is all there is', () => {
    const heap = new DeadlineHeap<string>();
    for (let i = 0; i < 40; i++) heap.push(100 + i, i, 1, `old${i}`);
    heap.clear();
    expect(heap.size).toBe(0);
    expect(heap.topDeadlineMs()).toBe(Infinity);
    heap.push(500, 1, 3, 'new');
    expect([heap.size, heap.topDeadlineMs(), heap.topTarget()]).toEqual([1, 500, 'new']);
    heap.pop();
    expect(heap.size).toBe(0);
  });
});
