import { monotonicNowMs } from './monotonic-clock.js';

/** LeaseWaker is what a LeaseTimers entry wakes: a lease keeper, whose own state says what is due. */
export interface LeaseWaker {
  wake(): void;
}

/** TimerEntry is one scheduled wake-up; `waker` is null once cancelled (the heap drops it lazily). */
export interface TimerEntry {
  readonly dueMs: number;
  waker: LeaseWaker | null;
}

/** Bound on cancelled entries left in the heap, relative to live ones, before it is rebuilt without them. */
const STALE_FACTOR = 2;
const STALE_SLACK = 64;

/**
 * LeaseTimers keeps every lease keeper's next wake-up (its renewal or its
 * `lost` deadline, whichever is first) in one min-heap under ONE node timer,
 * armed for the earliest entry. A handle per lock with two timers of its own
 * cost a timer insertion and removal per acquire and per release, which at
 * thousands of cycles per second was a visible part of the library's CPU.
 * Cancelling is O(1) (the entry is marked and dropped when it surfaces, or
 * when cancelled entries outnumber live ones and the heap is rebuilt).
 */
export class LeaseTimers {
  private readonly heap: TimerEntry[] = [];
  private live = 0;
  private timer: NodeJS.Timeout | undefined;
  private armedForMs = Infinity;

  /** schedule wakes `waker` at `dueMs` (monotonic ms) or soon after; returns the entry to cancel it by. */
  schedule(waker: LeaseWaker, dueMs: number): TimerEntry {
    if (!Number.isFinite(dueMs)) throw new Error(`invariant: wake-up at ${dueMs}`);
    const entry: TimerEntry = { dueMs, waker };
    this.push(entry);
    this.live++;
    if (dueMs < this.armedForMs) this.arm();
    return entry;
  }

  /** cancel drops an entry (idempotent). */
  cancel(entry: TimerEntry | undefined): void {
    if (entry === undefined || entry.waker === null) return;
    entry.waker = null;
    this.live--;
    if (this.heap.length > STALE_FACTOR * this.live + STALE_SLACK) this.rebuild();
    if (this.live === 0) this.disarm();
  }

  /** size is the number of live entries (tests, assertions). */
  get size(): number {
    return this.live;
  }

  private fire(): void {
    this.timer = undefined;
    this.armedForMs = Infinity;
    const nowMs = monotonicNowMs();
    // Bounded: each iteration removes one entry; wakers that reschedule add entries due later than now.
    const due: LeaseWaker[] = [];
    while (this.heap.length > 0 && this.heap[0]!.dueMs <= nowMs) {
      const entry = this.pop()!;
      if (entry.waker === null) continue;
      due.push(entry.waker);
      entry.waker = null;
      this.live--;
    }
    for (const waker of due) waker.wake();
    this.dropCancelledTop();
    if (this.heap.length > 0 && this.timer === undefined) this.arm();
  }

  private arm(): void {
    this.dropCancelledTop();
    const top = this.heap[0];
    if (top === undefined) return this.disarm();
    if (this.timer !== undefined && this.armedForMs <= top.dueMs) return;
    clearTimeout(this.timer);
    this.armedForMs = top.dueMs;
    this.timer = setTimeout(() => this.fire(), Math.max(0, top.dueMs - monotonicNowMs()));
    // Leases never keep a process alive: an application that is done exits.
    this.timer.unref();
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedForMs = Infinity;
  }

  private dropCancelledTop(): void {
    // Bounded by the heap's size.
    while (this.heap.length > 0 && this.heap[0]!.waker === null) this.pop();
  }

  private rebuild(): void {
    const keep = this.heap.filter((e) => e.waker !== null);
    this.heap.length = 0;
    for (const e of keep) this.push(e);
    if (this.heap.length !== this.live) throw new Error(`invariant: ${this.heap.length} entries in the heap, ${this.live} live`);
  }

  private push(entry: TimerEntry): void {
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.dueMs <= entry.dueMs) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = entry;
  }

  private pop(): TimerEntry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && h[r]!.dueMs < h[l]!.dueMs ? r : l;
      if (h[child]!.dueMs >= last.dueMs) break;
      h[i] = h[child]!;
      i = child;
    }
    h[i] = last;
    return top;
  }
}

/** leaseTimers is the process's one LeaseTimers: every client's handles and sessions share its timer. */
export const leaseTimers = new LeaseTimers();
