/**
 * The interface shared by the LevelDB store and its in-memory twin, so the
 * node host and its tests can use either.
 */

import type { DurableState, NodeId, Snapshot } from '../raft/types.js';
import type { SaveBatch } from './log-shape.js';

export type { SaveBatch } from './log-shape.js';

/** RaftStoreOptions identify the node that owns a store and tune it. */
export interface RaftStoreOptions {
  readonly nodeId: NodeId;
  /**
   * The cluster the store must belong to; null adopts whatever cluster an existing store names (the stored id is
   * authoritative). Creating a store needs one.
   */
  readonly clusterId: string | null;
  /** Voters written into a NEW store's bootstrap snapshot meta (index 0, term 0); ignored when loading. */
  readonly voters: readonly NodeId[];
  /**
   * The snapshot a NEW store starts from instead of the empty index 0 (a restore from a backup): its configuration
   * replaces `voters`, and the hard state starts at its term with its index committed. Ignored when loading.
   */
  readonly initialSnapshot?: Snapshot;
  /** onSyncMs is called after every synced write with its latency in ms (for a histogram). */
  readonly onSyncMs?: (ms: number) => void;
  /** When false, open() of a directory without a store throws StorageMissingError instead of bootstrapping. Default true. */
  readonly createIfMissing?: boolean;
  /** Snapshot data is stored in chunks of at most this many bytes. Default 1 MiB. */
  readonly snapshotChunkBytes?: number;
  /** Upper bound on deletions of compacted entries per write batch. Default 10 000. */
  readonly maxDeletesPerBatch?: number;
}

/** StoreStats are counters for metrics. */
export interface StoreStats {
  /** Synced write batches completed. */
  readonly syncs: number;
  /** Latency of the last synced write, ms. */
  readonly lastSyncMs: number;
  /** Bytes of keys+values written in synced batches. */
  readonly bytesWritten: number;
}

/** OpenResult is what a node restarts from. `snapshot` is null while the store holds only the bootstrap meta (index 0). */
export interface OpenResult<S extends RaftStore> {
  readonly storage: S;
  /** The cluster the store belongs to (as stored, or as given when this open created it). */
  readonly clusterId: string;
  /** True when this open created the store (the directory held none). */
  readonly created: boolean;
  readonly durable: DurableState;
  readonly snapshot: Snapshot | null;
}

/**
 * RaftStore persists what Readys hand out. Saves are applied in call order,
 * each atomically; a save that rejects poisons the store (every later call
 * throws StorageFailedError) because memory may now be ahead of disk.
 */
export interface RaftStore {
  /**
   * save persists one Ready as ONE synced atomic write: the snapshot (which
   * replaces the whole stored log, Raft §7), then the entries (discarding any
   * stored entries from entries[0].index on), then the hard state. Resolves
   * once durable. Throws synchronously-in-the-promise (writing nothing) if
   * the batch breaks a Raft invariant (e.g. overwrites a committed entry).
   */
  save(batch: SaveBatch): Promise<void>;
  /**
   * saveSnapshot durably stores a snapshot the host took at an index it has
   * applied, and compacts the log up to it (Raft §7). Entries after it stay.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /** latestSnapshot is the newest durable snapshot (for sending to followers), or null if none. */
  latestSnapshot(): Snapshot | null;
  readonly stats: StoreStats;
  /** close waits for in-flight saves and releases the store. Idempotent. */
  close(): Promise<void>;
}
