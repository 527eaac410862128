/**
 * A verifier of LevelDB table files (.ldb/.sst, doc/table_format.md).
 * classic-level reads with `verify_checksums` off and offers no option to turn
 * it on, so LevelDB would hand back a damaged block's bytes unchecked. This
 * verifier checks every block's CRC and that the blocks named by the index
 * and metaindex tile the file exactly up to the footer.
 *
 * Table layout: data blocks, filter block, metaindex block, index block,
 * 48-byte footer (two varint block handles, padding, 8-byte magic). Each
 * block is followed by a 5-byte trailer: type (0 = raw, 1 = snappy) and the
 * masked crc32c of contents+type.
 */

import { crc32cExtend, crc32cUnmask } from './crc32c.js';
import { Cursor, LevelDbFormatError } from './leveldb-log-format.js';

const FOOTER_SIZE = 48;
const TRAILER_SIZE = 5;
const MAGIC_LO = 0x8b80fb57;
const MAGIC_HI = 0xdb477524;
const BLOCK_TYPE_RAW = 0;

interface BlockHandle {
  readonly offset: number;
  readonly size: number;
  readonly what: string;
}

/** TableCheck summarises a verified table. */
export interface TableCheck {
  readonly blocks: number;
  readonly dataBlocks: number;
}

function readHandle(cur: Cursor, what: string): BlockHandle {
  const offset = cur.varint(`${what} offset`);
  const size = cur.varint(`${what} size`);
  return { offset, size, what };
}

/** checkBlock verifies one block's trailer CRC and returns its contents and type. */
function checkBlock(bytes: Uint8Array, h: BlockHandle, limit: number): { contents: Uint8Array; type: number } {
  if (h.offset + h.size + TRAILER_SIZE > limit) {
    throw new LevelDbFormatError(h.offset, `${h.what} extends beyond the table data (size ${h.size})`);
  }
  const typeAt = h.offset + h.size;
  const type = bytes[typeAt]!;
  const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(typeAt + 1, true);
  const actual = crc32cExtend(0, bytes, h.offset, typeAt + 1);
  if (actual !== crc32cUnmask(stored)) throw new LevelDbFormatError(h.offset, `block checksum mismatch in ${h.what}`);
  if (type !== BLOCK_TYPE_RAW && type !== 1) throw new LevelDbFormatError(typeAt, `bad block type ${type} in ${h.what}`);
  return { contents: bytes.subarray(h.offset, h.offset + h.size), type };
}

/**
 * blockValues parses an uncompressed block (table/block.cc): entries of
 * (shared, non_shared, value_length) varints + key delta + value, then the
 * restart array and its count. Returns [key, value] pairs.
 */
function blockEntries(contents: Uint8Array, base: number, what: string): Array<[Uint8Array, Uint8Array]> {
  if (contents.length < 4) throw new LevelDbFormatError(base, `${what} too small`);
  const dv = new DataView(contents.buffer, contents.byteOffset, contents.byteLength);
  const numRestarts = dv.getUint32(contents.length - 4, true);
  const maxRestarts = (contents.length - 4) / 4;
  if (numRestarts > maxRestarts) throw new LevelDbFormatError(base, `${what} restart count ${numRestarts} too large`);
  const restartsAt = contents.length - 4 - numRestarts * 4;
  const cur = new Cursor(contents, base, 0, restartsAt);
  const out: Array<[Uint8Array, Uint8Array]> = [];
  let prevKey = new Uint8Array(0);
  // Each entry consumes >= 3 bytes, so restartsAt/3+1 iterations bound the loop.
  for (let guard = 0; !cur.done; guard++) {
    if (guard > restartsAt) cur.fail(`${what} entry loop bound exceeded`);
    const shared = cur.varint('shared key length');
    const nonShared = cur.varint('key delta length');
    const valueLength = cur.varint('value length');
    if (shared > prevKey.length) cur.fail(`${what} entry shares ${shared} bytes of a ${prevKey.length}-byte key`);
    const delta = cur.take(nonShared, 'key delta');
    const value = cur.take(valueLength, 'value');
    const key = new Uint8Array(shared + nonShared);
    key.set(prevKey.subarray(0, shared), 0);
    key.set(delta, shared);
    out.push([key, value]);
    prevKey = key;
  }
  return out;
}

/**
 * verifyTable checks a whole table file held in memory and throws
 * LevelDbFormatError on the first problem. Every data, filter, metaindex and
 * index block CRC is verified.
 */
export function verifyTable(bytes: Uint8Array): TableCheck {
  if (bytes.length < FOOTER_SIZE) throw new LevelDbFormatError(0, `file is too short to be an sstable (${bytes.length} bytes)`);
  const footerAt = bytes.length - FOOTER_SIZE;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(bytes.length - 8, true) !== MAGIC_LO || dv.getUint32(bytes.length - 4, true) !== MAGIC_HI) {
    throw new LevelDbFormatError(bytes.length - 8, 'not an sstable (bad magic number)');
  }
  const fcur = new Cursor(bytes, 0, footerAt, bytes.length - 8);
  const metaindex = readHandle(fcur, 'metaindex block');
  const index = readHandle(fcur, 'index block');
  // The writer zero-pads the handles to 40 bytes (Footer::EncodeTo); LevelDB skips
  // the padding, we check it so that every byte of the file is covered.
  for (let i = fcur.pos; i < bytes.length - 8; i++) {
    if (bytes[i] !== 0) throw new LevelDbFormatError(i, 'non-zero footer padding');
  }

  const handles: BlockHandle[] = [metaindex, index];
  const indexBlock = checkBlock(bytes, index, footerAt);
  if (indexBlock.type !== BLOCK_TYPE_RAW) {
    throw new LevelDbFormatError(index.offset, 'index block is compressed; raftlock writes tables with compression off');
  }
  let dataBlocks = 0;
  for (const [, value] of blockEntries(indexBlock.contents, index.offset, 'index block')) {
    const hc = new Cursor(value, index.offset);
    handles.push(readHandle(hc, `data block #${dataBlocks}`));
    dataBlocks++;
  }
  const metaBlock = checkBlock(bytes, metaindex, footerAt);
  if (metaBlock.type !== BLOCK_TYPE_RAW) {
    throw new LevelDbFormatError(metaindex.offset, 'metaindex block is compressed; raftlock writes tables with compression off');
  }
  for (const [key, value] of blockEntries(metaBlock.contents, metaindex.offset, 'metaindex block')) {
    const hc = new Cursor(value, metaindex.offset);
    handles.push(readHandle(hc, `meta block "${new TextDecoder().decode(key)}"`));
  }
  // The blocks must tile [0, footer) exactly: a gap or overlap means the
  // index itself is damaged or the file was spliced.
  handles.sort((a, b) => a.offset - b.offset);
  let expected = 0;
  for (const h of handles) {
    if (h.offset !== expected) throw new LevelDbFormatError(expected, `${h.what} starts at ${h.offset}, expected ${expected}`);
    if (h !== index && h !== metaindex) checkBlock(bytes, h, footerAt);
    expected = h.offset + h.size + TRAILER_SIZE;
  }
  if (expected !== footerAt) throw new LevelDbFormatError(expected, `blocks end at ${expected} but the footer starts at ${footerAt}`);
  return { blocks: handles.length, dataBlocks };
}
