/**
 * RaftStorage: the durable Raft state of one node in LevelDB (classic-level).
 *
 * Layout and framing are in record-codec.ts. Every write is ONE
 * chained batch written with `{ sync: true }`, which LevelDB applies atomically (one
 * WriteBatch = one log record) and fsyncs before resolving, so a Ready's
 * messages may be sent once save() resolves (Raft Figure 2: persistent state
 * is updated on stable storage before responding to RPCs). The one exception
 * is a snapshot this node took (saveSnapshot): its data is a file beside the
 * store (snapshot-file.ts), written first, then named by a small batch.
 *
 * Loading verifies everything and repairs nothing: the LevelDB files
 * themselves (leveldb-verify.ts, since classic-level cannot enable LevelDB's
 * paranoid checks), every record checksum, and the Raft invariants (meta
 * matches the caller, entries contiguous from snapshot+1, terms never
 * decrease, commit <= last index).
 *
 * The one tolerance: entries at or below the snapshot index are ignored on
 * load. LevelDB has no range delete and `db.clear()` cannot join a batch, so
 * compaction deletes them key by key, at most `maxDeletesPerBatch` per batch
 * (the first share inside the snapshot's own synced batch); a crash may leave
 * some behind, and the next compaction deletes them. Deletions of a
 * conflicting suffix (entries above the new last index) are NOT deferred: they
 * must be atomic with the entries that replace them, so they ride in the same
 * batch (their number is bounded by the uncompacted log length).
 *
 * Writes are queued, one at a time, in call order: classic-level runs each
 * batch() on a libuv worker thread, and two batches issued together reach
 * LevelDB in either order (about 5% of pairs in a quick experiment).
 *
 * What damage is detected and what is not: see leveldb-verify.ts. When
 * LevelDB itself raises while opening or reading, its message (which names
 * the file) is quoted in the StorageCorruptError.
 */

import { performance } from 'node:perf_hooks';
import { assert } from '../raft/invariant.js';
import { Level } from 'level';
import type { DurableState, Entry, HardState, Snapshot, SnapshotMeta } from '../raft/types.js';
import { checkInfoLog, errorChain, hasCode, leveldbReadError } from './leveldb-diagnostics.js';
import { verifyLevelDbDir } from './leveldb-verify.js';
import { LogShape, type SaveBatch } from './log-shape.js';
import type { OpenResult, RaftStore, RaftStoreOptions, StoreStats } from './raft-store.js';
import {
  chunkKey,
  decodeEntry,
  decodeHardState,
  decodeMeta,
  decodeSnapshotHeader,
  encodeChunk,
  encodeEntry,
  encodeHardState,
  encodeMeta,
  encodeSnapshotHeader,
  entryKey,
  FORMAT_VERSION,
  HARD_STATE_KEY,
  keyName,
  META_KEY,
  parseKey,
  snapshotDataCrc,
  SNAPSHOT_KEY,
  unframe,
  type SnapshotHeader,
} from './record-codec.js';
import { StorageClosedError, StorageCorruptError, StorageFailedError, StorageMismatchError, StorageMissingError } from './storage-errors.js';
import { removeSnapshotFilesExcept, snapshotFileName, writeSnapshotFile } from './snapshot-file.js';
import { assembleChunkSnapshot, MAX_CHUNKS, readFileSnapshot } from './stored-snapshot.js';

type Db = Level<Uint8Array, Uint8Array>;
type Op = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

/**
 * writeBatch writes `ops` as one atomic LevelDB batch through the chained-batch API. The array form,
 * `db.batch(ops)`, clones and re-validates every operation object and the native side reads each one's
 * properties back: about 14 µs of main-thread CPU per operation against about 1 µs here (measured with
 * 20 puts of 150 bytes per batch), which made the store the largest CPU cost of a follower.
 */
function writeBatch(db: Db, ops: readonly Op[], sync: boolean): Promise<void> {
  const batch = db.batch();
  try {
    for (const op of ops) {
      if (op.type === 'put') batch.put(op.key, op.value);
      else batch.del(op.key);
    }
  } catch (err) {
    void batch.close();
    return Promise.reject(err);
  }
  return batch.write({ sync });
}

const DEFAULT_CHUNK_BYTES = 1 << 20;
const DEFAULT_MAX_DELETES = 10_000;
/** Records read per iterator step while loading. */
const LOAD_BATCH = 1000;

function checkOptions(o: RaftStoreOptions): void {
  const positive = (v: number | undefined): boolean => v === undefined || (Number.isSafeInteger(v) && v >= 1);
  if (!positive(o.snapshotChunkBytes)) throw new RangeError(`snapshotChunkBytes ${o.snapshotChunkBytes}`);
  if (!positive(o.maxDeletesPerBatch)) throw new RangeError(`maxDeletesPerBatch ${o.maxDeletesPerBatch}`);
  if (typeof o.nodeId !== 'string' || o.nodeId === '' || o.clusterId === '') {
    throw new RangeError('nodeId must be a non-empty string, and clusterId one or null');
  }
}

/** RaftStorage is the LevelDB-backed RaftStore; see the module comment. */
export class RaftStorage implements RaftStore {
  private readonly db: Db;
  private readonly shape: LogShape;
  private readonly onSyncMs: ((ms: number) => void) | undefined;
  private readonly chunkBytes: number;
  private readonly maxDeletes: number;
  private chunkCount: number;
  private snapshot: Snapshot | null;
  /** The directory of the store, where snapshot files live beside LevelDB's (snapshot-file.ts). */
  private readonly dir: string;
  /** The file the durable snapshot header names, or null (its data is in chunk records). */
  private snapshotFile: string | null;
  /** The snapshot file being written and not yet named by a header: clean-ups leave it alone. */
  private fileInProgress: string | null = null;
  /** The saveSnapshot under way (file, then header), which close() lets finish. */
  private fileSave: Promise<void> | null = null;
  private failure: unknown = null;
  private closed = false;
  /** The queue of writes: settles (never rejects) when the last queued write and its clean-up are done. */
  private tail: Promise<void> = Promise.resolve();
  private syncs = 0;
  private lastSyncMs = 0;
  private bytesWritten = 0;

  private constructor(db: Db, dir: string, shape: LogShape, options: RaftStoreOptions, header: { chunkCount: number; file: string | null }, snapshot: Snapshot | null) {
    this.db = db;
    this.dir = dir;
    this.snapshotFile = header.file;
    this.shape = shape;
    this.onSyncMs = options.onSyncMs;
    this.chunkBytes = options.snapshotChunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.maxDeletes = options.maxDeletesPerBatch ?? DEFAULT_MAX_DELETES;
    this.chunkCount = header.chunkCount;
    this.snapshot = snapshot;
  }

  /**
   * RaftStorage.open opens the store in `dir`, creating and bootstrapping it
   * (snapshot meta index 0 term 0 with `options.voters`, hard state
   * {term 0, vote null, commit 0}; or `options.initialSnapshot`) if there is
   * none and `createIfMissing` is not false. Throws StorageCorruptError /
   * StorageMismatchError / StorageMissingError.
   */
  static async open(dir: string, options: RaftStoreOptions): Promise<OpenResult<RaftStorage>> {
    checkOptions(options);
    const report = await verifyLevelDbDir(dir);
    if (!report.exists && options.createIfMissing === false) {
      throw new StorageMissingError(dir, 'no store here and createIfMissing is false');
    }
    // Compression off: the table verifier parses index blocks, which it can only do uncompressed.
    const db: Db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view', compression: false });
    try {
      await db.open();
    } catch (err) {
      if (hasCode(err, 'LEVEL_CORRUPTION')) {
        throw new StorageCorruptError(dir, `LevelDB refused to open: ${errorChain(err)}`, { cause: err });
      }
      throw err;
    }
    try {
      await checkInfoLog(dir);
      return await RaftStorage.load(db, dir, options);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
  }

  private static async load(db: Db, dir: string, options: RaftStoreOptions): Promise<OpenResult<RaftStorage>> {
    let meta: Uint8Array | null = null;
    let hard: Uint8Array | null = null;
    let header: Uint8Array | null = null;
    const chunks: Array<{ key: Uint8Array; value: Uint8Array }> = [];
    const entryRecords: Array<{ key: Uint8Array; index: number; value: Uint8Array }> = [];
    const it = db.iterator({ highWaterMarkBytes: 4 << 20 });
    try {
      // Bounded: each step consumes >= 1 record of a finite store and stops at the end.
      for (;;) {
        const batch = await it.nextv(LOAD_BATCH);
        if (batch.length === 0) break;
        for (const [key, value] of batch) {
          const k = parseKey(key);
          if (k === null) throw new StorageCorruptError(keyName(key), 'unknown key in a raft store');
          switch (k.kind) {
            case 'meta':
              meta = value;
              break;
            case 'hardState':
              hard = value;
              break;
            case 'snapshot':
              header = value;
              break;
            case 'chunk':
              chunks.push({ key, value });
              break;
            case 'entry':
              entryRecords.push({ key, index: k.index, value });
              break;
          }
        }
      }
    } catch (err) {
      if (err instanceof StorageCorruptError) throw err;
      throw leveldbReadError(dir, err);
    } finally {
      await it.close().catch(() => undefined);
    }

    if (meta === null && hard === null && header === null && chunks.length === 0 && entryRecords.length === 0) {
      // An empty LevelDB (a crash before the bootstrap batch) holds no store either.
      if (options.createIfMissing === false) throw new StorageMissingError(dir, 'no store here and createIfMissing is false');
      return RaftStorage.bootstrap(db, options);
    }
    if (meta === null) throw new StorageCorruptError(keyName(META_KEY), 'missing in a non-empty store');
    const m = decodeMeta(meta);
    if (m.formatVersion !== FORMAT_VERSION) {
      throw new StorageMismatchError(keyName(META_KEY), `format version ${m.formatVersion}, this build reads ${FORMAT_VERSION}`);
    }
    if (options.clusterId !== null && m.clusterId !== options.clusterId) {
      throw new StorageMismatchError(keyName(META_KEY), `store belongs to cluster ${JSON.stringify(m.clusterId)}, not ${JSON.stringify(options.clusterId)}`);
    }
    if (m.nodeId !== options.nodeId) {
      throw new StorageMismatchError(keyName(META_KEY), `store belongs to node ${JSON.stringify(m.nodeId)}, not ${JSON.stringify(options.nodeId)}`);
    }
    if (hard === null) throw new StorageCorruptError(keyName(HARD_STATE_KEY), 'missing');
    if (header === null) throw new StorageCorruptError(keyName(SNAPSHOT_KEY), 'missing');
    const hardState = decodeHardState(hard);
    const h = decodeSnapshotHeader(header);
    const snapshot = h.file === null ? assembleChunkSnapshot(h, chunks) : await readFileSnapshot(dir, h, chunks);

    // Entries arrive in key order = index order. Those at or below the
    // snapshot are left-overs of an interrupted compaction: ignored (documented tolerance).
    const snapIndex = h.meta.index;
    let lowestStored = snapIndex + 1;
    const entries: Entry[] = [];
    let prevTerm = h.meta.term;
    for (const r of entryRecords) {
      const e = decodeEntry(r.key, r.index, r.value);
      if (r.index <= snapIndex) {
        lowestStored = Math.min(lowestStored, r.index);
        continue;
      }
      const expected = snapIndex + 1 + entries.length;
      if (r.index !== expected) {
        throw new StorageCorruptError(keyName(r.key), `gap in the log: expected entry ${expected} next (snapshot at ${snapIndex})`);
      }
      if (e.term < prevTerm) {
        throw new StorageCorruptError(keyName(r.key), `term ${e.term} is below the previous term ${prevTerm}`);
      }
      prevTerm = e.term;
      entries.push(e);
    }
    const lastIndex = snapIndex + entries.length;
    if (hardState.commit > lastIndex) {
      throw new StorageCorruptError(keyName(HARD_STATE_KEY), `commit ${hardState.commit} is beyond the last index ${lastIndex}`);
    }
    const shape = new LogShape(h.meta, hardState, entries, lowestStored);
    const storage = new RaftStorage(db, dir, shape, options, { chunkCount: h.chunkCount, file: h.file }, snapshot);
    // Files no header names: a snapshot written when the process died, or one a newer snapshot replaced.
    await removeSnapshotFilesExcept(dir, (name) => name === h.file);
    const durable: DurableState = { hardState, snapshotMeta: h.meta, entries };
    return { storage, clusterId: m.clusterId, created: false, durable, snapshot };
  }

  private static async bootstrap(db: Db, options: RaftStoreOptions): Promise<OpenResult<RaftStorage>> {
    const clusterId = options.clusterId;
    if (clusterId === null) throw new RangeError('creating a store needs a clusterId');
    const initial = options.initialSnapshot ?? null;
    const snapshotMeta: SnapshotMeta = initial?.meta ?? { index: 0, term: 0, config: { voters: [...options.voters], learners: [], members: [] } };
    // A seeded store has everything in its snapshot committed: every member of the new cluster starts from it.
    const hardState: HardState = { term: snapshotMeta.term, vote: null, commit: snapshotMeta.index };
    const voters = [...snapshotMeta.config.voters];
    const shape = new LogShape(snapshotMeta, hardState, [], snapshotMeta.index + 1);
    const storage = new RaftStorage(db, db.location, shape, options, { chunkCount: 0, file: null }, null);
    const ops: Op[] = [
      { type: 'put', key: META_KEY, value: encodeMeta({ formatVersion: FORMAT_VERSION, clusterId, nodeId: options.nodeId, voters }) },
      { type: 'put', key: HARD_STATE_KEY, value: encodeHardState(hardState) },
    ];
    if (initial !== null) {
      storage.checkSnapshotSize(initial);
      storage.pushSnapshotOps(ops, initial);
    } else {
      const empty = new Uint8Array(0);
      const header: SnapshotHeader = { meta: snapshotMeta, dataLength: 0, chunkCount: 0, dataCrc: snapshotDataCrc(empty), file: null };
      ops.push({ type: 'put', key: SNAPSHOT_KEY, value: encodeSnapshotHeader(header) });
    }
    // One atomic synced batch: a crash leaves either nothing (bootstrap again) or a complete store.
    await writeBatch(db, ops, true);
    storage.snapshot = initial;
    return { storage, clusterId, created: true, durable: { hardState, snapshotMeta, entries: [] }, snapshot: initial };
  }

  get stats(): StoreStats {
    return { syncs: this.syncs, lastSyncMs: this.lastSyncMs, bytesWritten: this.bytesWritten };
  }

  latestSnapshot(): Snapshot | null {
    return this.snapshot;
  }

  private checkUsable(): void {
    if (this.closed) throw new StorageClosedError(this.db.location, 'store is closed');
    if (this.failure !== null) {
      throw new StorageFailedError(this.db.location, `an earlier write failed: ${errorChain(this.failure)}`, { cause: this.failure });
    }
  }

  save(batch: SaveBatch): Promise<void> {
    return this.track(() => {
      if (batch.snapshot) this.checkSnapshotSize(batch.snapshot);
      const plan = this.shape.applySave(batch);
      const ops: Op[] = [];
      if (batch.snapshot) this.pushSnapshotOps(ops, batch.snapshot);
      if (plan.discard !== null) {
        for (let i = plan.discard.lo; i <= plan.discard.hi; i++) ops.push({ type: 'del', key: entryKey(i) });
      }
      for (const e of batch.entries ?? []) {
        const key = entryKey(e.index);
        ops.push({ type: 'put', key, value: encodeEntry(key, e) });
      }
      if (batch.hardState) ops.push({ type: 'put', key: HARD_STATE_KEY, value: encodeHardState(batch.hardState) });
      return { ops, garbage: plan.garbage, snapshot: batch.snapshot ?? null, file: null };
    });
  }

  /**
   * saveSnapshot stores a snapshot this member took (log compaction, Raft §7): its data goes to a file of its own
   * first (snapshot-file.ts), outside the queue of log writes, which go on meanwhile; then one small synced batch
   * names the file in the header, deletes any chunk records and the first share of the compacted entries. So, unlike
   * save(), its header may land after writes issued later (disjoint keys: those are entries past its index). A
   * newer snapshot planned meanwhile (a leader's, installed by save) makes this one obsolete: its file is deleted
   * and no header names it.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void> {
    try {
      this.checkUsable();
    } catch (err) {
      return Promise.reject(err);
    }
    assert(this.fileInProgress === null, 'one snapshot file at a time');
    const name = snapshotFileName(snapshot.meta);
    this.fileInProgress = name;
    const saved = (async (): Promise<void> => {
      // The file stays "in progress", safe from clean-ups, until a durable header names it (then snapshotFile
      // protects it) or it is dropped: a clean-up after another write may run at any point in between.
      try {
        let crc: number;
        try {
          crc = await writeSnapshotFile(this.dir, name, snapshot.data);
        } catch (err) {
          this.failure ??= err;
          throw new StorageFailedError(this.dir, `snapshot file ${name} not written: ${errorChain(err)}`, { cause: err });
        }
        // The shape holds the newest snapshot planned (by save) or durable.
        if (this.shape.snapshotMeta.index > snapshot.meta.index) {
          this.fileInProgress = null;
          await removeSnapshotFilesExcept(this.dir, (n) => n === this.snapshotFile || this.inProgress(n));
          return;
        }
        await this.track(() => {
          const plan = this.shape.applySnapshot(snapshot);
          const header: SnapshotHeader = { meta: snapshot.meta, dataLength: snapshot.data.length, chunkCount: 0, dataCrc: crc, file: name };
          const ops: Op[] = [{ type: 'put', key: SNAPSHOT_KEY, value: encodeSnapshotHeader(header) }];
          for (let i = 0; i < this.chunkCount; i++) ops.push({ type: 'del', key: chunkKey(i) });
          this.chunkCount = 0;
          return { ops, garbage: plan.garbage, snapshot, file: name };
        });
      } finally {
        this.fileInProgress = null;
      }
    })();
    this.fileSave = saved;
    return saved;
  }

  /** inProgress: is `name` the snapshot file being written, or its temporary name? */
  private inProgress(name: string): boolean {
    return this.fileInProgress !== null && (name === this.fileInProgress || name === `${this.fileInProgress}.tmp`);
  }

  private checkSnapshotSize(snapshot: Snapshot): void {
    if (Math.ceil(snapshot.data.length / this.chunkBytes) > MAX_CHUNKS) {
      throw new RangeError(`snapshot of ${snapshot.data.length} bytes needs more than ${MAX_CHUNKS} chunks`);
    }
  }

  private pushSnapshotOps(ops: Op[], snapshot: Snapshot): void {
    const data = snapshot.data;
    const count = Math.ceil(data.length / this.chunkBytes);
    const header: SnapshotHeader = { meta: snapshot.meta, dataLength: data.length, chunkCount: count, dataCrc: snapshotDataCrc(data), file: null };
    ops.push({ type: 'put', key: SNAPSHOT_KEY, value: encodeSnapshotHeader(header) });
    for (let i = 0; i < count; i++) {
      const part = data.subarray(i * this.chunkBytes, Math.min(data.length, (i + 1) * this.chunkBytes));
      ops.push({ type: 'put', key: chunkKey(i), value: encodeChunk(i, part) });
    }
    for (let i = count; i < this.chunkCount; i++) ops.push({ type: 'del', key: chunkKey(i) });
    this.chunkCount = count;
  }

  /**
   * track plans a write synchronously (so saves issued back to back without
   * awaiting see each other's effect), then queues it behind the previous
   * write. The queue matters: classic-level runs each batch() on a libuv
   * worker thread, so two batches issued together can reach LevelDB in
   * either order (observed in the model test). One write runs at a time: the
   * synced batch (carrying up to maxDeletes deletions of compacted entries),
   * after which save() resolves, then any further bounded unsynced deletion
   * batches. After a failed write nothing queued behind it is written.
   */
  private track(plan: () => { ops: Op[]; garbage: { lo: number; hi: number } | null; snapshot: Snapshot | null; file: string | null }): Promise<void> {
    try {
      this.checkUsable();
    } catch (err) {
      return Promise.reject(err);
    }
    let ops: Op[];
    let garbage: { lo: number; hi: number } | null;
    let snapshot: Snapshot | null;
    let file: string | null;
    try {
      ({ ops, garbage, snapshot, file } = plan());
    } catch (err) {
      // An invariant violation: nothing was written and the shape is unchanged.
      return Promise.reject(err);
    }
    let next = garbage?.lo ?? 0;
    const hi = garbage?.hi ?? -1;
    for (let n = 0; n < this.maxDeletes && next <= hi; n++, next++) ops.push({ type: 'del', key: entryKey(next) });
    const previous = this.tail;
    const synced = (async (): Promise<void> => {
      await previous;
      if (this.failure !== null) {
        throw new StorageFailedError(this.db.location, `not written: an earlier write failed: ${errorChain(this.failure)}`, { cause: this.failure });
      }
      let bytes = 0;
      for (const op of ops) bytes += op.key.length + (op.type === 'put' ? op.value.length : 0);
      const t0 = performance.now();
      try {
        await writeBatch(this.db, ops, true);
      } catch (err) {
        this.failure ??= err;
        throw new StorageFailedError(this.db.location, `write failed: ${errorChain(err)}`, { cause: err });
      }
      const ms = performance.now() - t0;
      this.syncs++;
      this.lastSyncMs = ms;
      this.bytesWritten += bytes;
      if (snapshot !== null) {
        this.snapshot = snapshot;
        this.snapshotFile = file;
        // The file a replaced header named, if any: not needed once this header is durable.
        void removeSnapshotFilesExcept(this.dir, (n) => n === this.snapshotFile || this.inProgress(n)).catch(() => undefined);
      }
      this.onSyncMs?.(ms);
    })();
    this.tail = (async (): Promise<void> => {
      try {
        await synced;
        // Left-over compacted entries: bounded batches, unsynced (a crash just leaves garbage that load ignores).
        while (next <= hi) {
          const dels: Op[] = [];
          for (let n = 0; n < this.maxDeletes && next <= hi; n++, next++) dels.push({ type: 'del', key: entryKey(next) });
          await writeBatch(this.db, dels, false);
        }
      } catch (err) {
        this.failure ??= err;
      }
    })();
    return synced;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // A snapshot file being written still names itself in the header, behind the writes queued before this close.
    await this.fileSave?.catch(() => undefined);
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    await this.db.close();
  }
}
