/**
 * The scratch of one apply: what the lease table needs while it applies an
 * entry and forgets afterwards.
 */
import { assert } from '../raft/invariant.js';
import type { LockRecord } from './lock-records.js';
import type { LockEvent } from './types.js';

/** Past this many touched records, touch() switches from a scan to a Set. */
const TOUCHED_SCAN_MAX = 8;

/**
 * ApplyScope is the apply in progress: its Raft index (the fencing token of
 * its grants), the events it produces, and the lock records it touched, in
 * first-touch order so that settling them afterwards is deterministic.
 */
export class ApplyScope {
  /** Raft index of the entry being applied. */
  index = 0;
  /** Events of this apply, in the order they happened. */
  // Stryker disable next-line ArrayDeclaration: begin() replaces the array before anything is emitted or read
  events: LockEvent[] = [];
  private active = false;
  private readonly touched: LockRecord[] = [];
  /** Membership index for `touched`, used only once it grows past TOUCHED_SCAN_MAX. */
  private touchedSet: Set<LockRecord> | null = null;

  /** begin starts the apply of entry `index`. Applies do not nest. */
  begin(index: number): void {
    assert(!this.active, 'LeaseTable.apply is not reentrant');
    this.active = true;
    this.index = index;
    this.events = [];
  }

  /** end closes the apply; the events array handed out stays as it is. */
  end(): void {
    this.active = false;
    // Stryker disable next-line ArrayDeclaration: only lets the handed-out array go; begin() replaces this one before anything is emitted or read
    this.events = [];
  }

  /** isActive: is an apply in progress? */
  isActive(): boolean {
    return this.active;
  }

  /** emit records an event of this apply. */
  emit(event: LockEvent): void {
    this.events.push(event);
  }

  /**
   * retractWaitEnded takes back the end of waiter `waiterId` of lock `name`
   * reported earlier in this apply: an acquire re-queues that id in the same
   * entry, so the end would reach the new request's listener (hosts route
   * events by waiter id) and tell it its fresh wait was over.
   */
  retractWaitEnded(name: string, waiterId: string): void {
    // Called for every queued acquire: no allocation, and an apply ends a waiter id at most once.
    const i = this.events.findIndex((e) => e.kind === 'waitEnded' && e.name === name && e.waiterId === waiterId);
    if (i >= 0) this.events.splice(i, 1);
  }

  /** touch marks a record for settling at the end of the apply. */
  touch(rec: LockRecord): void {
    const touched = this.touched;
    const n = touched.length;
    // A fast path for re-touching the last record; the scan or the Set below would find it as well.
    if (
      // Stryker disable next-line ConditionalExpression,EqualityOperator: with n 0, touched[-1] is undefined, never a record; skipping the fast path changes no answer (see above)
      n > 0 &&
      // Stryker disable next-line ArithmeticOperator: touched[n] is past the end (undefined), never a record
      touched[n - 1] === rec
    )
      return;
    // Stryker disable next-line ConditionalExpression: without this test the last branch builds the same Set afresh from the list and answers alike
    if (this.touchedSet !== null) {
      if (this.touchedSet.has(rec)) return;
      this.touchedSet.add(rec);
    } else if (
      // Stryker disable next-line ConditionalExpression,EqualityOperator: the scan and the Set answer membership alike; the threshold only picks the cheaper one
      n < TOUCHED_SCAN_MAX
    ) {
      // Bounded scan: most applies touch one or two records.
      // Stryker disable next-line EqualityOperator: touched[n] is undefined, never a record
      for (let i = 0; i < n; i++) {
        if (touched[i] === rec) return;
      }
    } else {
      this.touchedSet = new Set(touched);
      if (this.touchedSet.has(rec)) return;
      this.touchedSet.add(rec);
    }
    touched.push(rec);
  }

  /**
   * drainTouched visits the touched records in first-touch order, then forgets
   * them. `visit` may touch the record it is given again, but no other record.
   */
  drainTouched(visit: (rec: LockRecord) => void): void {
    const touched = this.touched;
    const n = touched.length;
    for (let i = 0; i < n; i++) {
      visit(touched[i]!);
      // Re-touching the visited record appends nothing; touching another would go unvisited.
      assert(touched.length === n, 'a settled record touched another record');
    }
    touched.length = 0;
    this.touchedSet = null;
  }
}
