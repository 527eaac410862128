/**
 * What a host owes its callers: proposals waiting for their entry to apply,
 * and linearizable reads waiting for their read index (thesis §6.4). Each has
 * a timer, and each is answered exactly once.
 */
import { assert } from '../raft/index.js';
import { NotLeaderError, OutcomeUnknownError, ProposalDroppedError } from './errors.js';
import type { HostClock, HostScheduler, TimerHandle } from './host-io.js';

/** ProposalDone answers a proposer: (null, result) once its entry applied, or the error. */
export type ProposalDone = (err: Error | null, result?: unknown) => void;

interface PendingProposal {
  readonly term: number;
  readonly done: ProposalDone;
  /** When (on the host's monotonic clock) the proposer is answered outcome_unknown if its entry has not applied. */
  readonly deadlineMs: number;
}

/**
 * PendingProposals maps the log position each proposal landed at to its caller.
 * One slot per index: a proposal at an index that an older proposal still holds
 * means that older entry was overwritten here (this node's log now ends before
 * it, under a newer term), so it is answered proposal_dropped at once.
 *
 * One timer serves them all: every proposal waits the same timeoutMs, so the
 * map's insertion order is deadline order and the timer only needs to be armed
 * for the oldest. A timer per proposal (a setTimeout and a clearTimeout per
 * write) was 3% of a busy leader's CPU.
 */
export class PendingProposals {
  private readonly byIndex = new Map<number, PendingProposal>();
  private timer: TimerHandle | null = null;

  constructor(
    private readonly scheduler: HostScheduler,
    private readonly clock: Pick<HostClock, 'monotonicMs'>,
    private readonly timeoutMs: number,
  ) {}

  get size(): number {
    return this.byIndex.size;
  }

  /** add registers the proposal accepted at (index, term). */
  add(index: number, term: number, done: ProposalDone): void {
    const older = this.byIndex.get(index);
    if (older !== undefined) {
      // Raft §5.3: an index is reused only after its entry was truncated, and only under a higher term.
      assert(older.term < term, () => `proposal at index ${index} term ${term} while term ${older.term} is pending there`);
      this.finish(index, older, new ProposalDroppedError());
    }
    // Appended last: deadlines never decrease (one timeout, a monotonic clock), so the map stays in deadline order.
    this.byIndex.set(index, { term, done, deadlineMs: this.clock.monotonicMs() + this.timeoutMs });
    if (this.timer === null) this.arm(this.timeoutMs);
  }

  /**
   * settle answers the proposal at `index`, if any, now that the entry (index, term) applied with `result`.
   * Returns true when a proposer was told its entry applied.
   */
  settle(index: number, term: number, result: unknown): boolean {
    const p = this.byIndex.get(index);
    if (p === undefined) return false;
    // Raft §5.3 log matching: the same index with the same term is the same entry; another term means ours was overwritten.
    if (p.term !== term) {
      this.finish(index, p, new ProposalDroppedError());
      return false;
    }
    this.finish(index, p, null, result);
    return true;
  }

  /** failThrough answers every proposal at or below `index` (a snapshot covered them: whose entry landed is unknown). */
  failThrough(index: number, err: Error): void {
    for (const [i, p] of this.byIndex) if (i <= index) this.finish(i, p, err);
  }

  failAll(err: Error): void {
    for (const [i, p] of this.byIndex) this.finish(i, p, err);
    if (this.timer !== null) this.scheduler.cancel(this.timer);
    this.timer = null;
  }

  private arm(ms: number): void {
    this.timer = this.scheduler.after(ms, () => {
      this.timer = null;
      this.expire();
    });
  }

  /** expire answers outcome_unknown to every proposal past its deadline (the oldest first) and re-arms for the next. */
  private expire(): void {
    const nowMs = this.clock.monotonicMs();
    const late: PendingProposal[] = [];
    // Bounded by the map's size; stops at the first proposal still in time (the rest are younger).
    for (const [i, p] of this.byIndex) {
      if (p.deadlineMs > nowMs) {
        this.arm(p.deadlineMs - nowMs);
        break;
      }
      this.byIndex.delete(i);
      late.push(p);
    }
    // Answered once the timer is re-armed: a caller that proposes again from its callback finds a consistent state.
    for (const p of late) p.done(new OutcomeUnknownError());
  }

  private finish(index: number, p: PendingProposal, err: Error | null, result?: unknown): void {
    this.byIndex.delete(index);
    p.done(err, result);
  }
}

/** ReadDone answers a read barrier: null once the caller may read its node's state. */
export type ReadDone = (err: Error | null) => void;

interface PendingRead {
  readonly done: ReadDone;
  readonly timer: TimerHandle;
  /** The read index once the core has confirmed leadership (null before). */
  index: number | null;
}

/** PendingReads tracks ReadIndex requests by their context until this node has applied their read index. */
export class PendingReads {
  private readonly byContext = new Map<string, PendingRead>();

  constructor(private readonly scheduler: HostScheduler) {}

  get size(): number {
    return this.byContext.size;
  }

  add(context: string, timeoutMs: number, leaderOnTimeout: () => string | null, done: ReadDone): void {
    assert(!this.byContext.has(context), () => `read context ${context} reused`);
    const read: PendingRead = {
      done,
      index: null,
      timer: this.scheduler.after(timeoutMs, () => {
        // Stryker disable next-line ConditionalExpression: finish() cancels this timer whenever the read leaves the map, so the check holds whenever the timer runs
        if (this.byContext.get(context) === read) this.finish(context, read, new NotLeaderError(leaderOnTimeout()));
      }),
    };
    this.byContext.set(context, read);
  }

  /** confirmed records the read index the core answered for `context`. */
  confirmed(context: string, index: number): void {
    const read = this.byContext.get(context);
    if (read !== undefined) read.index = index;
  }

  /** settle answers every confirmed read whose index this node has applied. */
  settle(appliedIndex: number): void {
    for (const [context, read] of this.byContext) {
      if (read.index !== null && read.index <= appliedIndex) this.finish(context, read, null);
    }
  }

  failAll(err: Error): void {
    for (const [context, read] of this.byContext) this.finish(context, read, err);
  }

  private finish(context: string, read: PendingRead, err: Error | null): void {
    this.byContext.delete(context);
    this.scheduler.cancel(read.timer);
    read.done(err);
  }
}
