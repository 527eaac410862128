/**
 * The shared-secret handshake: each end proves it knows the cluster secret.
 *
 * The listener opens with a fresh random nonce (the challenge), the dialer
 * answers with its own nonce and a proof over both, and the listener's welcome
 * carries a proof of its own:
 *
 *   hello.auth   = HMAC(secret, ["raftlock-peer-v2", "hello",   nL, nD, from, to, clusterId])
 *   welcome.auth = HMAC(secret, ["raftlock-peer-v2", "welcome", nL, nD, from, to, clusterId])
 *
 * A recorded hello cannot be replayed (the listener's nonce is new), nor a
 * recorded welcome (the dialer's nonce is new); the labels keep one from
 * passing for the other, and (from, to, clusterId) keep a proof from being
 * redirected. The frames after the hello are then authenticated one by one
 * (frame-mac.ts) under keys derived from the same nonces.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../raft/types.js';
import { NONCE_BYTES } from './wire-protocol.js';

/** AUTH_BYTES is the size of an HMAC-SHA256 proof. */
export const AUTH_BYTES = 32;

/** HandshakeTranscript is what both proofs cover: the two nonces and who talks to whom in which cluster. */
export interface HandshakeTranscript {
  readonly listenerNonce: Uint8Array;
  readonly dialerNonce: Uint8Array;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly clusterId: string;
}

/** ProofLabel says which side's proof: the dialer's hello or the listener's welcome. */
export type ProofLabel = 'hello' | 'welcome';

/** newNonce returns NONCE_BYTES cryptographically random bytes. */
export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(NONCE_BYTES));
}

/** computeProof is HMAC-SHA256(secret, label and transcript), with an unambiguous encoding of the fields. */
export function computeProof(secret: string, label: ProofLabel, t: HandshakeTranscript): Uint8Array {
  // JSON of an array cannot be confused across field boundaries the way a '|' join could ("a|b" + "c" vs "a" + "b|c").
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  const text = JSON.stringify(['raftlock-peer-v2', label, hex(t.listenerNonce), hex(t.dialerNonce), t.from, t.to, t.clusterId]);
  return new Uint8Array(createHmac('sha256', secret).update(text).digest());
}

/** verifyProof checks a received proof in constant time (crypto.timingSafeEqual). */
export function verifyProof(secret: string, label: ProofLabel, t: HandshakeTranscript, auth: Uint8Array | null): boolean {
  if (auth === null || auth.byteLength !== AUTH_BYTES) return false;
  return timingSafeEqual(computeProof(secret, label, t), auth);
}
