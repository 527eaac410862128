/**
 * The replicated state of the lease table: exactly what a snapshot stores.
 * Everything else the table keeps (the deadline index, gauges, the scratch of
 * an apply) is derived from it or lives for one apply only.
 */
import { assert } from '../raft/invariant.js';
import { DedupeTable } from './dedupe-table.js';
import type { LeaseTableLimits } from './limits.js';
import type { HoldFields, LockRecord, Session, Waiter } from './lock-records.js';

/**
 * ReplicatedState is the state every replica reaches by applying the same log.
 *
 * Determinism: Maps iterate in insertion order, and every insertion happens
 * while applying the log, so iteration order is itself replicated state; the
 * snapshot writes Maps in that order and restore re-inserts in the same order.
 */
export class ReplicatedState {
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

  /**
   * isSessionLive: does the session exist with its deadline still ahead? A
   * dead session stays in the table until an 'expire' entry removes it, but
   * it can no longer be kept alive or get grants.
   */
  isSessionLive(sessionId: string): boolean {
    const s = this.sessions.get(sessionId);
    return s !== undefined && s.expiresAtMs > this.nowMs;
  }

  /** isHoldLive: is the hold's lease (or its session) still running? */
  isHoldLive(hold: HoldFields): boolean {
    return hold.sessionId === null ? hold.expiresAtMs > this.nowMs : this.isSessionLive(hold.sessionId);
  }

  /** isWaiterLive: is the waiter's wait (and its session, if any) still running? */
  isWaiterLive(w: Waiter): boolean {
    return w.deadlineMs > this.nowMs && (w.sessionId === null || this.isSessionLive(w.sessionId));
  }

  /** holdExpiresAtMs is when a hold ends: its lease end, or its session's expiry. */
  holdExpiresAtMs(hold: HoldFields): number {
    if (hold.sessionId === null) return hold.expiresAtMs;
    const s = this.sessions.get(hold.sessionId);
    assert(s !== undefined, 'session hold without its session');
    return s.expiresAtMs;
  }

  /** holdersMax is how many holders a lock with semaphore `limit` (0 = none) admits. */
  holdersMax(limit: number): number {
    return limit > 0 ? limit : this.limits.holdersPerLockMax;
  }
}
