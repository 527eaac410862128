/**
 * restoreBackup seeds the store of one member of a NEW cluster from a backup
 * (`raftlock snapshot restore`, like `etcdutl snapshot restore`). Every member
 * of the new cluster is seeded from the same file with the same new cluster
 * id, so all start from one snapshot at the backup's index with it committed;
 * the new cluster's log continues after that index, so every new grant gets a
 * fencing token larger than any in the backup (tokens come from log indexes).
 * A restore never writes into a directory that already holds a store.
 */
import { LeaseTable, READABLE_SNAPSHOT_FORMATS } from '../locks/index.js';
import type { NodeId } from '../raft/index.js';
import { BackupFileError, RaftStorage, decodeBackup, type BackupHeader } from '../storage/index.js';

/** RestoreTarget is the member to create: its data dir, id, and the new cluster's id and voters. */
export interface RestoreTarget {
  readonly dataDir: string;
  readonly id: NodeId;
  readonly clusterId: string;
  readonly voters: readonly NodeId[];
}

/** RestoreSummary describes what was restored. */
export interface RestoreSummary {
  readonly header: BackupHeader;
  readonly locks: number;
  readonly sessions: number;
}

/** RestoreRefusedError: the restore would not make a new cluster, or the directory is taken. */
export class RestoreRefusedError extends Error {
  override readonly name = 'RestoreRefusedError';
}

/**
 * restoreBackup checks `bytes` (throws BackupFileError if damaged, RestoreRefusedError if the target is not a new
 * cluster or its directory holds a store) and writes the member's store.
 */
export async function restoreBackup(bytes: Uint8Array, t: RestoreTarget): Promise<RestoreSummary> {
  const { header, data } = decodeBackup(bytes);
  // A backup taken by an earlier build names an earlier format, which this build still reads.
  if (!READABLE_SNAPSHOT_FORMATS.includes(header.dataFormat)) {
    throw new BackupFileError(`lease table format ${header.dataFormat}; this build reads ${READABLE_SNAPSHOT_FORMATS.join(', ')}`);
  }
  let stats;
  try {
    // Decode it whole before writing anything: a file that passed its checksum but was written by a broken build is refused too.
    stats = LeaseTable.restore(data).stats();
  } catch (err) {
    throw new BackupFileError(`the lease table in it does not decode: ${(err as Error).message}`);
  }
  if (header.clusterId === t.clusterId) {
    throw new RestoreRefusedError(`the backup comes from cluster ${t.clusterId}: a restore makes a NEW cluster, so give it a new --cluster-id`);
  }
  if (!t.voters.includes(t.id)) throw new RestoreRefusedError(`--peers must list this member (${t.id})`);
  const initialSnapshot = { meta: { index: header.index, term: header.term, config: { voters: [...t.voters].sort(), learners: [], members: [] } }, data };
  let opened;
  try {
    opened = await RaftStorage.open(t.dataDir, { nodeId: t.id, clusterId: t.clusterId, voters: initialSnapshot.meta.config.voters, initialSnapshot });
  } catch (err) {
    if ((err as { code?: unknown }).code === 'storage_mismatch') throw new RestoreRefusedError(`${t.dataDir} already holds a store: ${(err as Error).message}`);
    throw err;
  }
  await opened.storage.close();
  if (!opened.created) throw new RestoreRefusedError(`${t.dataDir} already holds a store (cluster ${opened.clusterId}); a restore writes only into an empty directory`);
  return { header, locks: stats.locksHeld, sessions: stats.sessions };
}
