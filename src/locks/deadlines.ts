/**
 * The deadline index of the lease table: every lease, session, waiter and
 * lock-delay deadline in one DeadlineHeap, so that 'expire' and
 * nextDeadlineMs() find what is due without scanning the table.
 */
import { assert, InvariantError } from '../raft/invariant.js';
import { DeadlineHeap } from './deadline-heap.js';
import type { Holder, HoldFields, LockRecord, Session, Waiter } from './lock-records.js';
import type { ReplicatedState } from './replicated-state.js';

// Kinds of heap entries.
const KIND_INLINE_HOLD = 1; // target: LockRecord (its inline first hold)
const KIND_MORE_HOLD = 2; // target: Holder
const KIND_SESSION = 3; // target: Session
const KIND_WAITER = 4; // target: Waiter
const KIND_LOCK_DELAY = 5; // target: LockRecord (its lock-delay end)
type Target = LockRecord | Holder | Session | Waiter;

/** STALE_SLACK: the heap is rebuilt when it holds more than 2x its live entries plus this slack. */
export const STALE_SLACK = 1_024;

/** Due is a deadline that has passed, with what it belongs to. */
export type Due =
  | { readonly kind: 'hold'; readonly rec: LockRecord; readonly hold: HoldFields }
  | { readonly kind: 'session'; readonly session: Session }
  | { readonly kind: 'waiter'; readonly waiter: Waiter }
  | { readonly kind: 'lockDelay'; readonly rec: LockRecord };

/**
 * Deadlines indexes the table's deadlines. Entries are never updated in place:
 * a moved deadline (renew, keepalive, promotion) gets a new entry and the old
 * one turns stale; stale entries are recognised against the replicated state
 * when they reach the top and dropped (lazy deletion).
 *
 * The heap is derived state: rebuild() recreates it from the replicated state
 * after a restore, and whenever stale entries outnumber live ones.
 */
export class Deadlines {
  private readonly heap = new DeadlineHeap<Target>();

  /** size counts entries, stale ones included. */
  get size(): number {
    return this.heap.size;
  }

  /** addHold indexes the lease end of a TTL hold (session holds end with their session). */
  addHold(rec: LockRecord, hold: HoldFields): void {
    assert(hold.sessionId === null, 'a session hold has no lease of its own');
    this.heap.push(hold.expiresAtMs, hold.seq, hold === rec ? KIND_INLINE_HOLD : KIND_MORE_HOLD, hold as Holder | LockRecord);
  }

  /** addSession indexes a session's expiry. */
  addSession(s: Session): void {
    this.heap.push(s.expiresAtMs, s.seq, KIND_SESSION, s);
  }

  /** addWaiter indexes the end of a waiter's wait. */
  addWaiter(w: Waiter): void {
    this.heap.push(w.deadlineMs, w.seq, KIND_WAITER, w);
  }

  /** addLockDelay indexes the end of a lock's lock-delay. */
  addLockDelay(rec: LockRecord): void {
    const ext = rec.ext;
    assert(ext !== null && ext.delayUntilMs !== 0, 'no lock-delay to index');
    this.heap.push(ext.delayUntilMs, ext.delaySeq, KIND_LOCK_DELAY, rec);
  }

  /** nextMs is the earliest live deadline, or null. Drops stale entries on the way (no effect on state). */
  nextMs(state: ReplicatedState): number | null {
    // Bounded: each iteration pops one entry.
    while (this.heap.size > 0 && !this.isTopLive(state)) this.heap.pop();
    return this.heap.size === 0 ? null : this.heap.topDeadlineMs();
  }

  /**
   * popDue removes and returns the earliest live deadline that is <= nowMs, or
   * null when none is due. Due deadlines come in (deadline, creation seq) order,
   * the same on every replica.
   */
  popDue(state: ReplicatedState): Due | null {
    const heap = this.heap;
    // Bounded: every iteration pops one entry.
    while (
      // Stryker disable next-line ConditionalExpression,EqualityOperator: an empty heap's top deadline is Infinity, never <= nowMs (finite), which ends the loop as well
      heap.size > 0 &&
      heap.topDeadlineMs() <= state.nowMs
    ) {
      const live = this.isTopLive(state);
      const kind = heap.topKind();
      const target = heap.topTarget();
      heap.pop();
      if (live) return due(kind, target);
    }
    return null;
  }

  /** maybeRebuild rebuilds the heap when stale entries outnumber the `liveCount` live deadlines; returns whether it did. */
  maybeRebuild(state: ReplicatedState, liveCount: number): boolean {
    if (this.heap.size <= 2 * liveCount + STALE_SLACK) return false;
    this.rebuild(state);
    return true;
  }

  /** rebuild recreates the heap from the replicated state: one entry per live deadline. */
  rebuild(state: ReplicatedState): void {
    const heap = this.heap;
    heap.clear();
    for (const rec of state.locks.values()) {
      if (rec.owner !== null && rec.sessionId === null) heap.appendUnordered(rec.expiresAtMs, rec.seq, KIND_INLINE_HOLD, rec);
      const ext = rec.ext;
      if (ext === null) continue;
      for (const h of ext.more) if (h.sessionId === null) heap.appendUnordered(h.expiresAtMs, h.seq, KIND_MORE_HOLD, h);
      // Stryker disable next-line ConditionalExpression: no dead waiter is left when the heap is rebuilt (finish() drops them from every touched record first; restore, extendLeases and restartSessionLeases end none before it)
      for (const w of ext.waiters) if (w.alive) heap.appendUnordered(w.deadlineMs, w.seq, KIND_WAITER, w);
      if (ext.delayUntilMs !== 0) heap.appendUnordered(ext.delayUntilMs, ext.delaySeq, KIND_LOCK_DELAY, rec);
    }
    for (const s of state.sessions.values()) heap.appendUnordered(s.expiresAtMs, s.seq, KIND_SESSION, s);
    heap.heapify();
  }

  /** isTopLive: does the top entry still describe a deadline of the state? */
  private isTopLive(state: ReplicatedState): boolean {
    const heap = this.heap;
    const d = heap.topDeadlineMs();
    const seq = heap.topSeq();
    const target = heap.topTarget();
    switch (heap.topKind()) {
      case KIND_INLINE_HOLD: {
        const rec = target as LockRecord;
        // A seq names one hold: seq and deadline say whether the entry is the record's current lease end.
        return (
          rec.seq === seq &&
          rec.expiresAtMs === d &&
          // Stryker disable next-line ConditionalExpression: implied by the seq match: only a TTL hold's seq gets an inline entry, and a freed (or removed) record has seq 0
          rec.owner !== null && rec.sessionId === null && state.locks.get(rec.name) === rec
        );
      }
      case KIND_MORE_HOLD: {
        const h = target as Holder;
        return (
          h.alive &&
          h.expiresAtMs === d &&
          // Stryker disable next-line ConditionalExpression: implied: a holder under a session never gets an entry (grant and rebuild index TTL holds only), and a hold keeps its session
          h.sessionId === null
        );
      }
      case KIND_SESSION: {
        const s = target as Session;
        return s.expiresAtMs === d && state.sessions.get(s.id) === s;
      }
      case KIND_WAITER: {
        const w = target as Waiter;
        return (
          w.alive &&
          // Stryker disable next-line ConditionalExpression: implied: a waiter's deadline never moves (readonly), so each of its entries carries it
          w.deadlineMs === d
        );
      }
      case KIND_LOCK_DELAY: {
        const rec = target as LockRecord;
        const ext = rec.ext;
        return (
          ext !== null &&
          // Stryker disable next-line ConditionalExpression: each test alone tells a stale entry: a new end takes a new delaySeq (extendLeases rebuilds the heap instead), a cleared delay's end is past and never set again, a removed record has no ext
          ext.delayUntilMs === d && ext.delaySeq === seq && state.locks.get(rec.name) === rec
        );
      }
      // Stryker disable next-line ConditionalExpression: unreachable: every entry is pushed with one of the kinds above
      default:
        // Stryker disable next-line BooleanLiteral: unreachable (see above)
        return false;
    }
  }
}

function due(kind: number, target: Target): Due {
  switch (kind) {
    case KIND_INLINE_HOLD:
      return { kind: 'hold', rec: target as LockRecord, hold: target as LockRecord };
    case KIND_MORE_HOLD:
      return { kind: 'hold', rec: (target as Holder).rec, hold: target as Holder };
    case KIND_SESSION:
      return { kind: 'session', session: target as Session };
    case KIND_WAITER:
      return { kind: 'waiter', waiter: target as Waiter };
    case KIND_LOCK_DELAY:
      return { kind: 'lockDelay', rec: target as LockRecord };
    // Stryker disable next-line ConditionalExpression: unreachable: every entry is pushed with one of the kinds above
    default:
      // Stryker disable next-line StringLiteral: unreachable (see above)
      throw new InvariantError(`unknown deadline kind ${kind}`);
  }
}
