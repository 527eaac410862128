import { LeaseTable, type CommandResult, type LockCommand, type LockEvent, type LockStats } from '../locks/index.js';
import type { SoftState } from '../raft/index.js';
import { decodeCommand, encodeCommand } from './command-codec.js';
import type { HostClock, HostScheduler, TimerHandle } from './host-io.js';
import type { Logger, RaftHost, ReplicatedApp } from './raft-host.js';

/** LockServiceCounters are monotonic counters for /metrics. */
export interface LockServiceCounters {
  applied: number;
  expireProposals: number;
  leaseExtensions: number;
}

/** LockServiceOptions configure one member's lock service. */
export interface LockServiceOptions {
  readonly logger: Logger;
  /** A new leader extends every lease by this much (at least one maximum election timeout). */
  readonly leaseExtensionMs: number;
  /** The largest number of concurrent long-polls this node holds open. */
  readonly maxWaiters: number;
  /** How often the leader looks for a passed deadline. */
  readonly expiryCheckMs: number;
  readonly clock: HostClock;
  readonly scheduler: HostScheduler;
}

/** CommandDone answers a submitted command: (null, result) once applied, or the error. */
export type CommandDone = (err: Error | null, result?: CommandResult) => void;

/**
 * LockService is the lease table as a replicated application: it applies
 * committed commands, wakes the long-polls of waiters named in the events,
 * and, while this node leads, proposes the time-driven commands: first
 * `extendLeases` on taking office, and `expire` when a deadline has passed,
 * but only once this term's extension has applied, so that no expiry of a
 * term can come before its lease extension in the log.
 */
export class LockService implements ReplicatedApp {
  private table = new LeaseTable();
  private host: RaftHost | null = null;
  private readonly waiters = new Map<string, (event: LockEvent) => void>();
  private expireInFlight = false;
  private extendInFlight = false;
  /** The term whose extendLeases entry this node, as that term's leader, has applied. */
  private leaseResetTerm = 0;
  private timer: TimerHandle | null = null;
  readonly counters: LockServiceCounters = { applied: 0, expireProposals: 0, leaseExtensions: 0 };

  constructor(private readonly opts: LockServiceOptions) {}

  attach(host: RaftHost): void {
    this.host = host;
    this.timer = this.opts.scheduler.every(this.opts.expiryCheckMs, () => this.proposeTimeCommands());
  }

  detach(): void {
    if (this.timer !== null) this.opts.scheduler.cancel(this.timer);
    this.timer = null;
  }

  get lockTable(): LeaseTable {
    return this.table;
  }

  stats(): LockStats {
    return this.table.stats();
  }

  // ---- ReplicatedApp ---------------------------------------------------------------

  applyEntry(data: Uint8Array, index: number): CommandResult {
    const { timeMs, command } = decodeCommand(data);
    const outcome = this.table.apply(command, { index, timeMs });
    this.counters.applied++;
    for (const event of outcome.events) this.waiters.get(event.waiterId)?.(event);
    return outcome.result;
  }

  snapshot(): Uint8Array {
    return this.table.snapshot();
  }

  restore(data: Uint8Array): void {
    this.table = LeaseTable.restore(data);
  }

  // ---- Proposals ---------------------------------------------------------------------

  /** submit replicates a command stamped with this (leader) node's wall clock and calls `done` with its result. */
  submit(command: LockCommand, done: CommandDone): void {
    this.requireHost().submit(encodeCommand(this.opts.clock.wallMs(), command), done as (err: Error | null, result?: unknown) => void);
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

  /** onSoftState reacts to leadership: a new leader first extends every lease (lock-service contract). */
  onSoftState(soft: SoftState): void {
    if (soft.role !== 'leader') {
      this.expireInFlight = false;
      this.extendInFlight = false;
      return;
    }
    if (this.leaseResetTerm !== soft.term && !this.extendInFlight) this.proposeLeaseExtension(soft.term);
    this.proposeTimeCommands();
  }

  /**
   * leaseResetApplied says whether this term's lease extension has applied here; expiry waits for it. The expiry
   * timer can see isLeader() before this node's soft-state notice (which proposes the extension) has run, so without
   * this gate an `expire` could be logged ahead of `extendLeases` (the simulation's expire-before-extension variant).
   */
  protected leaseResetApplied(term: number): boolean {
    return this.leaseResetTerm === term;
  }

  /**
   * proposeTimeCommands runs on every expiry check and on taking office. A leader whose term's extendLeases has not
   * applied (re)proposes it; a retried extension after an unknown outcome may extend twice, which only delays expiry.
   */
  private proposeTimeCommands(): void {
    const host = this.host;
    if (host === null || !host.isLeader()) return;
    const term = host.term;
    if (!this.leaseResetApplied(term)) {
      if (!this.extendInFlight) this.proposeLeaseExtension(term);
      return;
    }
    if (this.expireInFlight) return;
    const deadline = this.table.nextDeadlineMs();
    if (deadline === null || deadline > this.opts.clock.wallMs()) return;
    this.expireInFlight = true;
    this.counters.expireProposals++;
    this.submit({ type: 'expire' }, (err) => {
      this.expireInFlight = false;
      if (err !== null) this.opts.logger.debug({ err }, 'expire proposal failed');
    });
  }

  private proposeLeaseExtension(term: number): void {
    this.extendInFlight = true;
    this.counters.leaseExtensions++;
    this.submit({ type: 'extendLeases', byMs: this.opts.leaseExtensionMs }, (err) => {
      this.extendInFlight = false;
      // Applied here under `term` (the host answers success only for the entry it proposed): expiry may follow it.
      if (err === null) this.leaseResetTerm = Math.max(this.leaseResetTerm, term);
      else this.opts.logger.warn({ err }, 'extendLeases proposal failed; it is proposed again');
    });
  }

  private requireHost(): RaftHost {
    if (this.host === null) throw new Error('LockService used before attach()');
    return this.host;
  }
}
