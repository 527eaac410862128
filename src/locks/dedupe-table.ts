import type { CommandResult } from './types.js';

/** DedupeEntry is the first result of a request and the table time it was applied at. */
export interface DedupeEntry {
  result: CommandResult;
  readonly atMs: number;
}

/**
 * DedupeTable remembers the result of every applied command that carried a
 * requestId, so a retried proposal (the client could not learn whether its
 * first attempt committed) returns the first result without a second effect.
 * This is the "client session" table of Raft thesis §6.3, keyed by request id.
 *
 * Bounded two ways, both deterministic (evictions happen during apply and
 * depend only on the log): at most `maxEntries` (the oldest goes first) and at
 * most `ttlMs` old by the lease table's clock. A Map iterates in insertion
 * order, which is also time order because the table clock never goes back.
 */
export class DedupeTable {
  private readonly entries = new Map<string, DedupeEntry>();

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
    for (const [id, entry] of this.entries) {
      if (entry.atMs + this.ttlMs > nowMs) return;
      this.entries.delete(id);
    }
  }

  /** remember stores the first result of `requestId`; evicts the oldest entry beyond the bound. */
  remember(requestId: string, result: CommandResult, nowMs: number): void {
    this.entries.set(requestId, { result, atMs: nowMs });
    // Bounded: runs at most once per insert, since each insert adds one entry.
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) return;
      this.entries.delete(oldest.value);
    }
  }

  /** replace updates the stored result of a queued acquire whose waiter was granted or dropped. */
  replace(requestId: string, result: CommandResult): void {
    const entry = this.entries.get(requestId);
    if (entry !== undefined) entry.result = result;
  }

  /** forEach visits entries oldest first (for snapshots). */
  forEach(visit: (requestId: string, entry: DedupeEntry) => void): void {
    for (const [id, entry] of this.entries) visit(id, entry);
  }
}
