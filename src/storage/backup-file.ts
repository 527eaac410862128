/**
 * The file format of a backup (`raftlock snapshot save FILE`): a consistent
 * image of the lease table at a committed log index, with what a restore
 * needs to know about it.
 *
 *   "RAFTLOCK-BACKUP\n"        16 bytes, the magic
 *   header length             u32 big-endian
 *   header                    UTF-8 JSON: BackupHeader (readable with `head -c`)
 *   data                      header.dataBytes bytes: the lease table snapshot
 *   checksum                  32 bytes: SHA-256 of everything before it
 *
 * Reading checks the magic, the version, that the length is exactly what the
 * header says (a truncated file is named as such), then the checksum, and
 * never hands out a byte of an image that fails any of these.
 */
import { createHash } from 'node:crypto';
import type { NodeId } from '../raft/types.js';

/** BACKUP_FORMAT_VERSION is bumped on any incompatible change of this layout. */
export const BACKUP_FORMAT_VERSION = 1;

const MAGIC = Buffer.from('RAFTLOCK-BACKUP\n', 'latin1');
const LENGTH_BYTES = 4;
const CHECKSUM_BYTES = 32;
/** A sanity bound on the header, so a damaged length cannot make us parse megabytes as JSON. */
const MAX_HEADER_BYTES = 64 * 1024;

/** BackupHeader describes the image: where in which cluster's log it was taken, and the data that follows. */
export interface BackupHeader {
  readonly formatVersion: number;
  /** The cluster it was taken from; a restore must create a cluster with another id. */
  readonly clusterId: string;
  /** The member that served it (the leader, after a read barrier). */
  readonly takenFrom: NodeId;
  /** Wall-clock time it was taken (informational). */
  readonly takenAt: string;
  /** The last log index the image reflects, and that entry's term. */
  readonly index: number;
  readonly term: number;
  /** The voters of the cluster's configuration when it was taken. */
  readonly members: readonly NodeId[];
  /** The lease table's own snapshot format tag (src/locks/snapshot-codec.ts). */
  readonly dataFormat: string;
  readonly dataBytes: number;
}

/** BackupImage is a header and the lease table bytes it describes. */
export interface BackupImage {
  readonly header: BackupHeader;
  readonly data: Uint8Array;
}

/** BackupFileError: the bytes are not an intact backup; the message says what is wrong. */
export class BackupFileError extends Error {
  override readonly name = 'BackupFileError';
  readonly code = 'backup_damaged';
}

/** encodeBackup lays an image out in the format above, as the parts to write in order. */
export function encodeBackup(image: BackupImage): Uint8Array[] {
  if (image.data.length !== image.header.dataBytes) throw new RangeError(`header says ${image.header.dataBytes} data bytes, image has ${image.data.length}`);
  const header = Buffer.from(JSON.stringify(image.header), 'utf8');
  const length = Buffer.alloc(LENGTH_BYTES);
  length.writeUInt32BE(header.length);
  const hash = createHash('sha256');
  const parts: Uint8Array[] = [MAGIC, length, header, image.data];
  for (const p of parts) hash.update(p);
  parts.push(hash.digest());
  return parts;
}

/** decodeBackup checks a whole file's bytes and returns its image; throws BackupFileError naming what is wrong. */
export function decodeBackup(bytes: Uint8Array): BackupImage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fixed = MAGIC.length + LENGTH_BYTES;
  const head = buf.subarray(0, Math.min(buf.length, MAGIC.length));
  if (!MAGIC.subarray(0, head.length).equals(head)) throw new BackupFileError('not a raftlock backup: it does not start with "RAFTLOCK-BACKUP"');
  if (buf.length < fixed) throw new BackupFileError(`truncated: only ${buf.length} bytes`);
  const headerBytes = buf.readUInt32BE(MAGIC.length);
  if (headerBytes > MAX_HEADER_BYTES) throw new BackupFileError(`damaged: header length ${headerBytes} exceeds ${MAX_HEADER_BYTES}`);
  if (buf.length < fixed + headerBytes) throw new BackupFileError(`truncated: ${buf.length} bytes, not even the ${headerBytes}-byte header`);
  const header = parseHeader(buf.subarray(fixed, fixed + headerBytes));
  const expected = fixed + headerBytes + header.dataBytes + CHECKSUM_BYTES;
  if (buf.length < expected) throw new BackupFileError(`truncated: ${buf.length} bytes, the header announces ${expected}`);
  if (buf.length > expected) throw new BackupFileError(`damaged: ${buf.length - expected} bytes more than the header announces (${expected})`);
  const body = buf.subarray(0, expected - CHECKSUM_BYTES);
  const digest = createHash('sha256').update(body).digest();
  if (!digest.equals(buf.subarray(expected - CHECKSUM_BYTES))) throw new BackupFileError('damaged: the SHA-256 checksum does not match the contents');
  const data = new Uint8Array(buf.buffer, buf.byteOffset + fixed + headerBytes, header.dataBytes);
  return { header, data };
}

function parseHeader(bytes: Uint8Array): BackupHeader {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new BackupFileError('damaged: the header is not JSON');
  }
  const h = v as Partial<Record<keyof BackupHeader, unknown>>;
  if (typeof h !== 'object' || h === null) throw new BackupFileError('damaged: the header is not an object');
  if (h.formatVersion !== BACKUP_FORMAT_VERSION) {
    throw new BackupFileError(`format version ${String(h.formatVersion)}; this build reads version ${BACKUP_FORMAT_VERSION}`);
  }
  const nat = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  const text = (x: unknown): x is string => typeof x === 'string' && x.length > 0;
  const ok =
    text(h.clusterId) && text(h.takenFrom) && typeof h.takenAt === 'string' && nat(h.index) && nat(h.term) && h.term >= 1 && h.index >= 1 &&
    Array.isArray(h.members) && h.members.length > 0 && h.members.every(text) && text(h.dataFormat) && nat(h.dataBytes);
  if (!ok) throw new BackupFileError('damaged: the header lacks a field or has one of the wrong type');
  return h as BackupHeader;
}
