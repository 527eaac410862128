import { LeaseTable, type CommandResult, type LockCommand, type LockEvent, type LockStats } from '../locks/index.js';
import type { SoftState } from '../raft/index.js';
import { decodeCommand, encodeCommand } from './command-codec.js';
import type { Logger, RaftHost, ReplicatedApp } from './raft-host.js';

/** LockServiceCounters are monotonic counters for /metrics. */
export interface LockServiceCounters {
  applied: number;
  expireProposals: number;
  leaseExtensions: number;
}

/**
 * LockService is the lease table as a replicated application: it applies
 * committed commands, wakes the long-polls of waiters named in the events,
 * and, while this node leads, proposes the time-driven commands (extend
 * leases on taking office, expire when a deadline has passed).
 */
export class LockService implements ReplicatedApp {
  private table = new LeaseTable();
  private host: RaftHost | null = null;
  private readonly waiters = new Map<string, (event: LockEvent) => void>();
  private expireInFlight = false;
  private timer: NodeJS.Timeout | null = null;
  readonly counters: LockServiceCounters = { applied: 0, expireProposals: 0, leaseExtensions: 0 };

  constructor(
    private readonly logger: Logger,
    /** A new leader extends every lease by this much (at least one maximum election timeout). */
    private readonly leaseExtensionMs: number,
    /** The largest number of concurrent long-polls this node holds open. */
    private readonly maxWaiters: number,
  ) {}

  attach(host: RaftHost, tickMs: number): void {
    this.host = host;
    this.timer = setInterval(() => this.maybeProposeExpire(), tickMs);
  }

  detach(): void {
    if (this.timer !== null) clearInterval(this.timer);
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

  /** execute replicates a command stamped with this (leader) node's clock and resolves with its result. */
  async execute(command: LockCommand): Promise<CommandResult> {
    const host = this.requireHost();
    return (await host.propose(encodeCommand(Date.now(), command))) as CommandResult;
  }

  /**
   * registerWaiter subscribes to the events of `waiterId` before the acquire is
   * proposed, so an event applied in the same batch as the acquire is not missed.
   * Returns the unsubscribe function, or null when too many long-polls are open.
   */
  registerWaiter(waiterId: string, onEvent: (event: LockEvent) => void): (() => void) | null {
    if (this.waiters.size >= this.maxWaiters || this.waiters.has(waiterId)) return null;
    this.waiters.set(waiterId, onEvent);
    return () => {
      if (this.waiters.get(waiterId) === onEvent) this.waiters.delete(waiterId);
    };
  }

  /** onSoftState reacts to leadership: a new leader first extends every lease (lock-service contract). */
  onSoftState(soft: SoftState): void {
    if (soft.role !== 'leader') {
      this.expireInFlight = false;
      return;
    }
    this.counters.leaseExtensions++;
    this.execute({ type: 'extendLeases', byMs: this.leaseExtensionMs }).catch((err: unknown) =>
      this.logger.warn({ err }, 'extendLeases proposal failed; leases are extended by the next leader'),
    );
  }

  private maybeProposeExpire(): void {
    const host = this.host;
    if (host === null || !host.isLeader() || this.expireInFlight) return;
    const deadline = this.table.nextDeadlineMs();
    if (deadline === null || deadline > Date.now()) return;
    this.expireInFlight = true;
    this.counters.expireProposals++;
    this.execute({ type: 'expire' })
      .catch((err: unknown) => this.logger.debug({ err }, 'expire proposal failed'))
      .finally(() => {
        this.expireInFlight = false;
      });
  }

  private requireHost(): RaftHost {
    if (this.host === null) throw new Error('LockService used before attach()');
    return this.host;
  }
}
