/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum LevelDB
 * puts on every log record and table block. node:zlib only offers the IEEE
 * CRC-32, so this is a table-driven slicing-by-8 implementation: eight 256-entry
 * tables let the loop consume 8 bytes per step.
 */

const POLY = 0x82f63b78;

function makeTables(): Int32Array[] {
  const tables: Int32Array[] = [];
  const t0 = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[n] = c;
  }
  tables.push(t0);
  for (let t = 1; t < 8; t++) {
    const prev = tables[t - 1]!;
    const cur = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      const p = prev[n]!;
      cur[n] = (p >>> 8) ^ t0[p & 0xff]!;
    }
    tables.push(cur);
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = makeTables() as [
  Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array,
];

/**
 * crc32cExtend continues a CRC-32C `crc` (0 to start) over bytes[start, end).
 * Returns an unsigned 32-bit number.
 */
export function crc32cExtend(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (start < 0 || end > bytes.length || start > end) throw new RangeError(`crc32cExtend: bad range [${start}, ${end}) of ${bytes.length}`);
  let c = ~crc | 0;
  let i = start;
  // Slicing-by-8: fold 8 input bytes into the running CRC per iteration.
  const end8 = end - ((end - i) & 7);
  while (i < end8) {
    const a = (c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) | 0;
    c =
      T7[a & 0xff]! ^
      T6[(a >>> 8) & 0xff]! ^
      T5[(a >>> 16) & 0xff]! ^
      T4[a >>> 24]! ^
      T3[bytes[i + 4]!]! ^
      T2[bytes[i + 5]!]! ^
      T1[bytes[i + 6]!]! ^
      T0[bytes[i + 7]!]!;
    i += 8;
  }
  while (i < end) {
    c = (c >>> 8) ^ T0[(c ^ bytes[i]!) & 0xff]!;
    i++;
  }
  return ~c >>> 0;
}

/** crc32c is the CRC-32C of bytes[start, end). */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32cExtend(0, bytes, start, end);
}

const MASK_DELTA = 0xa282ead8;

/**
 * crc32cUnmask undoes LevelDB's masking of stored CRCs (util/crc32c.h): a CRC
 * of data that itself contains CRCs is stored rotated plus a constant.
 */
export function crc32cUnmask(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

/** crc32cMask applies LevelDB's masking (for tests that forge records). */
export function crc32cMask(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}
