import type { LockWatches } from '../node/lock-watches.js';
import { assert } from '../raft/invariant.js';

/** LeaderState is an election's leader as the table has it right after an entry: stored owner, token, value. */
export interface LeaderState {
  readonly owner: string;
  readonly token: number;
  readonly value: string | null;
  readonly expiresAtMs: number;
}

/** LeaderChange is the leader (or none) from entry `index` on. */
export interface LeaderChange {
  readonly index: number;
  readonly leader: LeaderState | null;
}

interface Followed {
  /** Changes from this index on are all in `changes`. */
  readonly fromIndex: number;
  readonly changes: LeaderChange[];
  readonly leave: () => void;
}

/** ElectionHistoryOptions bound what one member remembers. */
export interface ElectionHistoryOptions {
  /** Most elections followed at once; the least recently read one is dropped for a new one. */
  readonly electionsMax: number;
  /** Most changes kept per election; an observer further behind gets the current leader only. */
  readonly changesMax: number;
}

/**
 * ElectionHistory remembers the recent leadership changes of the elections
 * observers read on this member, so that a blocking read of an election
 * (`GET /v1/elections/:name?index=N`) can answer every change after N in
 * order, not only the newest: an observer then sees a leadership that lasted
 * less than its round trip too. It follows an election from the first read
 * of it here (a parked watch that never leaves, woken by every entry that
 * touches the name), so after a leader change the new leader knows the
 * changes from the observer's first read there on; before that, and for an
 * observer further behind than changesMax, it answers null (no history) and
 * the read answers the current leader, as a plain blocking read does.
 */
export class ElectionHistory {
  private readonly followed = new Map<string, Followed>();

  constructor(
    private readonly watches: LockWatches,
    private readonly opts: ElectionHistoryOptions,
  ) {
    assert(opts.electionsMax >= 1 && opts.changesMax >= 1, 'bad election history bounds');
  }

  /**
   * follow starts remembering the changes of election `name` (or marks it read
   * recently); `read` is its leader now, `indexNow` the name's index now.
   */
  follow(name: string, indexNow: number, read: () => LeaderState | null): void {
    const known = this.followed.get(name);
    if (known !== undefined) {
      // Re-insert: the Map's order is the order of the last reads, oldest first.
      this.followed.delete(name);
      this.followed.set(name, known);
      return;
    }
    const changes: LeaderChange[] = [{ index: indexNow, leader: read() }];
    const leave = this.watches.park({ name }, (index, reset) => {
      if (reset) {
        // The table was replaced: what happened before `index` is unknown. Forget; the next read follows anew.
        if (this.followed.get(name)?.changes === changes) this.followed.delete(name);
        return true;
      }
      const leader = read();
      if (!sameLeader(changes[changes.length - 1]!.leader, leader)) {
        changes.push({ index, leader });
        if (changes.length > this.opts.changesMax) changes.shift();
      }
      return false;
    });
    // No room among the parked watches: serve this read without a history.
    if (leave === null) return;
    this.followed.set(name, { fromIndex: indexNow, changes, leave });
    while (this.followed.size > this.opts.electionsMax) {
      const [oldest, f] = this.followed.entries().next().value as [string, Followed];
      f.leave();
      this.followed.delete(oldest);
    }
  }

  /**
   * changesAfter lists the changes of `name` after index `after`, oldest
   * first, or null when this member cannot tell them all (it started
   * following later, or dropped some).
   */
  changesAfter(name: string, after: number): LeaderChange[] | null {
    const f = this.followed.get(name);
    if (f === undefined || after < f.fromIndex || after < f.changes[0]!.index) return null;
    return f.changes.filter((c) => c.index > after);
  }

  /** close stops following everything (the plugin's server closes). */
  close(): void {
    for (const f of this.followed.values()) f.leave();
    this.followed.clear();
  }
}

function sameLeader(a: LeaderState | null, b: LeaderState | null): boolean {
  if (a === null || b === null) return a === b;
  return a.owner === b.owner && a.token === b.token && a.value === b.value;
}
