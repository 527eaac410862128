/**
 * takeBackup takes a consistent image of the lease table on the leader for
 * `raftlock snapshot save`: after a read barrier (ReadIndex, thesis §6.4) the
 * table reflects every write acknowledged before the request, and the
 * serialization runs in one synchronous step, so no entry is half in it.
 */
import { SNAPSHOT_FORMAT } from '../locks/index.js';
import { assert, type NodeId } from '../raft/index.js';
import { BACKUP_FORMAT_VERSION, type BackupImage } from '../storage/index.js';
import { NotLeaderError } from './errors.js';
import type { LockService } from './lock-service.js';
import type { CoreView } from './open-raft-host.js';
import type { RaftHost } from './raft-host.js';

/** BackupSource is the member a backup is taken on. */
export interface BackupSource {
  readonly host: Pick<RaftHost, 'id' | 'leader' | 'isLeader' | 'members' | 'readBarrier' | 'appliedIndex'>;
  readonly core: Pick<CoreView, 'termAt'>;
  readonly locks: Pick<LockService, 'snapshot' | 'lockTable'>;
  readonly clusterId: string;
  readonly readTimeoutMs: number;
}

/** takeBackup resolves with the image, or rejects with NotLeaderError (or the read barrier's error) on a non-leader. */
export async function takeBackup(s: BackupSource): Promise<BackupImage> {
  if (!s.host.isLeader()) throw new NotLeaderError(s.host.leader);
  await s.host.readBarrier(s.readTimeoutMs);
  // From here on synchronous: nothing applies between reading the index and serializing the table.
  // The host's applied index is the last entry handed to the app (not the core's, which runs ahead while a
  // snapshot is encoded in slices and entries wait): the table holds every entry up to it, and entries past the
  // table's own index (config entries, no-ops) do not change the table.
  const index = s.host.appliedIndex;
  assert(index >= s.locks.lockTable.appliedIndex, () => `the table applied ${s.locks.lockTable.appliedIndex}, past the host's ${index}`);
  const term = s.core.termAt(index);
  assert(term !== null && index >= 1, () => `no term for the backup's index ${index}`);
  const data = s.locks.snapshot();
  const members: NodeId[] = [...s.host.members()];
  return {
    header: {
      formatVersion: BACKUP_FORMAT_VERSION,
      clusterId: s.clusterId,
      takenFrom: s.host.id,
      takenAt: new Date().toISOString(),
      index,
      term,
      members,
      dataFormat: SNAPSHOT_FORMAT,
      dataBytes: data.length,
    },
    data,
  };
}
