/**
 * A strict reader of LevelDB's log format (doc/log_format.md), used for both
 * the write-ahead `.log` files and the `MANIFEST`. LevelDB itself, with
 * `paranoid_checks` off (classic-level has no way to turn it on), SKIPS a log
 * record whose CRC fails and only notes it in its LOG file, so a damaged .log
 * would silently lose acknowledged writes. This reader refuses instead.
 *
 * Layout: 32 KiB blocks; each physical record is crc32c (4, masked, over the
 * type byte and payload), length (2, little-endian), type (1), payload. A
 * block tail shorter than a header is zero-filled. A logical record is one
 * FULL record or FIRST, MIDDLE*, LAST.
 */

import { crc32cExtend, crc32cUnmask } from './crc32c.js';

const BLOCK_SIZE = 32768;
const HEADER_SIZE = 7;
const TYPE_ZERO = 0;
const TYPE_FULL = 1;
const TYPE_FIRST = 2;
const TYPE_MIDDLE = 3;
const TYPE_LAST = 4;

/** LevelDbFormatError is a format violation at a byte offset of one file (the caller adds the file name). */
export class LevelDbFormatError extends Error {
  readonly offset: number;
  constructor(offset: number, message: string) {
    super(`${message} at byte ${offset}`);
    this.offset = offset;
    this.name = 'LevelDbFormatError';
  }
}

/** LogRecord is one logical record of a log file. */
export interface LogRecord {
  /** File offset of the record's first physical header. */
  readonly offset: number;
  readonly data: Uint8Array;
}

/** LogReadResult lists the complete logical records and, if the file ends inside one, where that torn record starts. */
export interface LogReadResult {
  readonly records: readonly LogRecord[];
  /** Offset of an incomplete trailing record (a write cut by a crash), or null when the file ends cleanly. */
  readonly tornTailOffset: number | null;
}

function allZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * readLogRecords parses a whole log file. Every CRC is checked and every
 * structural rule enforced; a violation throws LevelDbFormatError. The only
 * thing tolerated is what a crash in the middle of an append leaves behind,
 * and only at the very end of the file: a header or payload cut off by EOF,
 * FIRST/MIDDLE fragments whose LAST never got written, or a zero-filled tail
 * (file size extended before the data reached disk). Such a torn tail is
 * reported in `tornTailOffset`; the caller decides whether it is allowed.
 */
export function readLogRecords(bytes: Uint8Array): LogReadResult {
  const records: LogRecord[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = bytes.length;
  let pos = 0;
  let fragments: Uint8Array[] | null = null;
  let fragmentStart = 0;
  // Each iteration consumes at least one byte, so size+1 iterations bound the loop.
  for (let guard = 0; guard <= size + 1; guard++) {
    if (pos >= size) {
      return { records, tornTailOffset: fragments === null ? null : fragmentStart };
    }
    const blockEnd = (Math.floor(pos / BLOCK_SIZE) + 1) * BLOCK_SIZE;
    const leftInBlock = blockEnd - pos;
    if (leftInBlock < HEADER_SIZE) {
      // The writer pads a too-short block tail with zeros (log_writer.cc).
      const trailerEnd = Math.min(blockEnd, size);
      if (!allZero(bytes, pos, trailerEnd)) throw new LevelDbFormatError(pos, 'non-zero block trailer');
      pos = trailerEnd;
      continue;
    }
    if (size - pos < HEADER_SIZE) {
      // A header cut off by EOF: the writer died while appending.
      return { records, tornTailOffset: fragments === null ? pos : fragmentStart };
    }
    const storedCrc = view.getUint32(pos, true);
    const length = view.getUint16(pos + 4, true);
    const type = bytes[pos + 6]!;
    if (type === TYPE_ZERO && length === 0 && storedCrc === 0) {
      // Zeros where a header belongs: acceptable only as a zero-filled tail after a crash.
      if (!allZero(bytes, pos, size)) throw new LevelDbFormatError(pos, 'zero record header followed by data');
      return { records, tornTailOffset: fragments === null ? pos : fragmentStart };
    }
    if (HEADER_SIZE + length > leftInBlock) {
      throw new LevelDbFormatError(pos, `bad record length ${length} (crosses a block boundary)`);
    }
    if (pos + HEADER_SIZE + length > size) {
      // Payload cut off by EOF: the writer died while appending.
      return { records, tornTailOffset: fragments === null ? pos : fragmentStart };
    }
    const actualCrc = crc32cExtend(0, bytes, pos + 6, pos + HEADER_SIZE + length);
    if (actualCrc !== crc32cUnmask(storedCrc)) {
      throw new LevelDbFormatError(pos, `log record checksum mismatch (type ${type}, length ${length})`);
    }
    const payload = bytes.subarray(pos + HEADER_SIZE, pos + HEADER_SIZE + length);
    switch (type) {
      case TYPE_FULL:
        if (fragments !== null) throw new LevelDbFormatError(pos, 'FULL record inside a fragmented record');
        records.push({ offset: pos, data: payload });
        break;
      case TYPE_FIRST:
        if (fragments !== null) throw new LevelDbFormatError(pos, 'FIRST record inside a fragmented record');
        fragments = [payload];
        fragmentStart = pos;
        break;
      case TYPE_MIDDLE:
        if (fragments === null) throw new LevelDbFormatError(pos, 'MIDDLE record without a FIRST');
        fragments.push(payload);
        break;
      case TYPE_LAST: {
        if (fragments === null) throw new LevelDbFormatError(pos, 'LAST record without a FIRST');
        fragments.push(payload);
        records.push({ offset: fragmentStart, data: concat(fragments) });
        fragments = null;
        break;
      }
      default:
        throw new LevelDbFormatError(pos, `unknown log record type ${type}`);
    }
    pos += HEADER_SIZE + length;
  }
  throw new Error('readLogRecords: loop bound exceeded (bug)');
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Cursor is a bounds-checked reader of LevelDB's varint/fixed encodings (util/coding.h). */
export class Cursor {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    readonly base: number,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  fail(message: string): never {
    throw new LevelDbFormatError(this.base + this.pos, message);
  }

  /** varint reads a LevelDB varint of at most 64 bits; values beyond 2^53 are rejected (never produced here). */
  varint(what: string): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail(`truncated varint (${what})`);
      const b = this.bytes[this.pos++]!;
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) this.fail(`varint too large (${what})`);
        return result;
      }
      scale *= 128;
    }
    return this.fail(`varint longer than 10 bytes (${what})`);
  }

  take(n: number, what: string): Uint8Array {
    if (n < 0 || this.pos + n > this.end) this.fail(`truncated ${what} (${n} bytes)`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  lengthPrefixed(what: string): Uint8Array {
    return this.take(this.varint(`${what} length`), what);
  }
}

const WRITE_BATCH_HEADER = 12;
const VALUE_TAG_DELETION = 0;
const VALUE_TAG_VALUE = 1;

/**
 * checkWriteBatch checks that one .log record is a well-formed WriteBatch
 * (db/write_batch.cc): 8-byte sequence, 4-byte count, then exactly `count`
 * put/delete operations filling the record. LevelDB drops malformed batches
 * (with paranoid checks off); we refuse. `base` is the record's file offset
 * for error messages.
 */
export function checkWriteBatch(record: Uint8Array, base: number): void {
  if (record.length < WRITE_BATCH_HEADER) throw new LevelDbFormatError(base, `write batch too small (${record.length} bytes)`);
  const count = new DataView(record.buffer, record.byteOffset, record.byteLength).getUint32(8, true);
  const cur = new Cursor(record, base, WRITE_BATCH_HEADER);
  for (let i = 0; i < count; i++) {
    const tag = cur.take(1, 'batch op tag')[0];
    if (tag === VALUE_TAG_VALUE) {
      cur.lengthPrefixed('batch key');
      cur.lengthPrefixed('batch value');
    } else if (tag === VALUE_TAG_DELETION) {
      cur.lengthPrefixed('batch key');
    } else {
      cur.fail(`unknown write batch op tag ${String(tag)}`);
    }
  }
  if (!cur.done) cur.fail(`write batch has bytes after its ${count} operations`);
}
