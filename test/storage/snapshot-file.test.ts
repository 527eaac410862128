import { Level } from 'level';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RaftStorage, StorageCorruptError } from '../../src/storage/index.js';
import { entry, OPTS, plainSnapshot, withTempDir } from './helpers.js';

/**
 * A snapshot this member takes is stored as a file beside LevelDB (src/storage/snapshot-file.ts), named by the
 * snapshot header once the file is durable: the log's writes do not queue behind its data.
 */
const CONFIG = { voters: ['n1', 'n2', 'n3'], learners: [], members: [] };

function snapshotAt(index: number, term: number, bytes: number, salt = 0) {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (i * 7 + salt) & 0xff;
  return { meta: { index, term, config: CONFIG }, data };
}

async function snapshotFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith('snapshot-')).sort();
}

async function chunkKeys(dir: string): Promise<number> {
  const raw = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  const keys = await raw.keys().all();
  await raw.close();
  return keys.filter((k) => k[0] === 0x63).length;
}

describe('snapshot files', () => {
  it('stores a compaction snapshot as a file named by the header, with no chunk records, and keeps only the newest', async () => {
    await withTempDir(async (dir) => {
      const { storage } = await RaftStorage.open(dir, { ...OPTS, snapshotChunkBytes: 64 });
      // A leader's snapshot first, in chunk records; then two of our own, which replace its chunks and each other.
      await storage.save({ snapshot: snapshotAt(5, 1, 300, 1), entries: [], hardState: { term: 1, vote: 'n1', commit: 5 } });
      await storage.save({ entries: Array.from({ length: 25 }, (_, i) => entry(i + 6, 1)), hardState: { term: 1, vote: 'n1', commit: 30 } });
      await storage.close();
      expect(await chunkKeys(dir)).toBeGreaterThan(0);
      const reopened = await RaftStorage.open(dir, { ...OPTS, snapshotChunkBytes: 64 });
      await reopened.storage.saveSnapshot(snapshotAt(10, 1, 1000, 2));
      expect(await snapshotFiles(dir)).toEqual(['snapshot-10-1.bin']);
      const last = snapshotAt(20, 1, 5000, 3);
      await reopened.storage.saveSnapshot(last);
      expect(plainSnapshot(reopened.storage.latestSnapshot())).toEqual(plainSnapshot(last));
      await reopened.storage.close();
      expect(await chunkKeys(dir)).toBe(0);
      expect(await snapshotFiles(dir)).toEqual(['snapshot-20-1.bin']);
      const r = await RaftStorage.open(dir, OPTS);
      expect(plainSnapshot(r.snapshot)).toEqual(plainSnapshot(last));
      expect(r.durable.entries.map((e) => e.index)).toEqual(Array.from({ length: 10 }, (_, i) => 21 + i));
      await r.storage.close();
    });
  });

  it('lets log writes issued after it become durable before its own header does', async () => {
    await withTempDir(async (dir) => {
      const { storage } = await RaftStorage.open(dir, OPTS);
      await storage.save({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: 'n1', commit: 2 } });
      const order: string[] = [];
      // 8 MiB: eight data syncs of the file before its header is even queued.
      const snap = storage.saveSnapshot(snapshotAt(2, 1, 8 << 20)).then(() => order.push('snapshot'));
      const append = storage.save({ entries: [entry(3, 1)] }).then(() => order.push('append'));
      await Promise.all([snap, append]);
      expect(order).toEqual(['append', 'snapshot']);
      await storage.close();
      const r = await RaftStorage.open(dir, OPTS);
      expect(r.durable.snapshotMeta.index).toBe(2);
      expect(r.durable.entries.map((e) => e.index)).toEqual([3]);
      await r.storage.close();
    });
  });

  it('drops a compaction snapshot that a newer leader snapshot overtook while its file was written', async () => {
    await withTempDir(async (dir) => {
      const { storage } = await RaftStorage.open(dir, OPTS);
      await storage.save({ entries: [entry(1, 1), entry(2, 1), entry(3, 1)], hardState: { term: 1, vote: 'n1', commit: 3 } });
      const ours = storage.saveSnapshot(snapshotAt(2, 1, 4 << 20));
      const leaders = snapshotAt(9, 2, 100, 5);
      await storage.save({ snapshot: leaders, entries: [], hardState: { term: 2, vote: null, commit: 9 } });
      await ours;
      expect(plainSnapshot(storage.latestSnapshot())).toEqual(plainSnapshot(leaders));
      await storage.close();
      expect(await snapshotFiles(dir)).toEqual([]);
      const r = await RaftStorage.open(dir, OPTS);
      expect(plainSnapshot(r.snapshot)).toEqual(plainSnapshot(leaders));
      await r.storage.close();
    });
  });

  it('deletes files no header names (a crash before the header), and refuses a store whose named file is missing or damaged', async () => {
    await withTempDir(async (dir) => {
      const { storage } = await RaftStorage.open(dir, OPTS);
      await storage.save({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: 'n1', commit: 2 } });
      const snap = snapshotAt(2, 1, 3000);
      await storage.saveSnapshot(snap);
      await storage.close();
      // What a crash can leave: a file being written, and a finished one its header never named.
      await writeFile(join(dir, 'snapshot-7-1.bin.tmp'), 'partial');
      await writeFile(join(dir, 'snapshot-7-1.bin'), 'unnamed');
      const r = await RaftStorage.open(dir, OPTS);
      expect(plainSnapshot(r.snapshot)).toEqual(plainSnapshot(snap));
      await r.storage.close();
      expect(await snapshotFiles(dir)).toEqual(['snapshot-2-1.bin']);

      const file = join(dir, 'snapshot-2-1.bin');
      const bytes = await readFile(file);
      bytes[1500] = bytes[1500]! ^ 0x40;
      await writeFile(file, bytes);
      let err = await RaftStorage.open(dir, OPTS).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(StorageCorruptError);
      expect(String(err)).toMatch(/snapshot-2-1\.bin.*checksum mismatch/);

      await writeFile(file, bytes.subarray(0, 100));
      err = await RaftStorage.open(dir, OPTS).then(() => null, (e: unknown) => e);
      expect(String(err)).toMatch(/snapshot-2-1\.bin.*holds 100 bytes/);

      await rm(file);
      err = await RaftStorage.open(dir, OPTS).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(StorageCorruptError);
      expect(String(err)).toMatch(/snapshot-2-1\.bin.*missing/);
    });
  });
});
