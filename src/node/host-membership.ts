import {
  isKnownConfig,
  isMemberOf,
  type ConfState,
  type MemberProgress,
  type MemberRecord,
  type Message,
  type NodeId,
  type RaftNode,
} from '../raft/index.js';
import type { HostTransport } from './host-io.js';
import type { Logger } from './raft-host.js';

/** MembershipView is what a host tells about the cluster's membership (for `raftlock status` and the member routes). */
export interface MembershipView {
  /** The configuration in force on this node: the latest in its log, committed or not (thesis §4.1). */
  readonly configuration: ConfState;
  readonly configurationIndex: number;
  /** Whether this node knows the configuration committed. */
  readonly committed: boolean;
  /** On the leader, each member's match index and lag; null elsewhere. */
  readonly progress: readonly MemberProgress[] | null;
  /** Peer messages dropped because their sender is not a member (defence in depth; the core ignores them too). */
  readonly droppedFromNonMembers: number;
}

/**
 * HostMembership is a host's side of membership change: it keeps the transport's peers in step with the
 * configuration in the core's log (HostTransport.setPeers) and screens inbound messages by membership.
 */
export class HostMembership {
  private droppedFromNonMembers = 0;
  /** What the transport was last told: the configuration object and the peer ids (see syncPeers). */
  private toldConfig: ConfState | null = null;
  // Stryker disable next-line ArrayDeclaration: toldConfig starts null, so the first syncPeers tells the transport whatever this holds
  private toldPeers: readonly NodeId[] = [];
  /** Every address record seen in a configuration, so a removed member the leader still replicates to stays reachable. */
  private readonly records = new Map<NodeId, MemberRecord>();

  constructor(
    private readonly node: RaftNode,
    private readonly transport: HostTransport,
    logger: Logger,
  ) {
    // A joining member (its configuration not known yet) and a removed one are not members; they still run.
    if (!isMemberOf(node.configuration(), node.id)) logger.warn({ configuration: node.configuration() }, 'this node is not a member of its configuration');
  }

  /**
   * admits says whether a peer message may reach the core. A leader's traffic (append, heartbeat, snapshot) always
   * may: thesis §4.1, a server accepts AppendEntries from a leader not in its configuration, or a new server could
   * never catch up to the entry that adds it. Anything else from a sender that is not a member, nor one the node
   * still replicates to, is dropped and counted.
   */
  admits(m: Message): boolean {
    if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') return true;
    if (isMemberOf(this.node.configuration(), m.from) || this.node.peerMembers().includes(m.from)) return true;
    this.droppedFromNonMembers++;
    return false;
  }

  /**
   * syncPeers tells the transport whom to reach when that changed: a new configuration (its records too), a pending
   * change committed, or a removed member the leader no longer replicates to. A joining member that does not know
   * the configuration yet keeps the peers it was started with.
   */
  syncPeers(): void {
    const config = this.node.configuration();
    if (!isKnownConfig(config)) return;
    const ids = this.node.peerMembers(); // the same array while unchanged
    if (
      ids === this.toldPeers &&
      // Stryker disable next-line ConditionalExpression: peerMembers() answers a new array whenever the configuration changes (raft-node.ts), so the ids decide; this states the rule
      config === this.toldConfig
    ) {
      return;
    }
    this.toldConfig = config;
    this.toldPeers = ids;
    for (const c of [this.node.configurationAt(this.node.commitIndex), config]) for (const m of c.members) this.records.set(m.id, m);
    this.transport.setPeers(ids.map((id) => this.records.get(id) ?? { id, peerAddress: '', httpUrl: '' }));
  }

  view(): MembershipView {
    const n = this.node;
    return {
      configuration: n.configuration(),
      configurationIndex: n.configurationIndex,
      committed: n.configurationIndex <= n.commitIndex,
      progress: n.memberProgress(),
      droppedFromNonMembers: this.droppedFromNonMembers,
    };
  }
}
