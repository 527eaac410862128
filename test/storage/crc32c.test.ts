import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c, crc32cExtend, crc32cMask, crc32cUnmask } from '../../src/storage/crc32c.js';

/** The bitwise definition, to check the table-driven version against. */
function slowCrc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('crc32c', () => {
  it('matches the standard check value and RFC 3720 vectors', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
  });

  it('equals the bitwise definition on any input, split anywhere', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (bytes, cut) => {
        const at = bytes.length === 0 ? 0 : cut % (bytes.length + 1);
        const whole = crc32c(bytes);
        expect(whole).toBe(slowCrc32c(bytes));
        expect(crc32cExtend(crc32c(bytes, 0, at), bytes, at)).toBe(whole);
      }),
      { numRuns: 300 },
    );
  });

  it('mask and unmask are inverse', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (c) => crc32cUnmask(crc32cMask(c)) === c));
  });

  it('is fast enough for 50 MB table scans', () => {
    const buf = new Uint8Array(16 << 20);
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 2654435761) >>> 24;
    const t0 = performance.now();
    crc32c(buf);
    const ms = performance.now() - t0;
    console.log(`crc32c: ${(16 / (ms / 1000)).toFixed(0)} MB/s`);
    expect(ms).toBeLessThan(2000);
  });
});
