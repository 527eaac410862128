import type { CommandResult, LockCommand, LockEvent, LockView, SessionView, TokenCheck, WaiterView } from '../locks/index.js';
import type { LockWatches } from '../node/lock-watches.js';
import type { RecentEvent } from '../node/recent-events.js';
import type { MemberProblem } from '../node/member-health.js';
import type { AdminBackend } from './admin-backend.js';
import type { NodeId, Role } from '../raft/index.js';
import type { PeerHttp } from './peer-http.js';

/** LockTableView is the read side of the lease table that the routes show. */
export interface LockTableView {
  get(name: string): LockView | null;
  list(prefix: string, limit: number, after?: string): LockView[];
  checkToken(name: string, token: number): TokenCheck;
  session(id: string): SessionView | null;
  /** waiters lists up to `limit` waiters of a lock in queue order. */
  waiters(name: string, limit: number): WaiterView[];
  /** sessions describes up to `limit` sessions, oldest first. */
  sessions(limit: number): SessionView[];
  /** size is the number of lock records (held, waited for, or in lock-delay). */
  readonly size: number;
  /** stats are the table's gauges (sessions, waiters, locks held). */
  stats(): { readonly sessions: number };
}

/** NodeStatus is what `/v1/status` shows of one member. */
export interface NodeStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The voters of the configuration in force here. */
  readonly members: NodeId[];
  /** Its learners (non-voting members catching up); absent where there is no membership (the client tests). */
  readonly learners?: NodeId[];
  /** The cluster this member's store belongs to (absent where there is no store, as in the client tests). */
  readonly clusterId?: string;
  /** What is wrong with this member as a member (removed, diverged, refused by its peers); /readyz fails while any is. */
  readonly problems?: readonly MemberProblem[];
}

/**
 * LockBackend is everything the HTTP routes need from a node, and nothing
 * more: in production the RaftHost and LockService of one member
 * (raft-lock-backend.ts); in the client tests a lease table applied in process.
 * Failures are RaftLockErrors, which error-mapping.ts answers by code.
 */
export interface LockBackend {
  /** id is this member's id. */
  readonly id: NodeId;
  /** isLeader says whether this node serves writes and linearizable reads itself; if not, the routes forward them. */
  isLeader(): boolean;
  /** leader is the member this node believes leads, or null. */
  leader(): NodeId | null;
  /** httpUrlOf is a member's HTTP base URL, for forwarding; undefined when it was not configured. */
  httpUrlOf(id: NodeId): string | undefined;
  /** peers is how this node calls other members' HTTP API (relays to the leader), trusting and signing as configured. */
  readonly peers: PeerHttp;
  /** status describes this member for `/v1/status` and `/readyz`. */
  status(): NodeStatus;
  /** execute replicates `command` (on the leader) and resolves with its result once applied here. */
  execute(command: LockCommand): Promise<CommandResult>;
  /** readBarrier resolves once table() reflects every write committed before the call (ReadIndex, on the leader). */
  readBarrier(): Promise<void>;
  /** table is the applied lease table; read it after readBarrier for a linearizable answer. */
  table(): LockTableView;
  /**
   * registerWaiter subscribes to the events of `waiterId` before its acquire is
   * executed, so an event applied with the acquire itself is not missed.
   * Returns the unsubscribe function, or null when too many long-polls are open
   * or this id already waits.
   */
  registerWaiter(waiterId: string, onEvent: (event: LockEvent) => void): (() => void) | null;
  /** recentEvents are this member's recent leader changes and expiries, newest first (bounded). */
  recentEvents(): RecentEvent[];
  /** watches are the modification indexes of lock names and the watches parked on them (blocking reads, watch.ts). */
  readonly watches: LockWatches;
  /** nowMs is the lease table's time now (the clock deadlines are in), to turn them into `expiresInMs`. */
  nowMs(): number;
  /** waitEnded hears how long a queued acquire's long-poll waited here, in milliseconds, and whether it got the lock (for /metrics). */
  waitEnded?(waitedMs: number, granted: boolean): void;
}

/** BackendPluginOptions are the options of every route plugin: the backend it serves, and a real member's admin side. */
export interface BackendPluginOptions {
  readonly backend: LockBackend;
  readonly admin?: AdminBackend;
}
