import {
  LeaseTable,
  type CommandResult,
  type HolderView,
  type LeaseTableLimits,
  type LockCommand,
  type LockCommandType,
  type LockEvent,
} from '../../src/locks/index.js';
import { LockWatches } from '../../src/node/lock-watches.js';
import type { LockBackend, LockTableView, NodeStatus } from '../../src/server/lock-backend.js';
import { PeerHttp } from '../../src/server/peer-http.js';

/** How often the in-process "leader" looks for a passed deadline (production checks every 50 ms tick). */
const EXPIRY_CHECK_MS = 10;

/** AppliedWrite is one command the table applied for a client; `deduped` if the table answered it from its exactly-once memory. */
export interface AppliedWrite {
  readonly route: LockCommandType;
  readonly requestId?: string;
  readonly deduped: boolean;
  /** The clock reading the command was stamped with: the table's time for it. */
  readonly atMs: number;
}

/** SessionsView shows whether the table knows a session, and can make it forget one. */
export interface SessionsView {
  /** has says whether `id` is a live session (after expiring what is due). */
  has(id: string): boolean;
  /** delete ends session `id` on the server, as if it had expired there: its locks are released. Not logged in `applied`. */
  delete(id: string): void;
}

/**
 * InProcessLocks is a real LeaseTable applied directly, with no Raft: a
 * command is stamped with `clock` and applied the moment a route executes
 * it, and waiters' events are delivered as LockService delivers them. Like a
 * leader, it applies `expire` as soon as a deadline has passed (checked
 * every EXPIRY_CHECK_MS and before each command). Every node of a test
 * cluster serves this one table, so any node acts as the leader.
 */
export class InProcessLocks {
  /** applied logs every command clients had executed, in order. */
  readonly applied: AppliedWrite[] = [];
  private readonly table: LeaseTable;
  private index = 0;
  private readonly waiters = new Map<string, (event: LockEvent) => void>();
  /**
   * Results the table has returned. A dedupe hit returns the stored result
   * object itself, so seeing one again means the table answered from memory.
   * (A queued acquire's stored result is replaced by a new object when it is
   * granted; a retry of it after that counts as not deduped.)
   */
  private readonly returned = new WeakSet<CommandResult>();
  private readonly expiryTimer: NodeJS.Timeout;
  /** watches are the blocking reads' indexes and parked watches, fed by every apply as LockService feeds them. */
  readonly watches = new LockWatches({ maxWatches: 1_000, maxTrackedNames: 10_000 });

  constructor(
    readonly clock: () => number = Date.now,
    limits: Partial<LeaseTableLimits> = {},
  ) {
    this.table = new LeaseTable(limits);
    this.expiryTimer = setInterval(() => this.expireDue(), EXPIRY_CHECK_MS);
    this.expiryTimer.unref();
  }

  /** locks is the table's read side (lock views, tokens, sessions). */
  get locks(): LockTableView {
    return this.table;
  }

  /** sessions shows and ends sessions. */
  get sessions(): SessionsView {
    return {
      has: (id) => {
        this.expireDue();
        return this.table.session(id) !== null;
      },
      delete: (id) => void this.apply({ type: 'deleteSession', sessionId: id }),
    };
  }

  /** holdersOf lists the current holders of `name`, after expiring what is due. */
  holdersOf(name: string): HolderView[] {
    this.expireDue();
    return this.table.get(name)?.holders ?? [];
  }

  /** backend is one node's LockBackend over this table; `status` describes that node. */
  backend(status: () => NodeStatus): LockBackend {
    return {
      id: status().id,
      isLeader: () => true,
      leader: () => status().leader,
      // Never needed: no node forwards, since every node serves the table itself.
      httpUrlOf: () => undefined,
      peers: new PeerHttp({ signer: null }),
      status,
      execute: async (command) => this.execute(command),
      readBarrier: async () => {},
      table: () => this.table,
      registerWaiter: (waiterId, onEvent) => this.registerWaiter(waiterId, onEvent),
      // Nothing here elects leaders or proposes expiries as entries: no recent events to show.
      recentEvents: () => [],
      watches: this.watches,
      nowMs: () => this.clock(),
    };
  }

  /** appliedIndex is the index of the last command applied. */
  get appliedIndex(): number {
    return this.index;
  }

  /** close stops the expiry timer. */
  close(): void {
    clearInterval(this.expiryTimer);
  }

  private execute(command: LockCommand): CommandResult {
    this.expireDue();
    const atMs = this.clock();
    const result = this.apply(command, atMs);
    const requestId = 'requestId' in command ? command.requestId : undefined;
    this.applied.push({ route: command.type, ...(requestId !== undefined ? { requestId } : {}), deduped: this.returned.has(result), atMs });
    this.returned.add(result);
    return result;
  }

  private apply(command: LockCommand, timeMs = this.clock()): CommandResult {
    const outcome = this.table.apply(command, { index: ++this.index, timeMs });
    for (const event of outcome.events) this.waiters.get(event.waiterId)?.(event);
    // One above the table's index: in a real member index 1 is a term's no-op and lock changes start at 2 (lock-watches.ts).
    this.watches.noteApplied(this.index + 1, outcome.touched);
    return outcome.result;
  }

  private expireDue(): void {
    const deadlineMs = this.table.nextDeadlineMs();
    if (deadlineMs !== null && deadlineMs <= this.clock()) this.apply({ type: 'expire' });
  }

  private registerWaiter(waiterId: string, onEvent: (event: LockEvent) => void): (() => void) | null {
    if (this.waiters.has(waiterId)) return null;
    this.waiters.set(waiterId, onEvent);
    return () => {
      if (this.waiters.get(waiterId) === onEvent) this.waiters.delete(waiterId);
    };
  }
}
