/**
 * The key layout and value framing of the Raft store in LevelDB.
 *
 * Keys (bytewise order = log order):
 *   'm'                 meta record {formatVersion, clusterId, nodeId, voters at bootstrap}
 *   'h'                 hard state
 *   's'                 snapshot header {meta, data length, chunk count, data CRC}
 *   'c' + u32 BE chunk  snapshot data chunk
 *   'e' + u64 BE index  log entry
 *
 * Every value is [CRC-32 (4 bytes BE) | payload]; the CRC covers the key and
 * then the payload, so a value that is intact but sits under the wrong key
 * (a damaged key byte) is caught as well. Payloads are msgpack arrays.
 */

import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import type { ConfState, Entry, HardState, MemberRecord, NodeId, SnapshotMeta } from '../raft/types.js';
import { StorageCorruptError } from './storage-errors.js';
import { assert } from '../raft/invariant.js';

/** FORMAT_VERSION is bumped on any incompatible change of this layout. */
export const FORMAT_VERSION = 1;

const packr = new Packr({ useRecords: false });

const K_META = 0x6d; // 'm'
const K_HARD = 0x68; // 'h'
const K_SNAP = 0x73; // 's'
const K_CHUNK = 0x63; // 'c'
const K_ENTRY = 0x65; // 'e'

/** META_KEY, HARD_STATE_KEY and SNAPSHOT_KEY are the singleton records' keys. */
export const META_KEY = Uint8Array.of(K_META);
export const HARD_STATE_KEY = Uint8Array.of(K_HARD);
export const SNAPSHOT_KEY = Uint8Array.of(K_SNAP);

/** RecordKey is what a key names. */
export type RecordKey =
  | { readonly kind: 'meta' }
  | { readonly kind: 'hardState' }
  | { readonly kind: 'snapshot' }
  | { readonly kind: 'chunk'; readonly chunk: number }
  | { readonly kind: 'entry'; readonly index: number };

/** entryKey is 'e' + the 8-byte big-endian index, so entries sort by index. */
export function entryKey(index: number): Uint8Array {
  const k = new Uint8Array(9);
  k[0] = K_ENTRY;
  const dv = new DataView(k.buffer);
  dv.setUint32(1, Math.floor(index / 0x1_0000_0000));
  dv.setUint32(5, index >>> 0);
  return k;
}

/** chunkKey is 'c' + the 4-byte big-endian chunk number. */
export function chunkKey(chunk: number): Uint8Array {
  const k = new Uint8Array(5);
  k[0] = K_CHUNK;
  new DataView(k.buffer).setUint32(1, chunk);
  return k;
}

/** ENTRY_KEY_LOWEST / ENTRY_KEY_BEYOND bound the entry key range for iterators. */
export const ENTRY_KEY_LOWEST = Uint8Array.of(K_ENTRY);
export const ENTRY_KEY_BEYOND = Uint8Array.of(K_ENTRY + 1);

/** keyName renders a key for error messages, e.g. "e/42", "c/3", "h"; unknown keys as hex. */
export function keyName(key: Uint8Array): string {
  const parsed = parseKey(key);
  if (parsed === null) return `key 0x${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex')}`;
  switch (parsed.kind) {
    case 'meta':
      return 'key m (meta)';
    case 'hardState':
      return 'key h (hard state)';
    case 'snapshot':
      return 'key s (snapshot header)';
    case 'chunk':
      return `key c/${parsed.chunk} (snapshot chunk)`;
    case 'entry':
      return `key e/${parsed.index} (log entry)`;
  }
}

/** parseKey recognises a key of the layout, or returns null. */
export function parseKey(key: Uint8Array): RecordKey | null {
  if (key.length === 1) {
    if (key[0] === K_META) return { kind: 'meta' };
    if (key[0] === K_HARD) return { kind: 'hardState' };
    if (key[0] === K_SNAP) return { kind: 'snapshot' };
    return null;
  }
  const dv = new DataView(key.buffer, key.byteOffset, key.byteLength);
  if (key.length === 5 && key[0] === K_CHUNK) return { kind: 'chunk', chunk: dv.getUint32(1) };
  if (key.length === 9 && key[0] === K_ENTRY) {
    const index = dv.getUint32(1) * 0x1_0000_0000 + dv.getUint32(5);
    if (!Number.isSafeInteger(index)) return null;
    return { kind: 'entry', index };
  }
  return null;
}

/** frame wraps a payload as [CRC-32(key ‖ payload) | payload]. */
export function frame(key: Uint8Array, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, crc32(payload, crc32(key)));
  out.set(payload, 4);
  return out;
}

/** unframe verifies the CRC of a stored value and returns its payload (a view, no copy). */
export function unframe(key: Uint8Array, value: Uint8Array): Uint8Array {
  if (value.length < 4) throw new StorageCorruptError(keyName(key), `value of ${value.length} bytes is shorter than its checksum`);
  const stored = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0);
  const payload = value.subarray(4);
  const actual = crc32(payload, crc32(key));
  if (stored !== actual) {
    throw new StorageCorruptError(keyName(key), `checksum mismatch (stored ${hex(stored)}, computed ${hex(actual)} over ${payload.length} bytes)`);
  }
  return payload;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function decode(key: Uint8Array, payload: Uint8Array): unknown {
  try {
    return packr.unpack(payload);
  } catch (err) {
    throw new StorageCorruptError(keyName(key), `undecodable payload: ${(err as Error).message}`, { cause: err });
  }
}

function bad(key: Uint8Array, what: string): never {
  throw new StorageCorruptError(keyName(key), `malformed record: ${what}`);
}

function isNat(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function asVoters(key: Uint8Array, v: unknown): readonly NodeId[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) bad(key, 'voters is not a list of node ids');
  return v as NodeId[];
}

function asStrings(key: Uint8Array, v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) bad(key, `${what} is not a list of strings`);
  return v as string[];
}

/** encodeConfig is a configuration as stored: [voters, learners, [[id, peerAddress, httpUrl], ...]]. */
function encodeConfig(c: ConfState): unknown[] {
  return [c.voters, c.learners, encodeRecords(c.members)];
}

function encodeRecords(members: readonly MemberRecord[]): string[][] {
  return members.map((m) => [m.id, m.peerAddress, m.httpUrl]);
}

function decodeConfig(key: Uint8Array, v: unknown): ConfState {
  if (!Array.isArray(v) || v.length !== 3) bad(key, 'configuration is not a 3-element array');
  const [voters, learners, records] = v as unknown[];
  if (!Array.isArray(records)) bad(key, 'member records are not a list');
  const members = records.map((r): MemberRecord => {
    const fields = asStrings(key, r, 'a member record');
    if (fields.length !== 3) bad(key, 'a member record is not [id, peerAddress, httpUrl]');
    return { id: fields[0]!, peerAddress: fields[1]!, httpUrl: fields[2]! };
  });
  return { voters: asVoters(key, voters), learners: asStrings(key, learners, 'learners'), members };
}

/** votersOnlyConfig is a configuration stored before learners and member records existed: the voters alone. */
function votersOnlyConfig(key: Uint8Array, voters: unknown): ConfState {
  return { voters: asVoters(key, voters), learners: [], members: [] };
}

function asBytes(key: Uint8Array, v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) bad(key, 'data is not binary');
  // A plain Uint8Array view over msgpackr's Buffer, so consumers see one type.
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** MetaRecord identifies the store's owner. */
export interface MetaRecord {
  readonly formatVersion: number;
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly voters: readonly NodeId[];
}

/** encodeMeta frames the meta record. */
export function encodeMeta(m: MetaRecord): Uint8Array {
  return frame(META_KEY, packr.pack([m.formatVersion, m.clusterId, m.nodeId, m.voters]));
}

/** decodeMeta verifies and decodes the meta record. */
export function decodeMeta(value: Uint8Array): MetaRecord {
  const v = decode(META_KEY, unframe(META_KEY, value));
  if (!Array.isArray(v) || v.length !== 4) bad(META_KEY, 'not a 4-element array');
  const [formatVersion, clusterId, nodeId, voters] = v as unknown[];
  if (!isNat(formatVersion)) bad(META_KEY, 'formatVersion');
  if (typeof clusterId !== 'string' || typeof nodeId !== 'string') bad(META_KEY, 'clusterId/nodeId');
  return { formatVersion, clusterId, nodeId, voters: asVoters(META_KEY, voters) };
}

/** encodeHardState frames the hard state. */
export function encodeHardState(h: HardState): Uint8Array {
  return frame(HARD_STATE_KEY, packr.pack([h.term, h.vote, h.commit]));
}

/** decodeHardState verifies and decodes the hard state. */
export function decodeHardState(value: Uint8Array): HardState {
  const v = decode(HARD_STATE_KEY, unframe(HARD_STATE_KEY, value));
  if (!Array.isArray(v) || v.length !== 3) bad(HARD_STATE_KEY, 'not a 3-element array');
  const [term, vote, commit] = v as unknown[];
  if (!isNat(term) || !isNat(commit)) bad(HARD_STATE_KEY, 'term/commit');
  if (vote !== null && typeof vote !== 'string') bad(HARD_STATE_KEY, 'vote');
  return { term, vote, commit };
}

/**
 * SnapshotHeader describes the stored snapshot; its data lives in `chunkCount` chunk records, or (a snapshot this
 * member took) in the file `file` beside the store (snapshot-file.ts), with no chunk records.
 */
export interface SnapshotHeader {
  readonly meta: SnapshotMeta;
  readonly dataLength: number;
  readonly chunkCount: number;
  /** CRC-32 of the whole data, checked after the chunks are reassembled (or the file read). */
  readonly dataCrc: number;
  readonly file: string | null;
}

/**
 * encodeSnapshotHeader frames the snapshot header: [index, term, voters, dataLength, chunkCount, dataCrc], followed by
 * [learners, member records] when the configuration has any or the data is in a file, then the file's name. A header
 * without them is exactly what binaries from before membership changes wrote and read, so a store stays readable by
 * them until the first membership change (and, since snapshot files, until the first snapshot this member takes).
 */
export function encodeSnapshotHeader(h: SnapshotHeader): Uint8Array {
  const m = h.meta;
  assert(h.file === null || h.chunkCount === 0, 'a snapshot in a file has no chunk records');
  const fields: unknown[] = [m.index, m.term, m.config.voters, h.dataLength, h.chunkCount, h.dataCrc];
  if (m.config.learners.length > 0 || m.config.members.length > 0 || h.file !== null) fields.push(m.config.learners, encodeRecords(m.config.members));
  if (h.file !== null) fields.push(h.file);
  return frame(SNAPSHOT_KEY, packr.pack(fields));
}

/** decodeSnapshotHeader verifies and decodes the snapshot header (either form). */
export function decodeSnapshotHeader(value: Uint8Array): SnapshotHeader {
  const v = decode(SNAPSHOT_KEY, unframe(SNAPSHOT_KEY, value));
  if (!Array.isArray(v) || (v.length !== 6 && v.length !== 8 && v.length !== 9)) bad(SNAPSHOT_KEY, 'not a 6-, 8- or 9-element array');
  const [index, term, voters, dataLength, chunkCount, dataCrc, learners, records, file] = v as unknown[];
  if (!isNat(index) || !isNat(term) || !isNat(dataLength) || !isNat(chunkCount) || !isNat(dataCrc)) {
    bad(SNAPSHOT_KEY, 'index/term/dataLength/chunkCount/dataCrc');
  }
  // The name's form is checked where the file is read (stored-snapshot.ts).
  if (v.length === 9 && (typeof file !== 'string' || chunkCount !== 0)) bad(SNAPSHOT_KEY, 'snapshot file name');
  const config = v.length === 6 ? votersOnlyConfig(SNAPSHOT_KEY, voters) : decodeConfig(SNAPSHOT_KEY, [voters, learners, records]);
  return { meta: { index, term, config }, dataLength, chunkCount, dataCrc, file: v.length === 9 ? (file as string) : null };
}

/** snapshotDataCrc is the CRC-32 over a snapshot's whole data; given the CRC of the bytes before `data`, it continues it. */
export function snapshotDataCrc(data: Uint8Array, previous = 0): number {
  return crc32(data, previous);
}

/** encodeChunk frames one chunk of snapshot data. */
export function encodeChunk(chunk: number, data: Uint8Array): Uint8Array {
  return frame(chunkKey(chunk), data);
}

const TYPE_NORMAL = 0;
/** A config entry as stored before learners and member records: its fifth field is the voter list. Read, no longer written. */
const TYPE_CONFIG_VOTERS = 1;
/** A config entry: its fifth field is the whole configuration (encodeConfig). */
const TYPE_CONFIG = 2;

/** encodeEntry frames one log entry stored under `key` (= entryKey(e.index)). */
export function encodeEntry(key: Uint8Array, e: Entry): Uint8Array {
  const typeCode = e.type === 'config' ? TYPE_CONFIG : TYPE_NORMAL;
  return frame(key, packr.pack([e.index, e.term, typeCode, e.data, e.type === 'config' && e.config !== undefined ? encodeConfig(e.config) : null]));
}

/** decodeEntry checks a stored entry and that the index inside matches its key. */
export function decodeEntry(key: Uint8Array, keyIndex: number, value: Uint8Array): Entry {
  const v = decode(key, unframe(key, value));
  if (!Array.isArray(v) || v.length !== 5) bad(key, 'not a 5-element array');
  const [index, term, typeCode, data, config] = v as unknown[];
  if (!isNat(index) || !isNat(term) || term < 1) bad(key, 'index/term');
  if (index !== keyIndex) bad(key, `holds entry ${index}`);
  const bytes = asBytes(key, data);
  if (typeCode === TYPE_NORMAL) {
    if (config !== null) bad(key, 'normal entry carries a config');
    return { index, term, type: 'normal', data: bytes };
  }
  if (typeCode === TYPE_CONFIG) return { index, term, type: 'config', data: bytes, config: decodeConfig(key, config) };
  if (typeCode === TYPE_CONFIG_VOTERS) return { index, term, type: 'config', data: bytes, config: votersOnlyConfig(key, config) };
  return bad(key, `entry type code ${String(typeCode)}`);
}
