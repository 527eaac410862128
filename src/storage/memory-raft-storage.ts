/**
 * MemoryRaftStorage is the in-memory twin of RaftStorage for tests of the
 * layers above: same interface, same validation (LogShape), same open-time
 * identity checks, no disk. Its "disk" is a MemoryDisk object that outlives
 * close(), so a test can restart a node by opening the same MemoryDisk again.
 * Each save is applied atomically when called (as if its batch reached disk
 * at once); the returned promise resolves on a later microtask.
 */

import type { DurableState, Entry, HardState, Snapshot, SnapshotMeta } from '../raft/types.js';
import { LogShape, type SaveBatch } from './log-shape.js';
import type { OpenResult, RaftStore, RaftStoreOptions, StoreStats } from './raft-store.js';
import { StorageClosedError, StorageCorruptError, StorageMismatchError, StorageMissingError } from './storage-errors.js';

/** MemoryDisk holds what a MemoryRaftStorage persisted. Treat as opaque outside tests. */
export class MemoryDisk {
  identity: { clusterId: string; nodeId: string } | null = null;
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  snapshotMeta: SnapshotMeta = { index: 0, term: 0, config: { voters: [], learners: [], members: [] } };
  snapshot: Snapshot | null = null;
  /** Entries by index, all above snapshotMeta.index (a save applies its deletions at once). */
  readonly entries = new Map<number, Entry>();
}

/** MemoryRaftStorage implements RaftStore over a MemoryDisk; see the module comment. */
export class MemoryRaftStorage implements RaftStore {
  private readonly disk: MemoryDisk;
  private readonly shape: LogShape;
  private readonly onSyncMs: ((ms: number) => void) | undefined;
  private closed = false;
  private syncs = 0;
  private bytesWritten = 0;

  private constructor(disk: MemoryDisk, shape: LogShape, options: RaftStoreOptions) {
    this.disk = disk;
    this.shape = shape;
    this.onSyncMs = options.onSyncMs;
  }

  /** MemoryRaftStorage.open loads `disk` (bootstrapping it if empty) with the same identity checks as RaftStorage.open. */
  static open(disk: MemoryDisk, options: RaftStoreOptions): Promise<OpenResult<MemoryRaftStorage>> {
    try {
      const created = disk.identity === null;
      if (disk.identity === null) {
        if (options.createIfMissing === false) throw new StorageMissingError('memory', 'no store and createIfMissing is false');
        if (options.clusterId === null) throw new RangeError('creating a store needs a clusterId');
        const initial = options.initialSnapshot ?? null;
        disk.identity = { clusterId: options.clusterId, nodeId: options.nodeId };
        disk.snapshotMeta = initial?.meta ?? { index: 0, term: 0, config: { voters: [...options.voters], learners: [], members: [] } };
        disk.snapshot = initial;
        disk.hardState = { term: disk.snapshotMeta.term, vote: null, commit: disk.snapshotMeta.index };
      }
      const identity = disk.identity;
      if ((options.clusterId !== null && identity.clusterId !== options.clusterId) || identity.nodeId !== options.nodeId) {
        throw new StorageMismatchError('memory', `store belongs to ${identity.clusterId}/${identity.nodeId}, not ${options.clusterId ?? '(any)'}/${options.nodeId}`);
      }
      const snapIndex = disk.snapshotMeta.index;
      const entries: Entry[] = [];
      const indexes = [...disk.entries.keys()].filter((i) => i > snapIndex).sort((a, b) => a - b);
      for (const i of indexes) {
        if (i !== snapIndex + 1 + entries.length) throw new StorageCorruptError(`e/${i}`, 'gap in the log');
        entries.push(disk.entries.get(i)!);
      }
      const shape = new LogShape(disk.snapshotMeta, disk.hardState, entries, snapIndex + 1);
      const durable: DurableState = { hardState: disk.hardState, snapshotMeta: disk.snapshotMeta, entries };
      const storage = new MemoryRaftStorage(disk, shape, options);
      return Promise.resolve({ storage, clusterId: identity.clusterId, created, durable, snapshot: disk.snapshot });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  get stats(): StoreStats {
    return { syncs: this.syncs, lastSyncMs: 0, bytesWritten: this.bytesWritten };
  }

  latestSnapshot(): Snapshot | null {
    return this.disk.snapshot;
  }

  save(batch: SaveBatch): Promise<void> {
    try {
      if (this.closed) throw new StorageClosedError('memory', 'store is closed');
      const plan = this.shape.applySave(batch);
      const d = this.disk;
      if (plan.discard !== null) for (let i = plan.discard.lo; i <= plan.discard.hi; i++) d.entries.delete(i);
      if (plan.garbage !== null) for (let i = plan.garbage.lo; i <= plan.garbage.hi; i++) d.entries.delete(i);
      if (batch.snapshot) {
        d.snapshot = batch.snapshot;
        d.snapshotMeta = batch.snapshot.meta;
        this.bytesWritten += batch.snapshot.data.length;
      }
      for (const e of batch.entries ?? []) {
        d.entries.set(e.index, e);
        this.bytesWritten += e.data.length;
      }
      if (batch.hardState) d.hardState = batch.hardState;
      this.synced();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  saveSnapshot(snapshot: Snapshot): Promise<void> {
    try {
      if (this.closed) throw new StorageClosedError('memory', 'store is closed');
      const plan = this.shape.applySnapshot(snapshot);
      const d = this.disk;
      if (plan.garbage !== null) for (let i = plan.garbage.lo; i <= plan.garbage.hi; i++) d.entries.delete(i);
      d.snapshot = snapshot;
      d.snapshotMeta = snapshot.meta;
      this.bytesWritten += snapshot.data.length;
      this.synced();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private synced(): void {
    this.syncs++;
    this.onSyncMs?.(0);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
