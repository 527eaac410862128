/**
 * DeadlineHeap is a binary min-heap of (deadlineMs, seq, kind, target) kept in
 * parallel typed arrays, so an entry costs 24 bytes and no object.
 *
 * Entries are never updated in place: when a deadline moves (renew, keepalive)
 * the owner pushes a new entry and the old one becomes stale; the lease table
 * recognises stale entries when they reach the top and drops them (lazy
 * deletion). The table rebuilds the heap from its state when stale entries
 * outnumber live ones, which bounds the heap's size.
 *
 * The order is total on (deadlineMs, seq): `seq` is a per-table creation
 * counter that is part of the replicated state, so the order in which due
 * entries pop is the same on every replica and after a snapshot restore, even
 * though the heap's array layout is not.
 */
export class DeadlineHeap<T> {
  private deadlines = new Float64Array(16);
  private seqs = new Float64Array(16);
  private kinds = new Uint8Array(16);
  // Stryker disable next-line ArrayDeclaration: slots at or past count are never read (callers read the top only when size > 0)
  private targets: (T | undefined)[] = [];
  private count = 0;

  /** size is the number of entries, stale ones included. */
  get size(): number {
    return this.count;
  }

  /** push adds an entry. `seq` must be a non-negative integer; `kind` fits a byte. */
  push(deadlineMs: number, seq: number, kind: number, target: T): void {
    this.appendUnordered(deadlineMs, seq, kind, target);
    this.siftUp(this.count - 1);
  }

  /** topDeadlineMs is the smallest deadline, or Infinity when empty. */
  topDeadlineMs(): number {
    return this.count === 0 ? Infinity : this.deadlines[0]!;
  }

  /** topSeq is the seq of the top entry (undefined behaviour when empty; check size first). */
  topSeq(): number {
    return this.seqs[0]!;
  }

  /** topKind is the kind of the top entry. */
  topKind(): number {
    return this.kinds[0]!;
  }

  /** topTarget is the target of the top entry. */
  topTarget(): T {
    return this.targets[0] as T;
  }

  /** pop removes the top entry. */
  pop(): void {
    if (this.count === 0) return;
    const last = --this.count;
    // With one entry left (last 0) this moves entry 0 onto itself and sifts an empty heap: both no-ops.
    this.move(last, 0);
    this.targets[last] = undefined;
    this.siftDown(0);
  }

  /** clear drops every entry and releases the arrays. */
  clear(): void {
    this.deadlines = new Float64Array(16);
    this.seqs = new Float64Array(16);
    this.kinds = new Uint8Array(16);
    // Stryker disable next-line ArrayDeclaration: slots at or past count are never read (callers read the top only when size > 0)
    this.targets = [];
    this.count = 0;
  }

  /** appendUnordered adds an entry without restoring heap order; call heapify() after a batch. */
  appendUnordered(deadlineMs: number, seq: number, kind: number, target: T): void {
    if (this.count === this.deadlines.length) this.grow(this.count * 2);
    const i = this.count++;
    this.deadlines[i] = deadlineMs;
    this.seqs[i] = seq;
    this.kinds[i] = kind;
    this.targets[i] = target;
  }

  /** heapify restores heap order in O(n) (Floyd). */
  heapify(): void {
    // Stryker disable next-line ArithmeticOperator: the nodes from count >> 1 on are leaves, for which siftDown returns at once
    for (let i = (this.count >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private less(a: number, b: number): boolean {
    const da = this.deadlines[a]!;
    const db = this.deadlines[b]!;
    return (
      da < db ||
      (da === db &&
        // Stryker disable next-line EqualityOperator: equal deadline and seq is one deadline pushed twice (a renew to the same ms, a promoted holder): the first to pop is due, its twin then stale
        this.seqs[a]! < this.seqs[b]!)
    );
  }

  private move(from: number, to: number): void {
    this.deadlines[to] = this.deadlines[from]!;
    this.seqs[to] = this.seqs[from]!;
    this.kinds[to] = this.kinds[from]!;
    this.targets[to] = this.targets[from];
  }

  private swap(a: number, b: number): void {
    const d = this.deadlines[a]!;
    const s = this.seqs[a]!;
    const k = this.kinds[a]!;
    const t = this.targets[a];
    this.move(b, a);
    this.deadlines[b] = d;
    this.seqs[b] = s;
    this.kinds[b] = k;
    this.targets[b] = t;
  }

  private siftUp(i: number): void {
    // Stryker disable next-line EqualityOperator: at the root the parent index is -1, whose deadline reads undefined: less() is false and the loop returns as well
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.count;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const m = r < n && this.less(r, l) ? r : l;
      if (!this.less(m, i)) return;
      this.swap(i, m);
      i = m;
    }
  }

  private grow(capacity: number): void {
    const d = new Float64Array(capacity);
    d.set(this.deadlines);
    const s = new Float64Array(capacity);
    s.set(this.seqs);
    const k = new Uint8Array(capacity);
    k.set(this.kinds);
    this.deadlines = d;
    this.seqs = s;
    this.kinds = k;
  }
}
