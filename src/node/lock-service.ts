import { LeaseTable, SNAPSHOT_STEP_RECORDS, type CommandResult, type LockCommand, type LockEvent, type LockStats } from '../locks/index.js';
import type { SoftState } from '../raft/index.js';
import { decodeCommand, encodeCommand } from './command-codec.js';
import { OverloadedError } from './errors.js';
import type { HostClock, HostScheduler, TimerHandle } from './host-io.js';
import { LeaseClock } from './lease-clock.js';
import { LockWatches } from './lock-watches.js';
import type { Logger, RaftHost, ReplicatedApp } from './raft-host.js';
import { SessionKeepalives } from './session-keepalives.js';

/** LockServiceCounters are monotonic counters for /metrics. */
export interface LockServiceCounters {
  applied: number;
  expireProposals: number;
  /** Terms this node led whose no-op it applied, so it took a lease time base (lease-clock.ts). */
  leaseTimeBases: number;
  /** Applied cancelWait entries that undid a grant nobody could receive (src/locks/undelivered-grants.ts). */
  grantsUndone: number;
  /** What applied expire entries removed since this process started: holds whose lease (or session) ended, sessions, waiters whose wait ran out. */
  expired: { holds: number; sessions: number; waits: number };
}

/** Keepalives that may wait for one leadership confirmation round; more are refused as overloaded. */
const MAX_CONFIRMS_WAITING = 100_000;

/** The least time between the starts of two keepalive confirmation rounds: at most this much added latency. */
const CONFIRM_ROUND_GAP_MS = 2;

/** How many lock names' modification indexes a member remembers (lock-watches.ts); older ones fold into a floor. */
const WATCH_TRACKED_NAMES_MAX = 100_000;

/** LockServiceOptions configure one member's lock service. */
export interface LockServiceOptions {
  readonly logger: Logger;
  /** The largest number of concurrent long-polls this node holds open: waiting acquires, and as many watches. */
  readonly maxWaiters: number;
  /** How often the leader looks for a passed deadline. */
  readonly expiryCheckMs: number;
  /** Only the monotonic clock is read (lease-clock.ts); the wall clock never decides a lease. */
  readonly clock: HostClock;
  readonly scheduler: HostScheduler;
  /** Observes every applied command and its result (the status page's recent expiries); must not throw or change the table. */
  readonly onApplied?: (command: LockCommand, result: CommandResult, index: number) => void;
  /** How long a keepalive answered from memory waits for the quorum's confirmation of leadership (default 5,000). */
  readonly keepaliveConfirmTimeoutMs?: number;
  /** Checkpoint in-memory keepalives once a stored session expiry is this close (default 1,000 ms of table time). */
  readonly sessionCheckpointLookaheadMs?: number;
  /** Records per slice of a snapshot encoded between event-loop turns (default SNAPSHOT_STEP_RECORDS); the simulation makes it tiny. */
  readonly snapshotStepRecords?: number;
}

/** CommandDone answers a submitted command: (null, result) once applied, or the error. */
export type CommandDone = (err: Error | null, result?: CommandResult) => void;

/**
 * LockService is the lease table as a replicated application: it applies
 * committed commands, wakes the long-polls of waiters named in the events,
 * and, while this node leads, stamps commands with table time and proposes
 * `expire` when a deadline has passed. Table time comes from the LeaseClock:
 * the table's time when this leader applied its term's no-op, advanced by
 * this machine's monotonic clock. Before that no-op has applied the leader
 * has no table time: it proposes no expiry and stamps its commands 0 ("no
 * time"), and no wall clock ever stands in for it (issue 11).
 */
export class LockService implements ReplicatedApp {
  private table = new LeaseTable();
  private host: RaftHost | null = null;
  private readonly waiters = new Map<string, (event: LockEvent) => void>();
  private expireInFlight = false;
  /** Keepalives waiting for the next leadership confirmation, and whether one is in flight (confirmLeadership). */
  private confirmNext: ((err: Error | null) => void)[] = [];
  private confirmInFlight = false;
  private confirmStartedMs = Number.NEGATIVE_INFINITY;
  protected readonly leaseClock: LeaseClock;
  private timer: TimerHandle | null = null;
  readonly counters: LockServiceCounters = { applied: 0, expireProposals: 0, leaseTimeBases: 0, grantsUndone: 0, expired: { holds: 0, sessions: 0, waits: 0 } };
  /** watches are the modification indexes of lock names and the blocking reads parked on them. */
  readonly watches: LockWatches;
  /** The leader's keepalives answered from memory and their checkpoints (session-keepalives.ts). */
  readonly keepalives: SessionKeepalives;

  constructor(protected readonly opts: LockServiceOptions) {
    this.leaseClock = new LeaseClock(opts.clock);
    this.keepalives = new SessionKeepalives(
      {
        table: () => this.table,
        propose: (command, done) => this.submit(command, done),
        confirmLeadership: (done) => this.confirmLeadership(done),
      },
      opts.sessionCheckpointLookaheadMs ?? 1_000,
    );
    this.watches = new LockWatches({ maxWatches: opts.maxWaiters, maxTrackedNames: WATCH_TRACKED_NAMES_MAX });
  }

  attach(host: RaftHost): void {
    this.host = host;
    this.timer = this.opts.scheduler.every(this.opts.expiryCheckMs, () => this.maybeProposeExpire());
  }

  detach(): void {
    if (this.timer !== null) this.opts.scheduler.cancel(this.timer);
    this.timer = null;
  }

  get lockTable(): LeaseTable {
    return this.table;
  }

  /**
   * tableNowMs is the lease table's time now, to turn its deadlines into remaining times for answers: a leader with
   * a time base knows it (lease-clock.ts); elsewhere it is the newest applied stamp, which lags, so remaining times
   * read there are generous (a follower's view is informational; clients date leases from the leader's answers).
   */
  tableNowMs(): number {
    const host = this.host;
    if (host !== null && host.isLeader() && this.leaseClock.hasBase(host.term)) return Math.max(this.table.nowMs, this.leaseClock.stampMs(host.term));
    return this.table.nowMs;
  }

  stats(): LockStats {
    return this.table.stats();
  }

  // ---- ReplicatedApp ---------------------------------------------------------------

  applyEntry(data: Uint8Array, index: number): CommandResult {
    const { timeMs, command } = decodeCommand(data);
    const outcome = this.table.apply(command, { index, timeMs });
    this.counters.applied++;
    if (command.type === 'cancelWait' && outcome.result.ok && 'released' in outcome.result) this.counters.grantsUndone++;
    if (outcome.result.ok && 'holdsExpired' in outcome.result) {
      const expired = this.counters.expired;
      expired.holds += outcome.result.holdsExpired;
      expired.sessions += outcome.result.sessionsExpired;
      expired.waits += outcome.result.waitersTimedOut;
    }
    for (const event of outcome.events) this.waiters.get(event.waiterId)?.(event);
    this.opts.onApplied?.(command, outcome.result, index);
    this.watches.noteApplied(index, outcome.touched);
    return outcome.result;
  }

  /**
   * applyTermStart: the no-op that opens `term` applied here (Raft §8). Every entry committed before the term has
   * applied, so the table's time is the newest stamp of any earlier leader: if this node leads `term`, that is its
   * lease time base.
   */
  applyTermStart(term: number): void {
    const host = this.host;
    if (host === null || !host.isLeader() || host.term !== term) return;
    this.leaseClock.startTerm(term, this.table.nowMs);
    this.keepalives.startTerm(term, this.table.nowMs);
    this.counters.leaseTimeBases++;
    this.maybeProposeExpire();
  }

  snapshot(): Uint8Array {
    return this.table.snapshot();
  }

  snapshotEncoder(): { step(): Uint8Array | null } {
    const encoder = this.table.snapshotEncoder();
    const records = this.opts.snapshotStepRecords ?? SNAPSHOT_STEP_RECORDS;
    return { step: () => encoder.step(records) };
  }

  restore(data: Uint8Array): void {
    this.table = LeaseTable.restore(data);
    this.watches.reset(this.table.appliedIndex);
  }

  // ---- Proposals ---------------------------------------------------------------------

  /**
   * submit replicates a command stamped with this leader's table time (lease-clock.ts) and calls `done` with its
   * result. A keepalive on a leader with a time base is answered from memory instead (session-keepalives.ts): no
   * log entry, once a quorum confirmed the leadership; before the base it goes through the log as before.
   */
  submit(command: LockCommand, done: CommandDone): void {
    const host = this.requireHost();
    const term = host.term;
    if (command.type === 'keepalive' && host.isLeader() && this.keepalives.leads(term)) {
      this.keepalives.keepalive(command.sessionId, this.stampMs(command, term), done);
      return;
    }
    this.submitStamped(this.stampMs(command, term), command, done);
  }

  private submitStamped(stampMs: number, command: LockCommand, done: CommandDone): void {
    this.requireHost().submit(encodeCommand(stampMs, command), done as (err: Error | null, result?: unknown) => void);
  }

  /**
   * confirmLeadership calls `done(null)` once a quorum confirmed after this call that this node leads (ReadIndex);
   * an in-memory keepalive is answered only then (the simulation's broken variants override it).
   */
  protected confirmLeadership(done: (err: Error | null) => void): void {
    if (this.confirmNext.length >= MAX_CONFIRMS_WAITING) return this.opts.scheduler.defer(() => done(new OverloadedError('the keepalive confirmations')));
    this.confirmNext.push(done);
    if (!this.confirmInFlight) this.scheduleConfirmRound();
  }

  /** scheduleConfirmRound starts the next round at once, or once CONFIRM_ROUND_GAP_MS passed since the last one began. */
  private scheduleConfirmRound(): void {
    const waitMs = this.confirmStartedMs + CONFIRM_ROUND_GAP_MS - this.opts.clock.monotonicMs();
    if (waitMs <= 0) return this.startConfirmRound();
    this.confirmInFlight = true;
    this.opts.scheduler.after(waitMs, () => this.startConfirmRound());
  }

  /**
   * startConfirmRound asks one ReadIndex round for every keepalive waiting: at most one round is in flight, and a
   * keepalive that arrives meanwhile waits for the next one, which is requested after it arrived (one heartbeat round
   * per batch instead of one per keepalive), and rounds begin at least CONFIRM_ROUND_GAP_MS apart: the followers
   * answer each round, so back-to-back rounds cost them about what a log entry per keepalive did.
   */
  private startConfirmRound(): void {
    const batch = this.confirmNext;
    this.confirmNext = [];
    this.confirmInFlight = true;
    this.confirmStartedMs = this.opts.clock.monotonicMs();
    this.requireHost().requestRead(this.opts.keepaliveConfirmTimeoutMs ?? 5_000, (err) => {
      this.confirmInFlight = false;
      for (const done of batch) done(err);
      if (this.confirmNext.length > 0) this.scheduleConfirmRound();
    });
  }

  /**
   * sessionExpiresAtMs is a session's expiry as this node knows it: on the leader, with the keepalives it answered
   * from memory; elsewhere the table's (which lags them: a follower's view is informational). Null when unknown.
   */
  sessionExpiresAtMs(sessionId: string): number | null {
    const host = this.host;
    if (host !== null && host.isLeader() && this.keepalives.leads(host.term)) return this.keepalives.expiresAtMs(sessionId);
    return this.table.sessionLease(sessionId)?.expiresAtMs ?? null;
  }

  /** stampMs is the table time a command proposed now carries (the simulation's broken variants override it). */
  protected stampMs(_command: LockCommand, term: number): number {
    return this.leaseClock.stampMs(term);
  }

  /** execute is submit as a promise. */
  execute(command: LockCommand): Promise<CommandResult> {
    return new Promise((resolve, reject) => this.submit(command, (err, result) => (err === null ? resolve(result!) : reject(err))));
  }

  /**
   * registerWaiter subscribes to the events of `waiterId` before the acquire is
   * proposed, so an event applied in the same batch as the acquire is not missed.
   * Returns the unsubscribe function, or null when too many long-polls are open.
   */
  registerWaiter(waiterId: string, onEvent: (event: LockEvent) => void): (() => void) | null {
    if (this.waiters.size >= this.opts.maxWaiters || this.waiters.has(waiterId)) return null;
    this.waiters.set(waiterId, onEvent);
    return () => {
      if (this.waiters.get(waiterId) === onEvent) this.waiters.delete(waiterId);
    };
  }

  /** onSoftState: a node that stops leading forgets its time base; a new term's base comes from its no-op. */
  onSoftState(soft: SoftState): void {
    if (soft.role === 'leader') return;
    this.expireInFlight = false;
    this.leaseClock.stop();
    this.keepalives.drop();
  }

  /**
   * tableTimeForExpiry is the table time this leader compares deadlines with, or null when it must not expire
   * anything yet (no base for its term). An `expire` changes nothing beyond its own stamp (the table expires what
   * is due by its time), so the stamp is what must never run ahead; the check here only saves useless proposals.
   */
  protected tableTimeForExpiry(term: number): number | null {
    return this.leaseClock.hasBase(term) ? this.leaseClock.stampMs(term) : null;
  }

  /**
   * maybeProposeExpire runs on every expiry check: a leader proposes `expire` once table time passes a deadline,
   * when its in-memory keepalives allow (the session reset of its term applied, no checkpoint in flight, no
   * keepalive that is only in memory on a session whose stored expiry is due). The expire is stamped with the very
   * time that check used, so it expires nothing the check did not look at.
   */
  private maybeProposeExpire(): void {
    const host = this.host;
    if (host === null || !host.isLeader() || !this.keepalives.leads(host.term)) return;
    const nowMs = this.tableTimeForExpiry(host.term);
    if (nowMs === null) return;
    if (!this.keepalives.prepareExpiry(nowMs) || this.expireInFlight) return;
    const deadline = this.table.nextDeadlineMs();
    if (deadline === null || deadline > nowMs) return;
    this.expireInFlight = true;
    this.counters.expireProposals++;
    this.submitStamped(nowMs, { type: 'expire' }, (err) => {
      this.expireInFlight = false;
      // Stryker disable next-line all: a debug log line; the retry is the next expiry check either way
      if (err !== null) this.opts.logger.debug({ err }, 'expire proposal failed');
    });
  }

  private requireHost(): RaftHost {
    if (this.host === null) throw new Error('LockService used before attach()');
    return this.host;
  }
}
