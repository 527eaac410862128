import { RaftNode, SeededRandom, type NodeId } from '../../src/raft/index.js';
import { LockService } from '../../src/node/lock-service.js';
import { SimCluster, type ClusterOptions } from './cluster.js';

/**
 * quietCluster is a small fault-free SimCluster (fast disks, short delays, no clock error) for tests that drive the
 * real host step by step and look at one behaviour; `overrides` change any option.
 */
export function quietCluster(overrides: Partial<ClusterOptions> = {}): SimCluster {
  const n = overrides.ids?.length ?? 3;
  return new SimCluster({
    ids: ['n1', 'n2', 'n3'],
    spareIds: [],
    maxPromoteLagEntries: 1000,
    random: new SeededRandom(11),
    createNode: (c, d) => new RaftNode(c, d),
    createLockService: (o) => new LockService(o),
    lockNames: ['x'],
    minDelayMs: 1,
    maxDelayMs: 5,
    tickMs: Array<number>(n).fill(10),
    electionTicks: 10,
    maxAppendBytes: 64 * 1024,
    maxInflightAppends: 4,
    snapshotEvery: 1000,
    fastDiskMaxMs: 2,
    slowDiskProbability: 0,
    slowDiskMinMs: 1,
    slowDiskMaxMs: 1,
    clockOffsetMs: Array<number>(n).fill(0),
    clockRateError: Array<number>(n).fill(0),
    checkTableTime: true,
    trace: null,
    ...overrides,
  });
}

/** electedLeader runs `cluster` until it has a leader whose no-op had time to apply everywhere; returns the leader. */
export function electedLeader(cluster: SimCluster): NodeId {
  cluster.runUntil(cluster.nowMs + 3_000, () => cluster.leader() !== null);
  const leader = cluster.leader();
  if (leader === null) throw new Error('no leader elected');
  cluster.runUntil(cluster.nowMs + 200);
  return leader;
}
