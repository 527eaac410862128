/**
 * The storage layer's public face: the durable Raft store in LevelDB, its
 * in-memory twin, and the typed errors.
 */

export { RaftStorage } from './raft-storage.js';
export { MemoryDisk, MemoryRaftStorage } from './memory-raft-storage.js';
export type { OpenResult, RaftStore, RaftStoreOptions, SaveBatch, StoreStats } from './raft-store.js';
export {
  StorageClosedError,
  StorageCorruptError,
  StorageError,
  StorageFailedError,
  StorageMismatchError,
  StorageMissingError,
  type StorageErrorCode,
} from './storage-errors.js';
export { verifyLevelDbDir, type LevelDbVerifyReport } from './leveldb-verify.js';
export { BACKUP_FORMAT_VERSION, BackupFileError, decodeBackup, encodeBackup, type BackupHeader, type BackupImage } from './backup-file.js';
