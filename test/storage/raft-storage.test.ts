import { Level } from 'level';
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { entryKey, encodeEntry } from '../../src/storage/record-codec.js';
import {
  MemoryDisk,
  MemoryRaftStorage,
  RaftStorage,
  StorageClosedError,
  StorageMismatchError,
  StorageMissingError,
  verifyLevelDbDir,
} from '../../src/storage/index.js';
import { configEntry, entry, OPTS, plainDurable, plainEntry, plainSnapshot, withTempDir } from './helpers.js';

function range(lo: number, hi: number, term: number, salt = 0) {
  const out = [];
  for (let i = lo; i <= hi; i++) out.push(entry(i, term, 16, salt));
  return out;
}

describe('RaftStorage', () => {
  it('bootstraps a new store and reloads it unchanged', async () => {
    await withTempDir(async (dir) => {
      const a = await RaftStorage.open(dir, OPTS);
      expect(a.snapshot).toBeNull();
      expect(plainDurable(a.durable)).toEqual({
        hardState: { term: 0, vote: null, commit: 0 },
        snapshotMeta: { index: 0, term: 0, config: { voters: ['n1', 'n2', 'n3'], learners: [], members: [] } },
        entries: [],
      });
      await a.storage.close();
      const b = await RaftStorage.open(dir, { ...OPTS, voters: ['other'] });
      expect(plainDurable(b.durable)).toEqual(plainDurable(a.durable));
      await b.storage.close();
    });
  });

  it('persists entries, truncation of a conflicting suffix, hard state and config entries', async () => {
    await withTempDir(async (dir) => {
      const syncs: number[] = [];
      const { storage } = await RaftStorage.open(dir, { ...OPTS, onSyncMs: (ms) => syncs.push(ms) });
      await storage.save({ entries: range(1, 10, 1), hardState: { term: 1, vote: 'n2', commit: 3 } });
      // Overwrite 6.. with a term-2 suffix that is shorter: 9 and 10 must go.
      await storage.save({ entries: [...range(6, 7, 2, 9), configEntry(8, 2, ['n1', 'n2'])], hardState: { term: 2, vote: null, commit: 5 } });
      expect(syncs.length).toBe(2);
      expect(storage.stats.syncs).toBe(2);
      await storage.close();
      const b = await RaftStorage.open(dir, OPTS);
      expect(b.durable.hardState).toEqual({ term: 2, vote: null, commit: 5 });
      expect(b.durable.entries.map(plainEntry)).toEqual([...range(1, 5, 1), ...range(6, 7, 2, 9), configEntry(8, 2, ['n1', 'n2'])].map(plainEntry));
      expect(b.durable.entries[0]!.data.constructor).toBe(Uint8Array);
      await b.storage.close();
    });
  });

  it('compacts with saveSnapshot and replaces the log with a leader snapshot', async () => {
    await withTempDir(async (dir) => {
      const { storage } = await RaftStorage.open(dir, { ...OPTS, snapshotChunkBytes: 7, maxDeletesPerBatch: 3 });
      await storage.save({ entries: range(1, 20, 1), hardState: { term: 1, vote: 'n1', commit: 15 } });
      const snap1 = { meta: { index: 12, term: 1, config: { voters: ['n1', 'n2', 'n3'], learners: [], members: [] } }, data: new Uint8Array(50).fill(3) };
      await storage.saveSnapshot(snap1);
      expect(plainSnapshot(storage.latestSnapshot())).toEqual(plainSnapshot(snap1));
      await storage.close();
      let r = await RaftStorage.open(dir, { ...OPTS, snapshotChunkBytes: 7, maxDeletesPerBatch: 3 });
      expect(plainSnapshot(r.snapshot)).toEqual(plainSnapshot(snap1));
      expect(r.durable.snapshotMeta.index).toBe(12);
      expect(r.durable.entries.map((e) => e.index)).toEqual(range(13, 20, 1).map((e) => e.index));
      // A leader snapshot beyond our log replaces everything; fewer chunks than before.
      const snap2 = { meta: { index: 30, term: 3, config: { voters: ['n1', 'n2'], learners: [], members: [] } }, data: new Uint8Array(9).fill(4) };
      await r.storage.save({ snapshot: snap2, entries: [entry(31, 3)], hardState: { term: 3, vote: null, commit: 30 } });
      await r.storage.close();
      r = await RaftStorage.open(dir, OPTS);
      expect(plainSnapshot(r.snapshot)).toEqual(plainSnapshot(snap2));
      expect(r.durable.entries.map(plainEntry)).toEqual([plainEntry(entry(31, 3))]);
      await r.storage.close();
      // Nothing below the snapshot is left: every old entry key was deleted.
      const raw = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view', compression: false });
      const keys = await raw.keys().all();
      await raw.close();
      expect(keys.filter((k) => k[0] === 0x65).length).toBe(1);
      expect(keys.filter((k) => k[0] === 0x63).length).toBe(2);
    });
  });

  it('ignores left-over entries below the snapshot and deletes them at the next compaction', async () => {
    await withTempDir(async (dir) => {
      const { storage } = await RaftStorage.open(dir, OPTS);
      await storage.save({ entries: range(1, 10, 1), hardState: { term: 1, vote: null, commit: 8 } });
      await storage.saveSnapshot({ meta: { index: 5, term: 1, config: { voters: ['n1'], learners: [], members: [] } }, data: new Uint8Array(3) });
      await storage.close();
      // Simulate a crash that interrupted the deletion batches: put entries 2..4 back.
      const raw = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view', compression: false });
      for (let i = 2; i <= 4; i++) await raw.put(entryKey(i), encodeEntry(entryKey(i), entry(i, 1)));
      await raw.close();
      const r = await RaftStorage.open(dir, OPTS);
      expect(r.durable.entries.map((e) => e.index)).toEqual([6, 7, 8, 9, 10]);
      await r.storage.saveSnapshot({ meta: { index: 7, term: 1, config: { voters: ['n1'], learners: [], members: [] } }, data: new Uint8Array(3) });
      await r.storage.close();
      const raw2 = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view', compression: false });
      const keys = await raw2.keys({ gte: entryKey(0), lt: entryKey(1000) }).all();
      await raw2.close();
      expect(keys.map((k) => k[8])).toEqual([8, 9, 10]);
    });
  });

  it('rejects a save that breaks a Raft invariant without writing anything', async () => {
    await withTempDir(async (dir) => {
      const { storage } = await RaftStorage.open(dir, OPTS);
      await storage.save({ entries: range(1, 5, 2), hardState: { term: 2, vote: 'n1', commit: 4 } });
      await expect(storage.save({ entries: [entry(3, 3)] })).rejects.toThrow(/overwrite a committed entry/);
      await expect(storage.save({ entries: [entry(7, 2)] })).rejects.toThrow(/outside/);
      await expect(storage.save({ entries: [entry(6, 1)] })).rejects.toThrow(/below the term/);
      await expect(storage.save({ hardState: { term: 2, vote: 'n3', commit: 4 } })).rejects.toThrow(/vote in term 2/);
      await expect(storage.save({ hardState: { term: 1, vote: null, commit: 4 } })).rejects.toThrow(/term goes from/);
      await expect(storage.save({ hardState: { term: 2, vote: 'n1', commit: 6 } })).rejects.toThrow(/exceed the last index/);
      await expect(storage.saveSnapshot({ meta: { index: 3, term: 1, config: { voters: [], learners: [], members: [] } }, data: new Uint8Array() })).rejects.toThrow(/has term 1/);
      // Identical re-append of committed entries is allowed (same index and term = same entry).
      await storage.save({ entries: range(4, 6, 2) });
      await storage.close();
      const r = await RaftStorage.open(dir, OPTS);
      expect(r.durable.entries.map((e) => [e.index, e.term])).toEqual([[1, 2], [2, 2], [3, 2], [4, 2], [5, 2], [6, 2]]);
      expect(r.durable.hardState).toEqual({ term: 2, vote: 'n1', commit: 4 });
      await r.storage.close();
      await expect(r.storage.save({})).rejects.toBeInstanceOf(StorageClosedError);
    });
  });

  it('refuses another node or cluster, and a missing store when told not to create one', async () => {
    await withTempDir(async (dir) => {
      await expect(RaftStorage.open(dir, { ...OPTS, createIfMissing: false })).rejects.toBeInstanceOf(StorageMissingError);
      const { storage } = await RaftStorage.open(dir, OPTS);
      await storage.close();
      await expect(RaftStorage.open(dir, { ...OPTS, clusterId: 'c2' })).rejects.toThrow(StorageMismatchError);
      await expect(RaftStorage.open(dir, { ...OPTS, clusterId: 'c2' })).rejects.toThrow(/key m .*cluster "c1", not "c2"/);
      const ok = await RaftStorage.open(dir, { ...OPTS, createIfMissing: false });
      await ok.storage.close();
    });
  });

  it('adopts the cluster id a store holds when none is given, and says whether the open created the store', async () => {
    await withTempDir(async (dir) => {
      await expect(RaftStorage.open(dir, { ...OPTS, clusterId: null })).rejects.toThrow(/needs a clusterId/);
      const a = await RaftStorage.open(dir, OPTS);
      expect([a.clusterId, a.created]).toEqual(['c1', true]);
      await a.storage.close();
      const b = await RaftStorage.open(dir, { ...OPTS, clusterId: null, createIfMissing: false });
      expect([b.clusterId, b.created]).toEqual(['c1', false]);
      await b.storage.close();
      await expect(RaftStorage.open(dir, { ...OPTS, nodeId: 'n2', clusterId: null })).rejects.toThrow(/node "n1", not "n2"/);
    });
  });

  it('treats an empty LevelDB (a crash before the bootstrap batch) as no store', async () => {
    await withTempDir(async (dir) => {
      const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view', compression: false });
      await db.open();
      await db.close();
      await expect(RaftStorage.open(dir, { ...OPTS, createIfMissing: false })).rejects.toBeInstanceOf(StorageMissingError);
    });
  });

  it('seeds a new store from an initial snapshot: its index committed, its term, its configuration, its data', async () => {
    await withTempDir(async (dir) => {
      const data = new Uint8Array(3000).map((_, i) => i & 0xff);
      const initialSnapshot = { meta: { index: 41, term: 7, config: { voters: ['n1', 'n4', 'n5'], learners: [], members: [] } }, data };
      const a = await RaftStorage.open(dir, { ...OPTS, clusterId: 'restored', snapshotChunkBytes: 1024, initialSnapshot });
      expect(a.created).toBe(true);
      expect(plainDurable(a.durable)).toEqual({ hardState: { term: 7, vote: null, commit: 41 }, snapshotMeta: { index: 41, term: 7, config: { voters: ['n1', 'n4', 'n5'], learners: [], members: [] } }, entries: [] });
      await a.storage.save({ entries: [entry(42, 8)], hardState: { term: 8, vote: 'n1', commit: 42 } });
      await a.storage.close();
      const b = await RaftStorage.open(dir, { ...OPTS, clusterId: null });
      expect(b.clusterId).toBe('restored');
      expect(plainSnapshot(b.snapshot)).toEqual(plainSnapshot(initialSnapshot));
      expect(b.durable.entries.map((e) => [e.index, e.term])).toEqual([[42, 8]]);
      await b.storage.close();
      // An existing store is loaded, never reseeded.
      const c = await RaftStorage.open(dir, { ...OPTS, clusterId: 'restored', initialSnapshot: { ...initialSnapshot, meta: { ...initialSnapshot.meta, index: 99 } } });
      expect([c.created, c.durable.snapshotMeta.index]).toEqual([false, 41]);
      await c.storage.close();
    });
  });

  it('applies saves issued without awaiting in call order', async () => {
    await withTempDir(async (dir) => {
      const { storage } = await RaftStorage.open(dir, OPTS);
      const ps = [];
      for (let i = 1; i <= 50; i++) ps.push(storage.save({ entries: [entry(i, 1 + Math.floor(i / 10))], hardState: { term: 1 + Math.floor(i / 10), vote: null, commit: i - 1 } }));
      await Promise.all(ps);
      await storage.close();
      const r = await RaftStorage.open(dir, OPTS);
      expect(r.durable.entries.length).toBe(50);
      expect(r.durable.hardState.commit).toBe(49);
      await r.storage.close();
      const report = await verifyLevelDbDir(dir);
      expect(report.exists).toBe(true);
      expect(report.tornTail).toBeNull();
      expect((await readdir(dir)).some((f) => f.endsWith('.ldb'))).toBe(true);
    });
  });
});

describe('MemoryRaftStorage', () => {
  it('survives a reopen of the same MemoryDisk and checks identity', async () => {
    const disk = new MemoryDisk();
    const a = await MemoryRaftStorage.open(disk, OPTS);
    await a.storage.save({ entries: range(1, 4, 1), hardState: { term: 1, vote: 'n1', commit: 2 } });
    await a.storage.saveSnapshot({ meta: { index: 2, term: 1, config: { voters: ['n1'], learners: [], members: [] } }, data: Uint8Array.of(1) });
    await a.storage.close();
    const b = await MemoryRaftStorage.open(disk, OPTS);
    expect(b.durable.entries.map((e) => e.index)).toEqual([3, 4]);
    expect(b.snapshot?.meta.index).toBe(2);
    await expect(MemoryRaftStorage.open(disk, { ...OPTS, nodeId: 'n9' })).rejects.toBeInstanceOf(StorageMismatchError);
  });

  it('adopts the stored cluster id and seeds from an initial snapshot, as RaftStorage does', async () => {
    const disk = new MemoryDisk();
    const initialSnapshot = { meta: { index: 9, term: 3, config: { voters: ['n1', 'n2'], learners: [], members: [] } }, data: Uint8Array.of(5) };
    const a = await MemoryRaftStorage.open(disk, { ...OPTS, initialSnapshot });
    expect([a.created, a.durable.hardState]).toEqual([true, { term: 3, vote: null, commit: 9 }]);
    await a.storage.close();
    const b = await MemoryRaftStorage.open(disk, { ...OPTS, clusterId: null });
    expect([b.clusterId, b.created, b.snapshot?.meta.index]).toEqual(['c1', false, 9]);
  });
});
