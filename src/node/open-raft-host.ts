import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DEFAULT_LIMITS, RaftNode, SeededRandom, isKnownConfig, isMemberOf, memberIds, type ConfState, type NodeId, type SoftState } from '../raft/index.js';
import type { PeerSecurity, SecurityStats } from '../transport/index.js';
import { DivergenceCheck } from './divergence-check.js';
import { ElectionCounter } from './election-counter.js';
import { MemberHealth } from './member-health.js';
import { StartRefusedError, openMemberStore } from './member-store.js';
import type { InitialClusterState } from './node-config.js';
import { ObservedTransport } from './observed-transport.js';
import { PeerRefusalTap } from './peer-refusal-tap.js';
import { checkTlsMember } from './peer-security-config.js';
import { EVENT_LOOP_SCHEDULER, SYSTEM_CLOCK, TcpHostTransport, callbackStore } from './production-io.js';
import { RaftHost, type HostAddress, type Logger, type ReplicatedApp } from './raft-host.js';

/** RaftHostOptions configure one production member. */
export interface RaftHostOptions {
  readonly id: NodeId;
  /** The cluster id asked for; null takes the store's. */
  readonly clusterId: string | null;
  /** How a data dir without a store is handled (member-store.ts). */
  readonly initialClusterState: InitialClusterState | null;
  readonly dataDir: string;
  /** Every voting member's peer address as this node should dial it (this node's own included). */
  readonly peers: Readonly<Record<NodeId, HostAddress>>;
  readonly listen: HostAddress;
  readonly peerSecurity: PeerSecurity;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly snapshotEveryEntries: number;
  /** How long a proposer waits for its entry to apply before answering outcome_unknown. */
  readonly proposalTimeoutMs: number;
  readonly maxPendingProposals: number;
  readonly logger: Logger;
  readonly app: ReplicatedApp;
  readonly onSoftState?: (soft: SoftState) => void;
  readonly onFatal?: (err: unknown) => void;
}

/** CoreView is what the layers above may read of the consensus core directly: views only, no inputs. */
export type CoreView = Pick<RaftNode, 'term' | 'commitIndex' | 'appliedIndex' | 'termAt' | 'progressOf'>;

/** OpenMember is a production member ready to start: its host, its cluster, and what watches it. */
export interface OpenMember {
  readonly host: RaftHost;
  /** The cluster the store belongs to. */
  readonly clusterId: string;
  /** True when this start created the store (the first start of a new cluster). */
  readonly created: boolean;
  readonly core: CoreView;
  readonly elections: ElectionCounter;
  readonly refusals: PeerRefusalTap;
  readonly health: MemberHealth;
  /** The peer transport's counts of what its security refused (exact and current, unlike the logged refusals). */
  readonly peerSecurityStats: () => SecurityStats;
}

/**
 * openRaftHost wires a production member: it opens the LevelDB store under
 * the bootstrap rules (member-store.ts), restores the app from its snapshot,
 * and builds the host over TCP, node's event loop and this machine's clocks,
 * with the transport watched for elections, divergence and refusals. A
 * damaged store, one of another node or cluster, a missing one without
 * `new`, or a configuration without this member throws: the node must not start.
 */
export async function openRaftHost(opts: RaftHostOptions): Promise<OpenMember> {
  const voters = Object.keys(opts.peers).sort();
  const opened = await openMemberStore({ id: opts.id, dataDir: opts.dataDir, clusterId: opts.clusterId, initialClusterState: opts.initialClusterState, voters });
  const { storage, durable, snapshot, clusterId } = opened;
  let node: RaftNode;
  try {
    node = new RaftNode({ ...DEFAULT_LIMITS, id: opts.id, electionTicks: opts.electionTicks, random: new SeededRandom(randomInt(0, 2 ** 31)) }, durable);
    checkMembership(opts, node.configuration());
    const misnamed = checkTlsMember(opts.peerSecurity, opts.id, clusterId);
    if (misnamed !== null) throw new StartRefusedError('certificate_mismatch', `${misnamed}: the store in ${opts.dataDir} belongs to cluster ${clusterId}`);
    if (snapshot !== null && snapshot.meta.index > 0) opts.app.restore(snapshot.data);
  } catch (err) {
    await storage.close();
    throw err;
  }
  logStart(opts, opened.created, clusterId);
  const peers: Record<NodeId, HostAddress> = {};
  for (const [peer, addr] of Object.entries(opts.peers)) if (peer !== opts.id) peers[peer] = addr;
  const refusals = new PeerRefusalTap(() => performance.now());
  const elections = new ElectionCounter(opts.id, opts.logger);
  const divergence = new DivergenceCheck(node, opts.logger);
  const tcp = new TcpHostTransport({
    id: opts.id,
    listen: opts.listen,
    peers,
    clusterId,
    security: opts.peerSecurity,
    logger: refusals.logger(opts.logger),
  });
  const host = new RaftHost({
    node,
    snapshot,
    app: opts.app,
    store: callbackStore(storage),
    transport: new ObservedTransport(tcp, [elections, divergence]),
    scheduler: EVENT_LOOP_SCHEDULER,
    clock: SYSTEM_CLOCK,
    logger: opts.logger,
    tickMs: opts.tickMs,
    snapshotEveryEntries: opts.snapshotEveryEntries,
    proposalTimeoutMs: opts.proposalTimeoutMs,
    maxPendingProposals: opts.maxPendingProposals,
    ...(opts.onSoftState !== undefined ? { onSoftState: opts.onSoftState } : {}),
    ...(opts.onFatal !== undefined ? { onFatal: opts.onFatal } : {}),
  });
  const health = new MemberHealth({ id: opts.id, clusterId, configuration: () => node.configuration(), divergence, refusals, logger: opts.logger });
  return { host, clusterId, created: opened.created, core: node, elections, refusals, health, peerSecurityStats: () => tcp.securityStats() };
}

/**
 * checkMembership refuses a member missing from the configuration its store holds (it was removed), and warns when
 * --peers names other members than that configuration: membership comes from the log, not from the flag. A joining
 * member's store knows no configuration yet (until the leader's snapshot or log arrives): nothing to check.
 */
function checkMembership(opts: RaftHostOptions, configuration: ConfState): void {
  if (!isKnownConfig(configuration)) {
    opts.logger.info({ peers: Object.keys(opts.peers).sort() }, 'this member knows no configuration yet: it waits for the leader of the cluster that added it');
    return;
  }
  const members = memberIds(configuration);
  if (!isMemberOf(configuration, opts.id)) {
    throw new StartRefusedError(
      'not_a_member',
      `${opts.dataDir}: this member (${opts.id}) is not in the configuration its store holds (${members.join(', ')}): it was removed from the cluster. ` +
        'Its data is of no use to the cluster any more; start it again only as a new member.',
    );
  }
  const listed = Object.keys(opts.peers).sort();
  if (listed.join(',') !== members.join(',')) {
    opts.logger.warn(
      { peers: listed, configuration: members },
      '--peers names other members than the configuration in the store; the store is followed (membership changes go through the log, not --peers)',
    );
  }
}

function logStart(opts: RaftHostOptions, created: boolean, clusterId: string): void {
  if (created && opts.initialClusterState === 'existing') {
    opts.logger.info({ clusterId, dataDir: opts.dataDir }, 'created an empty store to join the running cluster: the leader will send the configuration, a snapshot and the log');
  } else if (created) {
    opts.logger.info({ clusterId, dataDir: opts.dataDir, members: Object.keys(opts.peers).sort() }, 'created a new store: first start of a founding member of a new cluster');
  } else if (opts.initialClusterState !== null) {
    opts.logger.info({ clusterId, initialClusterState: opts.initialClusterState }, 'found this member\'s store; --initial-cluster-state applies only to a first start and is ignored');
  }
}
