/**
 * Reading a stored snapshot back at load: from its chunk records (a leader's snapshot, installed, or one written
 * before snapshot files), or from the file its header names (snapshot-file.ts). Loading repairs nothing: any
 * mismatch with the header is corruption.
 */
import type { Snapshot } from '../raft/types.js';
import { chunkKey, keyName, parseKey, snapshotDataCrc, SNAPSHOT_KEY, unframe, type SnapshotHeader } from './record-codec.js';
import { isSnapshotFileName, readSnapshotFile } from './snapshot-file.js';
import { StorageCorruptError } from './storage-errors.js';

/** Upper bound on snapshot chunks (with 1 MiB chunks: 64 GiB), a sanity bound on a corrupt header. */
export const MAX_CHUNKS = 65_536;

/** readFileSnapshot reads a snapshot whose header names a file: no chunk records may exist beside it. */
export async function readFileSnapshot(dir: string, h: SnapshotHeader, chunks: ReadonlyArray<{ key: Uint8Array }>): Promise<Snapshot> {
  const stray = chunks[0];
  if (stray !== undefined) throw new StorageCorruptError(keyName(stray.key), `unexpected snapshot chunk (the header names the file ${h.file})`);
  const file = h.file!;
  if (!isSnapshotFileName(file)) throw new StorageCorruptError(keyName(SNAPSHOT_KEY), `malformed record: snapshot file name ${JSON.stringify(file)}`);
  const data = await readSnapshotFile(dir, file, h.dataLength);
  if (snapshotDataCrc(data) !== h.dataCrc) throw new StorageCorruptError(file, 'snapshot data checksum mismatch');
  return { meta: h.meta, data };
}

/** assembleChunkSnapshot joins and checks the chunk records the header describes; null for the bootstrap header. */
export function assembleChunkSnapshot(h: SnapshotHeader, chunks: ReadonlyArray<{ key: Uint8Array; value: Uint8Array }>): Snapshot | null {
  if (h.chunkCount > MAX_CHUNKS) throw new StorageCorruptError(keyName(SNAPSHOT_KEY), `chunk count ${h.chunkCount} exceeds ${MAX_CHUNKS}`);
  const payloads: Uint8Array[] = [];
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i]!;
    const k = parseKey(c.key);
    if (k?.kind !== 'chunk' || k.chunk !== i || i >= h.chunkCount) {
      throw new StorageCorruptError(keyName(c.key), `unexpected snapshot chunk (header says ${h.chunkCount} chunks)`);
    }
    payloads.push(unframe(c.key, c.value));
  }
  if (chunks.length !== h.chunkCount) {
    throw new StorageCorruptError(keyName(chunkKey(chunks.length)), `missing: header says ${h.chunkCount} chunks, found ${chunks.length}`);
  }
  let total = 0;
  for (const p of payloads) total += p.length;
  if (total !== h.dataLength) {
    throw new StorageCorruptError(keyName(SNAPSHOT_KEY), `chunks hold ${total} bytes, header says ${h.dataLength}`);
  }
  const data = new Uint8Array(total);
  let at = 0;
  for (const p of payloads) {
    data.set(p, at);
    at += p.length;
  }
  if (snapshotDataCrc(data) !== h.dataCrc) {
    throw new StorageCorruptError(keyName(SNAPSHOT_KEY), 'snapshot data checksum mismatch after reassembling the chunks');
  }
  // Index 0 is the bootstrap meta: there is no state machine image to install.
  return h.meta.index === 0 && h.chunkCount === 0 ? null : { meta: h.meta, data };
}
