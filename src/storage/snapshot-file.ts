/**
 * A snapshot's data kept in a file of its own beside the LevelDB store, as etcd keeps its snap files: written and
 * synced off the event loop and outside LevelDB, then named by the snapshot header in one small synced batch.
 *
 * Why: a 70 MiB snapshot written as one LevelDB batch held every later write for 0.7-0.8 s (LevelDB has one writer
 * queue), and a leader's next log write waited behind it, so no heartbeat left and its followers elected another
 * leader (bench/README.md). Written as a file, the log's small synced writes waited at most 21-55 ms.
 *
 * The file is written under a temporary name, synced each SYNC_EVERY_BYTES (so the final sync does not flush tens
 * of MiB at once), renamed, and the directory synced. Only then does a header name it: a crash before that leaves the
 * previous header and its data untouched, and an unnamed file that the next open deletes.
 */
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SnapshotMeta } from '../raft/types.js';
import { snapshotDataCrc } from './record-codec.js';
import { StorageCorruptError } from './storage-errors.js';

/** Bytes written between two data syncs of a snapshot file. */
const SYNC_EVERY_BYTES = 1 << 20;
const FILE_RE = /^snapshot-(\d+)-(\d+)\.bin(\.tmp)?$/;

/** snapshotFileName names the file of the snapshot at `meta` (its index and term). */
export function snapshotFileName(meta: SnapshotMeta): string {
  return `snapshot-${meta.index}-${meta.term}.bin`;
}

/** isSnapshotFileName says whether `name` is a valid snapshot file name (a header naming anything else is corrupt). */
export function isSnapshotFileName(name: string): boolean {
  const m = FILE_RE.exec(name);
  return m !== null && m[3] === undefined;
}

/**
 * writeSnapshotFile writes `data` durably as `dir/name` (see the module comment for the order) and returns its CRC-32
 * (snapshotDataCrc), computed a piece at a time between the writes rather than over the whole data in one turn.
 */
export async function writeSnapshotFile(dir: string, name: string, data: Uint8Array): Promise<number> {
  let crc = 0; // the CRC-32 of no bytes
  const tmp = join(dir, `${name}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    // Bounded by the data length: each step writes up to SYNC_EVERY_BYTES.
    for (let at = 0; at < data.length; at += SYNC_EVERY_BYTES) {
      const part = data.subarray(at, Math.min(data.length, at + SYNC_EVERY_BYTES));
      crc = snapshotDataCrc(part, crc);
      let written = 0;
      // Bounded: every write makes progress or throws.
      while (written < part.length) written += (await fh.write(part, written, part.length - written)).bytesWritten;
      await fh.datasync();
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  await syncDir(dir);
  return crc;
}

/** readSnapshotFile reads `dir/name`; a missing file or a length other than `length` is corruption. */
export async function readSnapshotFile(dir: string, name: string, length: number): Promise<Uint8Array> {
  let data: Buffer;
  try {
    data = await readFile(join(dir, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StorageCorruptError(name, 'missing: the snapshot header names this file');
    throw err;
  }
  if (data.length !== length) throw new StorageCorruptError(name, `holds ${data.length} bytes, the snapshot header says ${length}`);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** removeSnapshotFilesExcept deletes every snapshot file (and temporary one) in `dir` that `keep` does not keep. */
export async function removeSnapshotFilesExcept(dir: string, keep: (name: string) => boolean): Promise<void> {
  const names = await readdir(dir);
  for (const name of names) {
    if (FILE_RE.test(name) && !keep(name)) await rm(join(dir, name), { force: true });
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
