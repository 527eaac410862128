import { randomInt } from 'node:crypto';
import { DEFAULT_LIMITS, RaftNode, SeededRandom, assert, type NodeId, type SoftState } from '../raft/index.js';
import { RaftStorage } from '../storage/index.js';
import type { PeerSecurity } from '../transport/index.js';
import { EVENT_LOOP_SCHEDULER, SYSTEM_CLOCK, TcpHostTransport, callbackStore } from './production-io.js';
import { RaftHost, type HostAddress, type Logger, type ReplicatedApp } from './raft-host.js';

/** RaftHostOptions configure one production member. */
export interface RaftHostOptions {
  readonly id: NodeId;
  readonly clusterId: string;
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

/**
 * openRaftHost wires a production member: it opens (or creates) the LevelDB
 * store, restores the app from its snapshot, and builds the host over TCP,
 * node's event loop and this machine's clocks. A damaged store or one that
 * belongs to another node throws, and the node must not start.
 */
export async function openRaftHost(opts: RaftHostOptions): Promise<RaftHost> {
  const voters = Object.keys(opts.peers).sort();
  assert(voters.includes(opts.id), `--peers must list this node (${opts.id})`);
  const { storage, durable, snapshot } = await RaftStorage.open(opts.dataDir, { nodeId: opts.id, clusterId: opts.clusterId, voters });
  if (snapshot !== null && snapshot.meta.index > 0) opts.app.restore(snapshot.data);
  const node = new RaftNode(
    { ...DEFAULT_LIMITS, id: opts.id, electionTicks: opts.electionTicks, random: new SeededRandom(randomInt(0, 2 ** 31)) },
    durable,
  );
  const peers: Record<NodeId, HostAddress> = {};
  for (const [peer, addr] of Object.entries(opts.peers)) if (peer !== opts.id) peers[peer] = addr;
  const transport = new TcpHostTransport({
    id: opts.id,
    listen: opts.listen,
    peers,
    clusterId: opts.clusterId,
    security: opts.peerSecurity,
    logger: opts.logger,
  });
  return new RaftHost({
    node,
    snapshot,
    app: opts.app,
    store: callbackStore(storage),
    transport,
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
}
