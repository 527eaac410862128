import type { ExpireOk } from '../locks/index.js';
import type { NodeId, SoftState } from '../raft/index.js';
import { assert } from '../raft/invariant.js';

/** LeaderChange is a change of the leader (or term) as this member saw it. */
export interface LeaderChange {
  readonly kind: 'leader';
  /** This machine's wall clock when it saw the change: for people reading the status page, never for leases. */
  readonly wallTimeMs: number;
  readonly term: number;
  /** The new leader; null while an election runs. */
  readonly leader: NodeId | null;
}

/** Expiry is an applied `expire` entry that removed something. */
export interface Expiry {
  readonly kind: 'expiry';
  readonly wallTimeMs: number;
  /** The entry's Raft index: the same on every member. */
  readonly index: number;
  readonly holdsExpired: number;
  readonly sessionsExpired: number;
  readonly waitersTimedOut: number;
}

/** RecentEvent is one entry of a member's recent history, as `/v1/dashboard/members` shows it. */
export type RecentEvent = LeaderChange | Expiry;

/** RECENT_EVENTS_MAX bounds the history: the status page shows the newest few, nobody needs more. */
export const RECENT_EVENTS_MAX = 100;

/**
 * RecentEvents is a member's bounded history of leader changes and expiries,
 * for the status page. It only observes: the host calls noteSoftState from its
 * onSoftState and noteApplied for each applied command; nothing reads it back
 * into the replicated state. The oldest event is dropped once it holds
 * `capacity`.
 */
export class RecentEvents {
  private readonly events: RecentEvent[] = [];
  private lastTerm = 0;
  private lastLeader: NodeId | null = null;

  constructor(
    private readonly wallClockMs: () => number,
    private readonly capacity = RECENT_EVENTS_MAX,
  ) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, () => `RecentEvents capacity ${capacity} must be a positive integer`);
  }

  /** noteSoftState records a new leader, or a new term without one (an election); other soft-state changes are not events. */
  noteSoftState(soft: SoftState): void {
    if (soft.leader === this.lastLeader && soft.term === this.lastTerm) return;
    // A term that moved on while the leader stayed unknown is the same election going on: one event for it.
    if (soft.leader === null && this.lastLeader === null) {
      this.lastTerm = soft.term;
      return;
    }
    this.lastTerm = soft.term;
    this.lastLeader = soft.leader;
    this.push({ kind: 'leader', wallTimeMs: this.wallClockMs(), term: soft.term, leader: soft.leader });
  }

  /** noteExpiry records an applied `expire` entry that removed a hold, a session or a waiter. */
  noteExpiry(index: number, outcome: ExpireOk): void {
    if (outcome.holdsExpired + outcome.sessionsExpired + outcome.waitersTimedOut === 0) return;
    const { holdsExpired, sessionsExpired, waitersTimedOut } = outcome;
    this.push({ kind: 'expiry', wallTimeMs: this.wallClockMs(), index, holdsExpired, sessionsExpired, waitersTimedOut });
  }

  /** list is the history, newest first. */
  list(): RecentEvent[] {
    return [...this.events].reverse();
  }

  private push(event: RecentEvent): void {
    this.events.push(event);
    if (this.events.length > this.capacity) this.events.shift();
    assert(this.events.length <= this.capacity, 'the recent events exceed their bound');
  }
}
