/**
 * Opening a member's store under the bootstrap rules (etcd's
 * --initial-cluster-state). An empty data dir never forms or joins a cluster
 * by itself: a member that lost its data and came back as a fresh one would
 * have no memory of its votes or of the entries it acknowledged, so it could
 * vote twice in a term and help elect a leader without committed entries
 * (issue 13: a wiped n3 and a stale n1 lost an acknowledged lock and reused
 * its token). So a store is created only for the first start of a new cluster
 * (`new`, the founding members' configuration), or for a member joining a
 * running cluster (`existing`): its store starts with no configuration at all
 * (no voters), so it cannot vote or campaign until the leader's snapshot or
 * log tells it the configuration that the operator added it to as a learner
 * (`raftlock member add`). Once a store exists its cluster id is authoritative.
 */
import type { NodeId } from '../raft/index.js';
import { RaftStorage, type OpenResult } from '../storage/index.js';
import type { InitialClusterState } from './node-config.js';

/** StartRefusalCode names why a member refuses to start with the data dir it was given. */
export type StartRefusalCode = 'no_store' | 'cluster_id_mismatch' | 'not_a_member' | 'certificate_mismatch';

/** StartRefusedError: the member must not start with this data dir; the message says why and what to do. */
export class StartRefusedError extends Error {
  override readonly name = 'StartRefusedError';
  constructor(
    readonly code: StartRefusalCode,
    message: string,
  ) {
    super(message);
  }
}

/** MemberStoreOptions say which member opens which data dir, and how a missing store is handled. */
export interface MemberStoreOptions {
  readonly id: NodeId;
  readonly dataDir: string;
  /** The cluster id asked for; null takes the stored one. Required to create a store. */
  readonly clusterId: string | null;
  readonly initialClusterState: InitialClusterState | null;
  /** The founding members (a new store's configuration). */
  readonly voters: readonly NodeId[];
}

/**
 * openMemberStore opens (or, for `new`, creates) the member's LevelDB store.
 * Throws StartRefusedError when the rules forbid starting, and the storage
 * errors for a damaged store or one of another node.
 */
export async function openMemberStore(o: MemberStoreOptions): Promise<OpenResult<RaftStorage>> {
  let opened: OpenResult<RaftStorage>;
  try {
    // An existing store is taken with the cluster id it holds; a disagreeing flag is refused below, with advice.
    opened = await RaftStorage.open(o.dataDir, { nodeId: o.id, clusterId: null, voters: o.voters, createIfMissing: false });
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'storage_missing') throw err;
    if (o.initialClusterState === null || o.clusterId === null) throw noStore(o.dataDir);
    // A joining member knows no configuration: it learns the one that added it from the leader (thesis §4.1).
    const voters = o.initialClusterState === 'new' ? o.voters : [];
    return RaftStorage.open(o.dataDir, { nodeId: o.id, clusterId: o.clusterId, voters, createIfMissing: true });
  }
  if (o.clusterId !== null && opened.clusterId !== o.clusterId) {
    await opened.storage.close();
    throw new StartRefusedError(
      'cluster_id_mismatch',
      `${o.dataDir} belongs to cluster ${opened.clusterId}, but --cluster-id (or RAFTLOCK_CLUSTER_ID) says ${o.clusterId}. ` +
        'A member keeps the cluster id its store was created with: drop --cluster-id, or point --data-dir at the data of the cluster you mean.',
    );
  }
  return opened;
}

function noStore(dataDir: string): StartRefusedError {
  return new StartRefusedError(
    'no_store',
    `${dataDir} holds no raftlock store, and a member never creates one by itself: a machine that lost its data must not ` +
      'rejoin as if it were new (it could vote twice in a term and lose acknowledged locks). ' +
      'First start of a new cluster: start every founding member with --initial-cluster-state new --cluster-id ID ' +
      '(one new id, the same on every member). A new member of a running cluster: add it with `raftlock member add`, ' +
      'then start it with --initial-cluster-state existing --cluster-id ID (the running cluster\'s id). ' +
      'If this member lost its data, do not bootstrap it again: ' +
      'see "Replace a wiped machine" in the README. A restart of a member needs neither flag: it finds its store.',
  );
}
