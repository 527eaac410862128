/**
 * Length-prefixed msgpack frames over a byte stream.
 *
 * Wire format of one frame: a 4-byte big-endian unsigned payload length, then
 * that many bytes of msgpack (msgpackr, plain maps, no record extension, so any
 * msgpack decoder can read it). A length above the decoder's limit is a
 * protocol error: the decoder throws before allocating anything for it, so a
 * peer cannot make us reserve gigabytes with four bytes.
 */
import { Packr, RESERVE_START_SPACE } from 'msgpackr';
import { assert } from '../raft/invariant.js';

/** FRAME_HEADER_BYTES is the size of the big-endian length prefix. */
export const FRAME_HEADER_BYTES = 4;

/** DEFAULT_MAX_FRAME_BYTES bounds one frame's payload (4 MiB); snapshots travel in smaller chunks. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** FrameErrorCode names why a byte stream was rejected. */
export type FrameErrorCode = 'frame_too_large' | 'frame_malformed';

/** FrameError is the expected failure of decoding untrusted bytes; the caller drops the connection. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
  constructor(
    readonly code: FrameErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// One packer/unpacker for the process. useRecords:false keeps frames plain
// msgpack maps (no shared-structure state that could desynchronize two peers).
// Decoded byte strings are views into the payload (no copy); the shape
// validators copy the ones they keep (message-shape.ts plainBytes).
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/**
 * encodeFrame packs `value` and prepends its length. Throws FrameError
 * 'frame_too_large' when the payload would exceed `maxFrameBytes` (the sender
 * then splits or drops; it is never put on the wire).
 */
export function encodeFrame(value: unknown, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): Buffer {
  assert(Number.isSafeInteger(maxFrameBytes) && maxFrameBytes > 0, `maxFrameBytes must be a positive integer, got ${maxFrameBytes}`);
  // Reserve the header in msgpackr's own buffer: one allocation, no concat.
  const framed = packr.pack(value, RESERVE_START_SPACE | FRAME_HEADER_BYTES);
  const payloadBytes = framed.length - FRAME_HEADER_BYTES;
  if (payloadBytes > maxFrameBytes) {
    throw new FrameError('frame_too_large', `frame payload of ${payloadBytes} bytes exceeds the limit of ${maxFrameBytes}`);
  }
  framed.writeUInt32BE(payloadBytes, 0);
  return framed;
}

/**
 * decodePayload unpacks one frame payload; any msgpack error becomes FrameError
 * 'frame_malformed'. Byte strings in the result are views into `payload`.
 */
export function decodePayload(payload: Uint8Array): unknown {
  try {
    return packr.unpack(payload);
  } catch (err) {
    throw new FrameError('frame_malformed', `undecodable frame payload: ${(err as Error).message}`);
  }
}

/**
 * FrameReader is how a connection takes the frames of its byte stream: it
 * opens each payload (checks and strips a MAC, when the connection has one),
 * checks each value's shape, says whether it still wants frames, and handles
 * frames and rejections. See FrameDecoder.read.
 */
export interface FrameReader<F> {
  /**
   * unseal returns the payload to decode, or null to reject the frame (a bad
   * MAC). It is asked for each frame just before that frame is decoded, after
   * the previous frame was handled, so a handler may switch it on.
   */
  unseal?(payload: Uint8Array): Uint8Array | null;
  /** unsealFailedReason is what onProtocolError gets for a payload `unseal` rejected. */
  readonly unsealFailedReason?: string;
  /** parse checks one decoded value's shape; null rejects it. */
  parse(value: unknown): F | null;
  /** malformedReason is what onProtocolError gets for a value `parse` rejected. */
  readonly malformedReason: string;
  /** isOpen is asked before each frame: a handler may have closed the connection meanwhile. */
  isOpen(): boolean;
  onFrame(frame: F): void;
  /** onProtocolError gets why the stream was rejected; the caller must drop the connection. */
  onProtocolError(reason: string): void;
}

/**
 * FrameDecoder turns an arbitrary chunking of the stream back into frames.
 * Complete frames inside a chunk are handed out as views (no copy); a frame
 * split across chunks is copied into one buffer of exactly its announced size,
 * allocated only after the length passed the limit. So the decoder holds at
 * most 4 + maxFrameBytes bytes, however the peer slices its bytes.
 */
export class FrameDecoder {
  private maxFrameBytes: number;
  /** Bytes of a length prefix split across chunks. */
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  /** The frame being assembled across chunks, and how much of it has arrived. */
  private frame: Buffer | null = null;
  private frameFilled = 0;

  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    assert(Number.isSafeInteger(maxFrameBytes) && maxFrameBytes > 0, `maxFrameBytes must be a positive integer, got ${maxFrameBytes}`);
    this.maxFrameBytes = maxFrameBytes;
  }

  /** setMaxFrameBytes changes the limit, e.g. from a small pre-handshake limit to the full one after authentication. */
  setMaxFrameBytes(maxFrameBytes: number): void {
    assert(Number.isSafeInteger(maxFrameBytes) && maxFrameBytes > 0, `maxFrameBytes must be a positive integer, got ${maxFrameBytes}`);
    this.maxFrameBytes = maxFrameBytes;
  }

  /** bufferedBytes is how many bytes of an incomplete frame are held. */
  get bufferedBytes(): number {
    return this.headerFilled + this.frameFilled;
  }

  /**
   * push feeds one chunk and returns the decoded values of every frame it
   * completes, in order. Throws FrameError on an oversized length prefix or an
   * undecodable payload; the decoder is then unusable (drop the connection).
   */
  push(chunk: Buffer): unknown[] {
    const values: unknown[] = [];
    this.splitPayloads(chunk, (payload) => {
      values.push(decodePayload(payload));
      return true;
    });
    return values;
  }

  /**
   * read is push for a connection: it takes the chunk's frames one at a time,
   * and unseals, decodes, parses and hands each to `reader` before it even
   * looks at the next one's length, so what a frame's handler changes (the
   * size limit, the MAC) applies from the very next frame on. It stops once
   * the reader is closed. An oversized, unauthentic or undecodable frame, or a
   * value reader.parse rejects, goes to reader.onProtocolError and ends the
   * chunk (the decoder is then unusable). Both ends of a peer connection read
   * their frames through here.
   */
  read<F>(chunk: Buffer, reader: FrameReader<F>): void {
    let failed = false;
    const fail = (reason: string): false => {
      failed = true;
      reader.onProtocolError(reason);
      return false;
    };
    try {
      this.splitPayloads(chunk, (payload) => {
        if (!reader.isOpen()) return false;
        const opened = reader.unseal === undefined ? payload : reader.unseal(payload);
        if (opened === null) return fail(reader.unsealFailedReason ?? 'unauthentic frame');
        const frame = reader.parse(decodePayload(opened));
        if (frame === null) return fail(reader.malformedReason);
        reader.onFrame(frame);
        return true;
      });
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      if (!failed) reader.onProtocolError(err.message);
    }
  }

  /**
   * splitPayloads hands each complete payload of the chunk to `onPayload`,
   * until it returns false. A payload may be a view into `chunk`.
   */
  private splitPayloads(chunk: Buffer, onPayload: (payload: Buffer) => boolean): void {
    let offset = 0;
    // Bounded: every iteration consumes at least one byte of the chunk or completes a frame.
    while (offset < chunk.length) {
      const frame = this.frame;
      if (frame !== null) {
        const take = Math.min(frame.length - this.frameFilled, chunk.length - offset);
        chunk.copy(frame, this.frameFilled, offset, offset + take);
        this.frameFilled += take;
        offset += take;
        if (this.frameFilled === frame.length) {
          this.frame = null;
          this.frameFilled = 0;
          if (!onPayload(frame)) return;
        }
        continue;
      }
      let length: number;
      if (this.headerFilled === 0 && chunk.length - offset >= FRAME_HEADER_BYTES) {
        length = this.checkLength(chunk.readUInt32BE(offset));
        offset += FRAME_HEADER_BYTES;
        if (chunk.length - offset >= length) {
          // Fast path: the whole frame is in this chunk.
          offset += length;
          if (!onPayload(chunk.subarray(offset - length, offset))) return;
          continue;
        }
      } else {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFilled, chunk.length - offset);
        chunk.copy(this.header, this.headerFilled, offset, offset + take);
        this.headerFilled += take;
        offset += take;
        if (this.headerFilled < FRAME_HEADER_BYTES) continue;
        this.headerFilled = 0;
        length = this.checkLength(this.header.readUInt32BE(0));
      }
      if (length === 0) {
        if (!onPayload(Buffer.alloc(0))) return;
        continue;
      }
      // Allocated only now that the length passed the limit.
      this.frame = Buffer.allocUnsafe(length);
      this.frameFilled = 0;
    }
  }

  private checkLength(length: number): number {
    if (length > this.maxFrameBytes) {
      throw new FrameError('frame_too_large', `length prefix of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
    }
    return length;
  }
}

/**
 * decodeFrames is the stateless form for tools (e.g. a fault-injecting proxy):
 * it decodes every complete frame in `buf` and returns the values plus the
 * unconsumed tail to prepend to the next chunk. Throws FrameError like push().
 */
export function decodeFrames(buf: Buffer, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): { values: unknown[]; rest: Buffer } {
  const values: unknown[] = [];
  let offset = 0;
  while (buf.length - offset >= FRAME_HEADER_BYTES) {
    const length = buf.readUInt32BE(offset);
    if (length > maxFrameBytes) {
      throw new FrameError('frame_too_large', `length prefix of ${length} bytes exceeds the limit of ${maxFrameBytes}`);
    }
    const end = offset + FRAME_HEADER_BYTES + length;
    if (end > buf.length) break;
    values.push(decodePayload(buf.subarray(offset + FRAME_HEADER_BYTES, end)));
    offset = end;
  }
  return { values, rest: buf.subarray(offset) };
}
