/**
 * EventQueue is the simulation's only source of "what happens next": a binary
 * min-heap ordered by (timeMs, seq). The sequence number breaks ties in
 * insertion order, so two runs with the same seed pop events in the same order
 * (a plain heap on time alone is not stable and would break replay).
 */
export class EventQueue<T> {
  private readonly heap: { timeMs: number; seq: number; item: T }[] = [];
  private nextSeq = 0;

  constructor(private readonly maxSize: number) {}

  get size(): number {
    return this.heap.length;
  }

  /** push schedules `item` at integer virtual time `timeMs`. */
  push(timeMs: number, item: T): void {
    if (!Number.isSafeInteger(timeMs) || timeMs < 0) throw new Error(`event time must be a non-negative integer, got ${timeMs}`);
    // Every queue has a bound: a runaway producer (e.g. a message storm) must fail loudly, not eat the heap.
    if (this.heap.length >= this.maxSize) throw new Error(`event queue overflow (${this.maxSize} events pending)`);
    const node = { timeMs, seq: this.nextSeq++, item };
    const heap = this.heap;
    heap.push(node);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.timeMs < node.timeMs || (p.timeMs === node.timeMs && p.seq < node.seq)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = node;
  }

  /** peekTime is the time of the earliest event, or null when empty. */
  peekTime(): number | null {
    return this.heap[0]?.timeMs ?? null;
  }

  /** pop removes and returns the earliest event. */
  pop(): { timeMs: number; item: T } | null {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return null;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      const n = heap.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        const lc = heap[l]!;
        if (r < n) {
          const rc = heap[r]!;
          if (rc.timeMs < lc.timeMs || (rc.timeMs === lc.timeMs && rc.seq < lc.seq)) c = r;
        }
        const child = heap[c]!;
        if (last.timeMs < child.timeMs || (last.timeMs === child.timeMs && last.seq < child.seq)) break;
        heap[i] = child;
        i = c;
      }
      heap[i] = last;
    }
    return { timeMs: top.timeMs, item: top.item };
  }
}
