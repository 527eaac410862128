/**
 * Challenge/response authentication of a dialing peer with a shared secret.
 * The listener picks a fresh random nonce per connection, so a recorded hello
 * cannot be replayed; the MAC binds the nonce to (from, to, clusterId), so a
 * hello cannot be redirected to another node or cluster either. Traffic itself
 * is not encrypted: this keeps strangers out, it is not TLS.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../raft/types.js';
import { NONCE_BYTES } from './wire-protocol.js';

/** AUTH_BYTES is the size of an HMAC-SHA256 tag. */
export const AUTH_BYTES = 32;

/** newNonce returns NONCE_BYTES cryptographically random bytes. */
export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(NONCE_BYTES));
}

/** computeAuth is HMAC-SHA256(secret, nonce|from|to|clusterId), with an unambiguous encoding of the fields. */
export function computeAuth(secret: string, nonce: Uint8Array, from: NodeId, to: NodeId, clusterId: string): Uint8Array {
  // JSON of an array cannot be confused across field boundaries the way a '|' join could ("a|b" + "c" vs "a" + "b|c").
  const text = JSON.stringify(['raftlock-peer-v1', Buffer.from(nonce).toString('hex'), from, to, clusterId]);
  return new Uint8Array(createHmac('sha256', secret).update(text).digest());
}

/** verifyAuth checks a received tag in constant time (crypto.timingSafeEqual). */
export function verifyAuth(
  secret: string,
  nonce: Uint8Array,
  from: NodeId,
  to: NodeId,
  clusterId: string,
  auth: Uint8Array | null,
): boolean {
  if (auth === null || auth.byteLength !== AUTH_BYTES) return false;
  return timingSafeEqual(computeAuth(secret, nonce, from, to, clusterId), auth);
}
