/**
 * Modification indexes and parked watches of lock names and prefixes: what
 * the blocking reads (`GET ...?index=N&wait=30s`, Consul's blocking queries)
 * stand on. Derived, never replicated: every member rebuilds it from the
 * entries it applies (the lease table reports the names each entry touched).
 */
import { assert } from '../raft/invariant.js';

/** WatchTarget is what a watch waits on: one lock name, or every name with a prefix. */
export type WatchTarget = { readonly name: string } | { readonly prefix: string };

/**
 * WatchWake is a parked watch's callback, run synchronously right after an
 * entry that touched its target has applied, with that entry's index. It
 * answers whether the watch is done (true: it leaves) or keeps waiting
 * (false: the touch changed nothing it shows, as a renewal's lease extension).
 * `reset` is true when the member's table was replaced by a snapshot: the
 * watch has left whatever it answers, and changes before `index` are unknown.
 */
export type WatchWake = (index: number, reset: boolean) => boolean;

/** LockWatchesOptions bound the memory and the open watches of one member. */
export interface LockWatchesOptions {
  /** Most watches parked at once on this member; a further park is refused. */
  readonly maxWatches: number;
  /** Most names whose last modification index is remembered; older ones fold into the floor. */
  readonly maxTrackedNames: number;
}

interface Parked {
  readonly target: WatchTarget;
  readonly wake: WatchWake;
}

/**
 * LockWatches keeps, for each lock name, the Raft index of the last applied
 * entry that touched it, and the watches parked on names and prefixes.
 *
 * The index it reports for a name is never below the real last change and
 * never above the applied index: names it forgot (evicted past
 * maxTrackedNames, or changed before this member restored a snapshot or
 * started) report the floor, the largest index it cannot rule out. So a
 * change after a client's index N always reports an index above N on every
 * member (the log is the same everywhere), while a member may report an
 * index above N without a change (a spurious wake-up, which blocking-query
 * clients must expect anyway). Indexes are at least 1, so `index=0` never
 * blocks: a log's first entry is its first leader's no-op, never a lock
 * change, so no change is ever reported at 1 itself.
 */
export class LockWatches {
  /** Name -> index of its last touch; insertion order is index order (a touch re-inserts). */
  private readonly lastTouch = new Map<string, number>();
  /**
   * The eviction cursor: one long-lived iterator over lastTouch. Every entry
   * before it was evicted, and a re-touched name is re-inserted after it, so
   * its next entry is always the oldest. (A fresh entries() per eviction
   * walks every deleted slot from the start: 200 µs per apply at 100,000 names.)
   */
  private readonly oldestFirst: Iterator<[string, number]> = this.lastTouch.entries();
  private floorIndex = 0;
  /** The index of the newest entry that touched any name. */
  private newestTouch = 0;
  /** Watches of one name, by name: an apply looks up only the names it touched. */
  private readonly byName = new Map<string, Set<Parked>>();
  /** Watches of a prefix: each apply compares its touched names with every one. */
  private readonly byPrefix = new Set<Parked>();
  private parkedCount = 0;

  constructor(private readonly opts: LockWatchesOptions) {
    assert(opts.maxWatches >= 0 && opts.maxTrackedNames >= 1, 'bad watch bounds');
  }

  /** watching is the number of parked watches. */
  get watching(): number {
    return this.parkedCount;
  }

  /** indexOf is the modification index of lock `name` (see the class comment). */
  indexOf(name: string): number {
    return Math.max(1, this.lastTouch.get(name) ?? this.floorIndex);
  }

  /** indexOfPrefix is the largest modification index of any name with `prefix`: a scan, bounded by maxTrackedNames. */
  indexOfPrefix(prefix: string): number {
    // Every name has the empty prefix: the newest touch is the answer, without a scan.
    if (prefix === '') return Math.max(1, this.floorIndex, this.newestTouch);
    let index = this.floorIndex;
    for (const [name, at] of this.lastTouch) if (at > index && name.startsWith(prefix)) index = at;
    return Math.max(1, index);
  }

  /**
   * noteApplied records the names the entry at `index` touched and wakes the
   * watches parked on them. Call it for every applied entry, in log order.
   */
  noteApplied(index: number, touched: readonly string[]): void {
    if (touched.length === 0) return;
    this.newestTouch = index;
    for (const name of touched) {
      this.lastTouch.delete(name);
      this.lastTouch.set(name, index);
    }
    // Bounded: the map grew by at most touched.length.
    while (this.lastTouch.size > this.opts.maxTrackedNames) {
      const next = this.oldestFirst.next();
      assert(next.done !== true, 'the eviction cursor ran past the live names');
      const [oldest, at] = next.value;
      this.lastTouch.delete(oldest);
      if (at > this.floorIndex) this.floorIndex = at;
    }
    if (this.parkedCount === 0) return;
    // Sets may lose members while iterated (leave deletes): JavaScript's Set iteration allows it.
    for (const name of touched) {
      const set = this.byName.get(name);
      if (set !== undefined) for (const p of set) if (p.wake(index, false)) this.leave(p);
    }
    for (const p of this.byPrefix) {
      const prefix = (p.target as { prefix: string }).prefix;
      if (touched.some((name) => name.startsWith(prefix)) && p.wake(index, false)) this.leave(p);
    }
  }

  /**
   * reset forgets every name's index after this member's table was replaced
   * (a snapshot installed at `appliedIndex`): anything may have changed up to
   * it. Every parked watch is woken and leaves.
   */
  reset(appliedIndex: number): void {
    this.lastTouch.clear();
    if (appliedIndex > this.floorIndex) this.floorIndex = appliedIndex;
    const all = [...this.byPrefix];
    for (const set of this.byName.values()) all.push(...set);
    for (const p of all) {
      this.leave(p);
      p.wake(this.floorIndex, true);
    }
    assert(this.parkedCount === 0, 'a watch survived a reset');
  }

  /** park waits for the next touch of `target`; returns the function that leaves, or null when maxWatches are parked. */
  park(target: WatchTarget, wake: WatchWake): (() => void) | null {
    if (this.parkedCount >= this.opts.maxWatches) return null;
    const p: Parked = { target, wake };
    if ('name' in target) {
      let set = this.byName.get(target.name);
      if (set === undefined) this.byName.set(target.name, (set = new Set()));
      set.add(p);
    } else {
      this.byPrefix.add(p);
    }
    this.parkedCount++;
    return () => this.leave(p);
  }

  /** leave takes a watch out (idempotent). */
  private leave(p: Parked): void {
    const target = p.target;
    if ('name' in target) {
      const set = this.byName.get(target.name);
      if (set === undefined || !set.delete(p)) return;
      if (set.size === 0) this.byName.delete(target.name);
    } else if (!this.byPrefix.delete(p)) {
      return;
    }
    this.parkedCount--;
  }
}
