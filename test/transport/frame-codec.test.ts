import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeFrames, encodeFrame, FrameDecoder, FrameError, type FrameReader } from '../../src/transport/frame-codec.js';

function concat(frames: Buffer[]): Buffer {
  return Buffer.concat(frames);
}

/** splitAt cuts `buf` at the given (sorted, deduplicated) offsets. */
function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

describe('frame codec', () => {
  it('round-trips values, including byte strings, through encodeFrame/decodeFrames', () => {
    const values = [{ a: 1, b: 'x', c: new Uint8Array([1, 2, 3]), d: [null, true, 2 ** 40] }, [], 'hello', 0];
    const { values: out, rest } = decodeFrames(concat(values.map((v) => encodeFrame(v))));
    expect(rest.length).toBe(0);
    expect(out).toHaveLength(4);
    expect(out[0]).toMatchObject({ a: 1, b: 'x', d: [null, true, 2 ** 40] });
    expect(Array.from((out[0] as { c: Uint8Array }).c)).toEqual([1, 2, 3]);
    expect(out.slice(1)).toEqual([[], 'hello', 0]);
  });

  it('writes a 4-byte big-endian length prefix', () => {
    const frame = encodeFrame('abc');
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
  });

  it('decodes any chunking of a stream of frames, in order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.integer(), fc.uint8Array({ maxLength: 300 }).map((u) => ({ u: Array.from(u) }))), { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (values, cuts) => {
          const stream = concat(values.map((v) => encodeFrame(v)));
          const decoder = new FrameDecoder();
          const out: unknown[] = [];
          for (const chunk of splitAt(stream, cuts)) out.push(...decoder.push(chunk));
          expect(out).toEqual(values);
          expect(decoder.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('decodes byte by byte and many frames per chunk', () => {
    const values = Array.from({ length: 50 }, (_, i) => ({ i, pad: 'x'.repeat(i) }));
    const stream = concat(values.map((v) => encodeFrame(v)));
    const byByte = new FrameDecoder();
    const out: unknown[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...byByte.push(stream.subarray(i, i + 1)));
    expect(out).toEqual(values);
    expect(new FrameDecoder().push(stream)).toEqual(values);
  });

  it('rejects a huge length prefix as soon as the header is complete, without buffering', () => {
    const decoder = new FrameDecoder(1024);
    expect(decoder.push(Buffer.from([0xff, 0xff]))).toEqual([]);
    let error: unknown = null;
    try {
      decoder.push(Buffer.from([0xff, 0xff, 0x01]));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(FrameError);
    expect((error as FrameError).code).toBe('frame_too_large');
    expect(() => decodeFrames(Buffer.from([0x7f, 0, 0, 0, 1]), 1024)).toThrowError(/exceeds/);
  });

  it('rejects an undecodable payload as frame_malformed', () => {
    const garbage = Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0x01]); // trailing bytes after a value
    expect(() => new FrameDecoder().push(garbage)).toThrowError(FrameError);
    const truncated = Buffer.from([0, 0, 0, 2, 0xdd, 0xff]); // array32 header cut short
    try {
      new FrameDecoder().push(truncated);
      expect.unreachable('should throw');
    } catch (err) {
      expect((err as FrameError).code).toBe('frame_malformed');
    }
  });

  it('never throws anything but FrameError on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const decoder = new FrameDecoder(64 * 1024);
        try {
          decoder.push(Buffer.from(bytes));
        } catch (err) {
          expect(err).toBeInstanceOf(FrameError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses to encode a frame over the limit', () => {
    expect(() => encodeFrame({ data: new Uint8Array(2000) }, 1000)).toThrowError(/exceeds the limit/);
  });

  it('keeps the tail of a partial frame for the next call', () => {
    const a = encodeFrame({ x: 1 });
    const b = encodeFrame({ y: 2 });
    const { values, rest } = decodeFrames(Buffer.concat([a, b.subarray(0, 3)]));
    expect(values).toEqual([{ x: 1 }]);
    expect(decodeFrames(Buffer.concat([rest, b.subarray(3)])).values).toEqual([{ y: 2 }]);
  });

  it('holds at most one frame however slowly the bytes drip in', () => {
    const decoder = new FrameDecoder(64 * 1024);
    const frame = encodeFrame({ blob: new Uint8Array(8 * 1024) });
    const out: unknown[] = [];
    let maxBuffered = 0;
    for (let i = 0; i < frame.length; i++) {
      out.push(...decoder.push(frame.subarray(i, i + 1)));
      maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes);
    }
    expect(maxBuffered).toBe(frame.length - 4 - 1); // the whole payload but its last byte (the header is parsed, not held)
    expect(out).toHaveLength(1);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('turns pathological nesting into frame_malformed and keeps decoding afterwards', () => {
    const deep = Buffer.alloc(1024 * 1024, 0x91); // an array of an array of ... a million deep
    const header = Buffer.alloc(4);
    header.writeUInt32BE(deep.length);
    expect(() => new FrameDecoder().push(Buffer.concat([header, deep]))).toThrowError(FrameError);
    expect(new FrameDecoder().push(encodeFrame({ still: 'works' }))).toEqual([{ still: 'works' }]);
  });

  it('treats an empty payload as malformed', () => {
    expect(() => new FrameDecoder().push(Buffer.from([0, 0, 0, 0]))).toThrowError(FrameError);
  });
});

/** A connection's reader that records what it is handed; it closes itself after `closeAfter` frames. */
function recordingReader(closeAfter = Infinity): FrameReader<{ n: number }> & { frames: number[]; errors: string[] } {
  const frames: number[] = [];
  const errors: string[] = [];
  return {
    frames,
    errors,
    parse: (v) => (typeof v === 'object' && v !== null && typeof (v as { n?: unknown }).n === 'number' ? (v as { n: number }) : null),
    malformedReason: 'not an {n} frame',
    isOpen: () => frames.length < closeAfter && errors.length === 0,
    onFrame: (f) => frames.push(f.n),
    onProtocolError: (reason) => errors.push(reason),
  };
}

describe('FrameDecoder.read', () => {
  it('hands the parsed frames to the reader in order, across chunk boundaries', () => {
    const bytes = Buffer.concat([1, 2, 3].map((n) => encodeFrame({ n })));
    const reader = recordingReader();
    const decoder = new FrameDecoder();
    decoder.read(bytes.subarray(0, 7), reader);
    decoder.read(bytes.subarray(7), reader);
    expect(reader.frames).toEqual([1, 2, 3]);
    expect(reader.errors).toEqual([]);
  });

  it('stops as soon as the reader is closed by a frame it handled', () => {
    const reader = recordingReader(1);
    new FrameDecoder().read(Buffer.concat([1, 2].map((n) => encodeFrame({ n }))), reader);
    expect(reader.frames).toEqual([1]);
  });

  it('reports a frame the reader cannot parse, and nothing after it', () => {
    const reader = recordingReader();
    new FrameDecoder().read(Buffer.concat([encodeFrame({ n: 1 }), encodeFrame('junk'), encodeFrame({ n: 3 })]), reader);
    expect(reader.frames).toEqual([1]);
    expect(reader.errors).toEqual(['not an {n} frame']);
  });

  it('reports an oversized frame as a protocol error instead of throwing', () => {
    const reader = recordingReader();
    new FrameDecoder(16).read(encodeFrame({ n: 1, pad: 'x'.repeat(64) }), reader);
    expect(reader.frames).toEqual([]);
    expect(reader.errors).toHaveLength(1);
    expect(reader.errors[0]).toMatch(/exceeds the limit of 16/);
  });
});
