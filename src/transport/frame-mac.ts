/**
 * Per-frame authentication for the shared-secret mode (no TLS).
 *
 * The handshake proves that both ends know the cluster secret; this makes
 * every later frame prove it too, so nobody without the secret can inject,
 * alter, replay or reorder a frame on a connection: after the hello, each
 * frame's payload is followed by a tag
 *
 *   tag = HMAC-SHA256(key_direction, seq || payload)[0..MAC_BYTES)
 *
 * where seq is the frame's 64-bit big-endian number in its direction (0, 1,
 * 2, ...; implicit, never sent: both ends count, as TLS does) and the keys
 * are fresh per connection: HKDF-SHA256 of the secret, salted with both
 * handshake nonces and bound to (clusterId, dialer, listener), one key per
 * direction. A frame replayed from another connection fails under the other
 * keys, a frame replayed or reordered on the same connection fails under
 * another seq, and a frame reflected back to its sender fails under the other
 * direction's key. The length prefix is not covered separately: a changed
 * length moves the payload's boundary, and the tag of the frame it cuts fails.
 *
 * It authenticates, it does not encrypt: peer traffic stays readable on the
 * network (use TLS for that).
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../raft/types.js';
import { assert } from '../raft/invariant.js';
import { FRAME_HEADER_BYTES } from './frame-codec.js';

/** MAC_BYTES is the size of a frame's tag: HMAC-SHA256 truncated to 128 bits. */
export const MAC_BYTES = 16;

const KEY_BYTES = 32;

/** FrameKeys are one connection's two keys, one per direction. */
export interface FrameKeys {
  readonly dialerToListener: Buffer;
  readonly listenerToDialer: Buffer;
}

/** deriveFrameKeys derives a connection's keys from the secret and both handshake nonces (HKDF-SHA256). */
export function deriveFrameKeys(secret: string, listenerNonce: Uint8Array, dialerNonce: Uint8Array, clusterId: string, dialer: NodeId, listener: NodeId): FrameKeys {
  assert(listenerNonce.byteLength > 0 && dialerNonce.byteLength > 0, 'frame keys need both nonces');
  const salt = Buffer.concat([listenerNonce, dialerNonce]);
  const info = JSON.stringify(['raftlock-peer-v2', 'frame-keys', clusterId, dialer, listener]);
  const okm = Buffer.from(hkdfSync('sha256', secret, salt, info, 2 * KEY_BYTES));
  return { dialerToListener: okm.subarray(0, KEY_BYTES), listenerToDialer: okm.subarray(KEY_BYTES) };
}

/** tagOf computes the tag of frame number `seq` of one direction. */
function tagOf(key: Buffer, seq: number, payload: Uint8Array): Buffer {
  const seqBytes = Buffer.alloc(8);
  seqBytes.writeBigUInt64BE(BigInt(seq));
  return createHmac('sha256', key).update(seqBytes).update(payload).digest().subarray(0, MAC_BYTES);
}

/** FrameSealer tags the frames one end sends, in order. */
export class FrameSealer {
  private seq = 0;

  constructor(private readonly key: Buffer) {}

  /** seal returns `frame` (a whole encoded frame: length prefix and payload) with its tag appended and the length prefix grown to match. */
  seal(frame: Buffer): Buffer {
    const payloadBytes = frame.readUInt32BE(0);
    assert(payloadBytes === frame.length - FRAME_HEADER_BYTES, 'seal takes exactly one whole frame');
    const tag = tagOf(this.key, this.seq, frame.subarray(FRAME_HEADER_BYTES));
    this.seq += 1;
    const sealed = Buffer.allocUnsafe(frame.length + MAC_BYTES);
    frame.copy(sealed, 0);
    tag.copy(sealed, frame.length);
    sealed.writeUInt32BE(payloadBytes + MAC_BYTES, 0);
    return sealed;
  }
}

/** FrameOpener checks the frames one end receives, in order. */
export class FrameOpener {
  private seq = 0;

  constructor(private readonly key: Buffer) {}

  /**
   * open checks a received payload's tag against the next expected number and
   * returns the payload without it (a view), or null when the tag is wrong: the
   * frame was forged, altered, replayed or reordered, and the caller must drop
   * the connection (the numbering cannot recover).
   */
  open(payload: Uint8Array): Uint8Array | null {
    if (payload.byteLength < MAC_BYTES) return null;
    const body = payload.subarray(0, payload.byteLength - MAC_BYTES);
    const tag = payload.subarray(payload.byteLength - MAC_BYTES);
    if (!timingSafeEqual(tagOf(this.key, this.seq, body), tag)) return null;
    this.seq += 1;
    return body;
  }
}
