/**
 * Typed errors of the durable Raft storage. Each carries a stable `code` so
 * callers (the node host, the CLI) can tell "refuse to start" conditions apart
 * from bugs. Nothing that raises one of these repairs or drops data.
 */

/** StorageErrorCode lists the stable codes of every expected storage failure. */
export type StorageErrorCode = 'storage_corrupt' | 'storage_mismatch' | 'storage_failed' | 'storage_closed' | 'storage_missing';

/** StorageError is the common base of the typed storage errors. */
export abstract class StorageError extends Error {
  abstract readonly code: StorageErrorCode;
  /** where names the file (e.g. "000005.ldb") or key (e.g. "e/000000000000002a") the problem was found in. */
  readonly where: string;

  constructor(where: string, message: string, options?: { cause?: unknown }) {
    super(`${where}: ${message}`, options);
    this.where = where;
  }
}

/**
 * StorageCorruptError says that stored bytes fail a checksum, LevelDB reported
 * corruption, or the records break a Raft log invariant (gap, decreasing term,
 * commit beyond the log). The node must not start from this directory.
 */
export class StorageCorruptError extends StorageError {
  readonly code = 'storage_corrupt' as const;
  override readonly name = 'StorageCorruptError';
}

/**
 * StorageMismatchError says the directory is intact but belongs to another
 * node or cluster, or was written in another format version.
 */
export class StorageMismatchError extends StorageError {
  readonly code = 'storage_mismatch' as const;
  override readonly name = 'StorageMismatchError';
}

/**
 * StorageFailedError says an earlier write failed (e.g. fsync error). The
 * in-memory view may now be ahead of the disk, so the store refuses every
 * later write; the process must restart and reload (cf. "fsyncgate").
 */
export class StorageFailedError extends StorageError {
  readonly code = 'storage_failed' as const;
  override readonly name = 'StorageFailedError';
}

/** StorageClosedError says the store was used after close(). */
export class StorageClosedError extends StorageError {
  readonly code = 'storage_closed' as const;
  override readonly name = 'StorageClosedError';
}

/**
 * StorageMissingError says open() was told not to create a store
 * (`createIfMissing: false`) and the directory holds none. A node that lost
 * its directory must not silently rejoin as a fresh member (it could vote
 * twice in a term: Raft §5.2 needs votes to be durable).
 */
export class StorageMissingError extends StorageError {
  readonly code = 'storage_missing' as const;
  override readonly name = 'StorageMissingError';
}
