import { DedupeTable } from './dedupe-table.js';
import type { LeaseTableLimits } from './limits.js';
import type { LockRecord, Session } from './lock-records.js';

/**
 * TableCore is the replicated state of the lease table: exactly what a
 * snapshot stores. Everything else the LeaseTable keeps (the deadline heap,
 * gauges) is derived from it and rebuilt on restore.
 *
 * Determinism: Maps iterate in insertion order, and every insertion happens
 * while applying the log, so iteration order is itself replicated state; the
 * snapshot writes Maps in that order and restore re-inserts in the same order.
 */
export class TableCore {
  /** Monotonic table clock: max of the leader-stamped times applied so far. */
  nowMs = 0;
  /** Raft index of the last applied entry. */
  appliedIndex = 0;
  /** Largest lastToken of every lock record removed so far: new records start above it. */
  tokenFloor = 0;
  /** Creation counter for holds, waiters, sessions and lock-delays (tie-break of equal deadlines). */
  seq = 0;
  /** Holds removed by expiry since the start of the log. */
  expiriesTotal = 0;
  readonly locks = new Map<string, LockRecord>();
  readonly sessions = new Map<string, Session>();
  readonly dedupe: DedupeTable;

  constructor(readonly limits: LeaseTableLimits) {
    this.dedupe = new DedupeTable(limits.dedupeEntriesMax, limits.dedupeTtlMs);
  }
}
