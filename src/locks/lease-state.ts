/**
 * What the parts of the lease table (holds, waiter queue, sessions, expiry,
 * read views) share: the replicated state, what is derived from it, and the
 * scratch of the apply in progress.
 */
import { ApplyScope } from './apply-scope.js';
import { Deadlines } from './deadlines.js';
import type { ReplicatedState } from './replicated-state.js';

/**
 * LeaseState is the whole state of one LeaseTable. Only `replicated` is
 * replicated (and snapshotted); the deadline index and the gauges are derived
 * from it, and recount() rebuilds them after a restore.
 */
export class LeaseState {
  /** Every lease, session, waiter and lock-delay deadline. */
  readonly deadlines = new Deadlines();
  /** The apply in progress. */
  readonly scope = new ApplyScope();
  /** Lock names with at least one holder. */
  locksHeld = 0;
  /** Queued waiters that are still alive. */
  waiters = 0;
  /** Holds under their own lease (not under a session). */
  ttlHolds = 0;
  /** Locks with a lock-delay set. */
  lockDelays = 0;

  constructor(readonly replicated: ReplicatedState) {}

  /** liveDeadlines counts the deadlines the state has (a bound for the deadline index). */
  liveDeadlines(): number {
    // Stryker disable next-line ArithmeticOperator: only decides when the deadline index drops its stale entries (a memory threshold); it answers the same either way
    return this.ttlHolds + this.replicated.sessions.size + this.waiters + this.lockDelays;
  }

  /** recount rebuilds the gauges and the deadline index from the replicated state. */
  recount(): void {
    this.locksHeld = 0;
    this.waiters = 0;
    this.ttlHolds = 0;
    this.lockDelays = 0;
    for (const rec of this.replicated.locks.values()) {
      if (rec.owner !== null) this.locksHeld++;
      rec.forEachHold((hold) => {
        if (hold.sessionId === null) this.ttlHolds++;
      });
      if (rec.ext !== null) {
        this.waiters += rec.ext.waiters.length;
        if (rec.ext.delayUntilMs !== 0) this.lockDelays++;
      }
    }
    this.deadlines.rebuild(this.replicated);
  }
}
