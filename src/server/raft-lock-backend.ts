import type { CommandResult, LockCommand, LockEvent, SessionView } from '../locks/index.js';
import type { LockService } from '../node/lock-service.js';
import type { LockWatches } from '../node/lock-watches.js';
import type { MemberHealth } from '../node/member-health.js';
import type { RaftHost } from '../node/raft-host.js';
import type { RecentEvent, RecentEvents } from '../node/recent-events.js';
import { recordOf, type NodeId } from '../raft/index.js';
import type { LockBackend, LockTableView, NodeStatus } from './lock-backend.js';
import type { PeerHttp } from './peer-http.js';

/** RaftLockBackendOptions wire the routes to one member. */
export interface RaftLockBackendOptions {
  readonly host: RaftHost;
  readonly locks: LockService;
  /** Each member's HTTP base URL, for forwarding to the leader (members added at run time advertise theirs in the configuration). */
  readonly peerHttp: Readonly<Record<NodeId, string>>;
  /** How long a linearizable read waits for the leader to confirm itself. */
  readonly readTimeoutMs: number;
  /** The cluster the member's store belongs to. */
  readonly clusterId: string;
  readonly health: Pick<MemberHealth, 'problems'>;
  /** How this node calls other members (relays to the leader). */
  readonly peers: PeerHttp;
  readonly recentEvents: RecentEvents;
  /** Hears each long-poll's wait (LockBackend.waitEnded). */
  readonly onWaitEnded?: (waitedMs: number, granted: boolean) => void;
}

/**
 * RaftLockBackend is the LockBackend of a real member: writes go through the
 * Raft log (RaftHost), reads through a ReadIndex barrier, and both end in the
 * LockService's lease table. Deadlines are in table time (src/node/lease-clock.ts),
 * so views compare them with nowMs(), the table's time, never with Date.now.
 */
export class RaftLockBackend implements LockBackend {
  readonly id: NodeId;
  readonly peers: PeerHttp;
  readonly watches: LockWatches;

  constructor(private readonly opts: RaftLockBackendOptions) {
    this.id = opts.host.id;
    this.peers = opts.peers;
    this.watches = opts.locks.watches;
  }

  isLeader(): boolean {
    return this.opts.host.isLeader();
  }

  waitEnded(waitedMs: number, granted: boolean): void {
    this.opts.onWaitEnded?.(waitedMs, granted);
  }

  leader(): NodeId | null {
    return this.opts.host.leader;
  }

  /** httpUrlOf is `--peer-http`'s URL for `id`, else the one its membership record advertises (a member added at run time). */
  httpUrlOf(id: NodeId): string | undefined {
    const url = this.opts.peerHttp[id] ?? recordOf(this.opts.host.membershipView().configuration, id)?.httpUrl;
    return url === '' ? undefined : url;
  }

  status(): NodeStatus {
    const host = this.opts.host;
    return {
      id: host.id,
      role: host.role,
      term: host.term,
      leader: host.leader,
      commitIndex: host.commitIndex,
      appliedIndex: host.appliedIndex,
      members: [...host.members()],
      learners: [...host.membershipView().configuration.learners],
      clusterId: this.opts.clusterId,
      problems: this.opts.health.problems(),
    };
  }

  execute(command: LockCommand): Promise<CommandResult> {
    return this.opts.locks.execute(command);
  }

  readBarrier(): Promise<void> {
    return this.opts.host.readBarrier(this.opts.readTimeoutMs);
  }

  table(): LockTableView {
    // Not cached: installing a snapshot replaces the LockService's table.
    const locks = this.opts.locks;
    const table = locks.lockTable;
    // A leader's sessions live longer than the table says by the keepalives it answered from memory
    // (src/node/session-keepalives.ts): show those expiries.
    const withKeepalives = (v: SessionView): SessionView => ({ ...v, expiresAtMs: locks.sessionExpiresAtMs(v.sessionId) ?? v.expiresAtMs });
    return {
      get: (name) => table.get(name),
      list: (prefix, limit, after) => table.list(prefix, limit, after),
      checkToken: (name, token) => table.checkToken(name, token),
      waiters: (name, limit) => table.waiters(name, limit),
      stats: () => table.stats(),
      get size() {
        return table.size;
      },
      session: (id) => {
        const v = table.session(id);
        return v === null ? null : withKeepalives(v);
      },
      sessions: (limit) => table.sessions(limit).map(withKeepalives),
    };
  }

  registerWaiter(waiterId: string, onEvent: (event: LockEvent) => void): (() => void) | null {
    return this.opts.locks.registerWaiter(waiterId, onEvent);
  }

  recentEvents(): RecentEvent[] {
    return this.opts.recentEvents.list();
  }

  nowMs(): number {
    // Table time, not this machine's wall clock: deadlines are in table time (src/node/lease-clock.ts).
    return this.opts.locks.tableNowMs();
  }
}
