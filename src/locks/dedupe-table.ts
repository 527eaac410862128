import { assert } from '../raft/invariant.js';
import type { CommandResult } from './types.js';

/** DedupeEntry is the first result of a request and the table time it was applied at. */
export interface DedupeEntry {
  result: CommandResult;
  readonly atMs: number;
  /**
   * For a waiting acquire: how many applied attempts of it may still carry its
   * outcome to the client (undelivered-grants.ts); 0 when none is counted.
   * Only an ok result (queued or granted) keeps a count.
   */
  answers: number;
}

/**
 * DedupeTable remembers the result of every applied command that carried a
 * requestId, so a retried proposal (the client could not learn whether its
 * first attempt committed) returns the first result without a second effect.
 * This is the "client session" table of Raft thesis §6.3, keyed by request id.
 *
 * Bounded by time, deterministically (evictions happen during apply and depend
 * only on the log): an entry is kept exactly `ttlMs` of the lease table's
 * time, which outlasts every retry of a client call (DEDUPE_TTL_MS in
 * src/api/contract.ts says why). Memory is capped at `maxEntries`, but a full
 * table never forgets a live entry to make room, as it once did (issue 11,
 * hole 7: heavy renew traffic pushed entries out within seconds, and a late
 * retry then acted twice): the caller refuses new request ids instead
 * (isFull, retryAfterMs). A Map iterates in insertion order, which is also
 * time order because the table clock never goes back.
 */
export class DedupeTable {
  private readonly entries = new Map<string, DedupeEntry>();
  /**
   * Request ids oldest first, from `head` on. Eviction takes from here, not
   * from the Map's front: V8 leaves deleted slots in a Map until it rehashes,
   * so repeatedly taking a Map's first key costs O(deleted) once the table is
   * full. The array is compacted when its dead prefix grows large.
   */
  private order: string[] = [];
  private orderTimes: number[] = [];
  private head = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
  ) {}

  /** size is the number of remembered requests. */
  get size(): number {
    return this.entries.size;
  }

  /** get returns the remembered entry for `requestId`. */
  get(requestId: string): DedupeEntry | undefined {
    return this.entries.get(requestId);
  }

  /** evictExpired drops entries older than ttlMs at `nowMs`. */
  evictExpired(nowMs: number): void {
    // Bounded: at most `size` iterations, each removes one entry.
    while (
      // Stryker disable next-line EqualityOperator,ConditionalExpression: past the end orderTimes[head] is undefined, so the deadline test below is false and stops the loop as well
      this.head < this.order.length &&
      this.orderTimes[this.head]! + this.ttlMs <= nowMs
    ) {
      this.evictOldest();
    }
    this.compact();
  }

  /** isFull says whether a new request id would exceed the cap: the caller must refuse it (never evict a live one). */
  isFull(): boolean {
    return this.entries.size >= this.maxEntries;
  }

  /** retryAfterMs is how long after `nowMs` the oldest entry expires and frees a place (at least 1). */
  retryAfterMs(nowMs: number): number {
    assert(this.head < this.order.length, 'retryAfterMs of an empty dedupe table');
    return Math.max(1, this.orderTimes[this.head]! + this.ttlMs - nowMs);
  }

  /**
   * remember stores the first result of `requestId`, with the attempts counted to answer it. A new id needs room:
   * the caller checked isFull().
   */
  remember(requestId: string, result: CommandResult, nowMs: number, answers: number): void {
    assert(Number.isSafeInteger(answers) && answers >= 0 && (answers === 0 || result.ok), 'dedupe answers of a failed result');
    const existing = this.entries.get(requestId);
    // Stryker disable next-line ConditionalExpression,BlockStatement: unreachable today: apply() remembers only ids get() did not find, and a snapshot holds each id once
    if (existing !== undefined) {
      existing.result = result;
      existing.answers = answers;
      return;
    }
    assert(!this.isFull(), () => `dedupe table over its cap of ${this.maxEntries}`);
    this.entries.set(requestId, { result, atMs: nowMs, answers });
    this.order.push(requestId);
    this.orderTimes.push(nowMs);
  }

  private evictOldest(): void {
    const id = this.order[this.head]!;
    this.head++;
    this.entries.delete(id);
  }

  // Stryker disable next-line BlockStatement: when (or whether) to compact is a memory threshold; no answer depends on it (the slicing itself is tested)
  private compact(): void {
    // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator,ArithmeticOperator: a memory threshold, as above
    if (this.head < 4096 || this.head * 2 < this.order.length) return;
    this.order = this.order.slice(this.head);
    this.orderTimes = this.orderTimes.slice(this.head);
    this.head = 0;
  }

  /**
   * replace updates the stored result of a queued acquire whose waiter was granted or dropped. A failed outcome
   * leaves nothing to deliver or undo: its count of answering attempts ends.
   */
  replace(requestId: string, result: CommandResult): void {
    const entry = this.entries.get(requestId);
    if (entry === undefined) return;
    entry.result = result;
    if (!result.ok) entry.answers = 0;
  }

  /** oldestFirst iterates the entries oldest first (a snapshot in slices); the table must not change meanwhile. */
  oldestFirst(): IterableIterator<[string, DedupeEntry]> {
    return this.entries.entries();
  }
}
