/**
 * Damage tests: write a store, damage it the way disks and operators do, and
 * check that open() refuses with the right typed error naming the file or key.
 * Also pins down what is NOT detectable (a .log cut short looks like a crash
 * during a write) so a change in that behaviour is noticed.
 */

import { Level } from 'level';
import { cp, mkdtemp, open as openFile, readdir, readFile, rm, stat, truncate, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Entry } from '../../src/raft/types.js';
import { readLogRecords } from '../../src/storage/leveldb-log-format.js';
import { verifyTable } from '../../src/storage/leveldb-table-format.js';
import { entryKey } from '../../src/storage/record-codec.js';
import { RaftStorage, StorageCorruptError, StorageMismatchError, type RaftStoreOptions, type StorageError } from '../../src/storage/index.js';
import { entry, OPTS, withTempDir } from './helpers.js';

const ENTRIES = 3000;
const COMMIT = 2900;

let root = '';
/** A store whose data sits in a .log (closed once, never reopened). */
let logStore = '';
/** The same data after a reopen, so it sits in .ldb tables. */
let tableStore = '';

async function writeStore(dir: string): Promise<void> {
  const { storage } = await RaftStorage.open(dir, OPTS);
  for (let lo = 1; lo <= ENTRIES; lo += 100) {
    const es: Entry[] = [];
    for (let i = lo; i < lo + 100; i++) es.push(entry(i, 1 + Math.floor(i / 1000), 200, 5));
    await storage.save({ entries: es, hardState: { term: 3, vote: 'n2', commit: Math.min(COMMIT, lo + 99) } });
  }
  await storage.close();
}

async function largest(dir: string, ext: string): Promise<{ name: string; size: number }> {
  let best = { name: '', size: -1 };
  for (const name of await readdir(dir)) {
    if (!name.endsWith(ext)) continue;
    const { size } = await stat(join(dir, name));
    if (size > best.size) best = { name, size };
  }
  if (best.size < 0) throw new Error(`no ${ext} file in ${dir}`);
  return best;
}

async function copyOf(src: string, label: string): Promise<string> {
  const dst = join(root, `${label}-${Math.random().toString(36).slice(2)}`);
  await cp(src, dst, { recursive: true });
  return dst;
}

async function flipBytes(file: string, at: number, n: number): Promise<void> {
  const fh = await openFile(file, 'r+');
  try {
    const buf = Buffer.alloc(n);
    await fh.read(buf, 0, n, at);
    for (let i = 0; i < n; i++) buf[i] = buf[i]! ^ 0xa5;
    await fh.write(buf, 0, n, at);
  } finally {
    await fh.close();
  }
}

async function openError(dir: string, opts: RaftStoreOptions = OPTS): Promise<StorageError> {
  try {
    const r = await RaftStorage.open(dir, opts);
    await r.storage.close();
  } catch (err) {
    return err as StorageError;
  }
  throw new Error('open succeeded on a damaged store');
}

function rawLevel(dir: string): Level<Uint8Array, Uint8Array> {
  return new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view', compression: false });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'raftlock-damage-'));
  logStore = join(root, 'log-store');
  await writeStore(logStore);
  tableStore = await copyOf(logStore, 'table-store');
  const r = await RaftStorage.open(tableStore, OPTS); // replays the .log into a table
  expect(r.durable.entries.length).toBe(ENTRIES);
  await r.storage.close();
  expect((await largest(logStore, '.log')).size).toBeGreaterThan(500_000);
  expect((await largest(tableStore, '.ldb')).size).toBeGreaterThan(500_000);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('damaged stores are refused', () => {
  it('(a) overwritten bytes in the middle of the largest .ldb', async () => {
    const dir = await copyOf(tableStore, 'a-ldb');
    const f = await largest(dir, '.ldb');
    await flipBytes(join(dir, f.name), Math.floor(f.size / 2), 8);
    const err = await openError(dir);
    expect(err).toBeInstanceOf(StorageCorruptError);
    expect(err.code).toBe('storage_corrupt');
    expect(err.message).toContain(f.name);
    expect(err.message).toMatch(/block checksum mismatch/);
  });

  it('(a) overwritten bytes in the middle of the largest .log', async () => {
    const dir = await copyOf(logStore, 'a-log');
    const f = await largest(dir, '.log');
    await flipBytes(join(dir, f.name), Math.floor(f.size / 2), 8);
    const err = await openError(dir);
    expect(err).toBeInstanceOf(StorageCorruptError);
    expect(err.message).toContain(f.name);
    expect(err.message).toMatch(/checksum mismatch|bad record length/);
  });

  it('(a) LevelDB on its own silently drops the damaged .log block (why we verify the files first)', async () => {
    const dir = await copyOf(logStore, 'a-raw');
    const f = await largest(dir, '.log');
    await flipBytes(join(dir, f.name), Math.floor(f.size / 2), 8);
    const raw = rawLevel(dir);
    const keys = await raw.keys({ gte: entryKey(0), lt: entryKey(ENTRIES + 1) }).all();
    await raw.close();
    expect(keys.length).toBeLessThan(ENTRIES); // no error, just fewer records
    expect(await readFile(join(dir, 'LOG'), 'utf8')).toMatch(/ignoring error.*checksum mismatch/);
  });

  it('(b) a truncated .ldb', async () => {
    const dir = await copyOf(tableStore, 'b-ldb');
    const f = await largest(dir, '.ldb');
    await truncate(join(dir, f.name), Math.floor(f.size / 2));
    const err = await openError(dir);
    expect(err).toBeInstanceOf(StorageCorruptError);
    expect(err.message).toContain(f.name);
    expect(err.message).toMatch(/truncated/);
  });

  it('(b) a deleted .ldb, and a deleted CURRENT (LevelDB would silently start an empty store)', async () => {
    const dir = await copyOf(tableStore, 'b-gone');
    const f = await largest(dir, '.ldb');
    await unlink(join(dir, f.name));
    const err = await openError(dir);
    expect(err).toBeInstanceOf(StorageCorruptError);
    expect(err.message).toMatch(new RegExp(`${f.name}.*missing`));
    const dir2 = await copyOf(tableStore, 'b-current');
    await unlink(join(dir2, 'CURRENT'));
    const err2 = await openError(dir2);
    expect(err2).toBeInstanceOf(StorageCorruptError);
    expect(err2.message).toMatch(/^CURRENT: missing/);
  });

  it('(b) NOT detected: a .log cut short is indistinguishable from a crash during a write; the cut batches are lost', async () => {
    const dir = await copyOf(logStore, 'b-log');
    const f = await largest(dir, '.log');
    await truncate(join(dir, f.name), Math.floor(f.size / 2));
    const r = await RaftStorage.open(dir, OPTS);
    await r.storage.close();
    // Whole batches of 100 survive, in order, with their hard state: a consistent earlier state.
    const n = r.durable.entries.length;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(ENTRIES);
    expect(n % 100).toBe(0);
    expect(r.durable.hardState.commit).toBe(n);
  });

  it('(c) a gap made by deleting one entry key', async () => {
    const dir = await copyOf(tableStore, 'c');
    const raw = rawLevel(dir);
    await raw.del(entryKey(1500));
    await raw.close();
    const err = await openError(dir);
    expect(err).toBeInstanceOf(StorageCorruptError);
    expect(err.message).toMatch(/key e\/1501 .*gap in the log: expected entry 1500/);
  });

  it('(c) a missing tail entry below the commit index', async () => {
    const dir = await copyOf(tableStore, 'c-tail');
    const raw = rawLevel(dir);
    for (let i = COMMIT; i <= ENTRIES; i++) await raw.del(entryKey(i));
    await raw.close();
    const err = await openError(dir);
    expect(err).toBeInstanceOf(StorageCorruptError);
    expect(err.message).toMatch(/key h .*commit 2900 is beyond the last index 2899/);
  });

  it('(d) one flipped byte inside a record value', async () => {
    for (const key of [entryKey(777), Uint8Array.of(0x68), Uint8Array.of(0x6d), Uint8Array.of(0x73)]) {
      const dir = await copyOf(tableStore, 'd');
      const raw = rawLevel(dir);
      const v = await raw.get(key);
      expect(v).toBeDefined();
      const bad = Uint8Array.from(v!);
      bad[bad.length >> 1] = bad[bad.length >> 1]! ^ 0x10;
      await raw.put(key, bad);
      await raw.close();
      const err = await openError(dir);
      expect(err).toBeInstanceOf(StorageCorruptError);
      expect(err.message).toMatch(/^key [ehms].*checksum mismatch/);
      if (key.length === 9) expect(err.message).toMatch(/^key e\/777 /);
    }
  });

  it('(d) a value moved under another key', async () => {
    const dir = await copyOf(tableStore, 'd-move');
    const raw = rawLevel(dir);
    await raw.put(entryKey(800), (await raw.get(entryKey(801)))!);
    await raw.close();
    const err = await openError(dir);
    expect(err.message).toMatch(/^key e\/800 .*checksum mismatch/);
  });

  it('(e) another node id or cluster id', async () => {
    const dir = await copyOf(tableStore, 'e');
    const err = await openError(dir, { ...OPTS, nodeId: 'n2' });
    expect(err).toBeInstanceOf(StorageMismatchError);
    expect(err.code).toBe('storage_mismatch');
    expect(err.message).toMatch(/^key m .*node "n1", not "n2"/);
  });
});

describe('every byte of a table and of a log is covered', () => {
  it('a flipped byte anywhere in an .ldb fails verifyTable', async () => {
    const dir = join(root, 'small-table');
    const { storage } = await RaftStorage.open(dir, OPTS);
    for (let i = 1; i <= 400; i++) await storage.save({ entries: [entry(i, 1, 200)] });
    await storage.close();
    await (await RaftStorage.open(dir, OPTS)).storage.close(); // log -> table
    const f = await largest(dir, '.ldb');
    const bytes = new Uint8Array(await readFile(join(dir, f.name)));
    expect(bytes.length).toBeGreaterThan(60_000);
    expect(() => verifyTable(bytes)).not.toThrow();
    // All of the tail (index, metaindex, filter, footer) and a stride through the data blocks.
    const positions: number[] = [];
    for (let i = Math.max(0, bytes.length - 6000); i < bytes.length; i++) positions.push(i);
    for (let i = 0; i < bytes.length - 6000; i += 97) positions.push(i);
    const undetected: number[] = [];
    for (const p of positions) {
      bytes[p] = bytes[p]! ^ 0x01;
      try {
        verifyTable(bytes);
        undetected.push(p);
      } catch {
        // detected
      } finally {
        bytes[p] = bytes[p]! ^ 0x01;
      }
    }
    expect(undetected).toEqual([]);
  });

  it('a flipped byte in a .log fails readLogRecords, except a length field of the last record (reads as a torn write)', async () => {
    await withTempDir(async (dir) => {
      const { storage } = await RaftStorage.open(dir, OPTS);
      for (let i = 1; i <= 40; i++) {
        // One 40 KB entry makes a record fragmented across blocks (FIRST/MIDDLE/LAST).
        await storage.save({ entries: [entry(i, 1, i === 20 ? 40_000 : 700)], hardState: { term: 1, vote: null, commit: i } });
      }
      await storage.close();
      const f = await largest(dir, '.log');
      const bytes = new Uint8Array(await readFile(join(dir, f.name)));
      expect(bytes.length).toBeGreaterThan(65_536);
      const clean = readLogRecords(bytes);
      expect(clean.tornTailOffset).toBeNull();
      expect(clean.records.length).toBe(41); // the bootstrap batch + 40 saves
      const lastRecordAt = clean.records[clean.records.length - 1]!.offset;
      // Every byte near block starts and in the last 2 KB, a stride elsewhere.
      const positions: number[] = [];
      for (let p = 0; p < bytes.length; p++) {
        if (p % 32768 < 64 || p >= bytes.length - 2048 || p % 11 === 0) positions.push(p);
      }
      const missed: number[] = [];
      const tornAt = new Set<number | null>();
      for (const p of positions) {
        bytes[p] = bytes[p]! ^ 0x80;
        try {
          const r = readLogRecords(bytes);
          missed.push(p);
          tornAt.add(r.tornTailOffset);
        } catch {
          // detected
        } finally {
          bytes[p] = bytes[p]! ^ 0x80;
        }
      }
      // Only the length bytes of the final physical record can pass (as a torn tail).
      expect(missed.every((p) => p === lastRecordAt + 4 || p === lastRecordAt + 5)).toBe(true);
      expect([...tornAt].every((t) => t === lastRecordAt)).toBe(true);
      // The documented hole, shown directly: a last record whose length grew by one reads as torn.
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      dv.setUint16(lastRecordAt + 4, dv.getUint16(lastRecordAt + 4, true) + 1, true);
      expect(readLogRecords(bytes).tornTailOffset).toBe(lastRecordAt);
      expect(readLogRecords(bytes).records.length).toBe(40);
    });
  });
});
