import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { PRINCIPAL_PATTERN, type Identity, type Role } from './auth-tokens.js';

/**
 * How a member vouches for a caller when it relays a request to the leader.
 * The follower authenticated the caller itself (bearer token); the leader
 * must act as that caller, but must not take an identity from anyone else.
 * So the follower sends the identity in a header and an HMAC-SHA256 over
 * the method, the path, that header and (inside it) a digest of the body
 * and the time, keyed by a key every member derives from the cluster secret
 * (HKDF, bound to the cluster id). Only a member knows the key; a header
 * from anyone else, or a request changed on the way, fails the check (401).
 *
 * What it does not stop: within MAX_SKEW_MS, someone who can read the
 * traffic between members (plain HTTP) can replay a relayed request as it
 * was. Such a reader sees the bearer tokens anyway; use HTTPS between
 * members on an untrusted network.
 */

/** The header carrying the signed claims (base64url JSON). */
export const IDENTITY_HEADER = 'x-raftlock-identity';
/** The header carrying the HMAC of the request (base64url). */
export const SIGNATURE_HEADER = 'x-raftlock-signature';

/** How far a signed request's time may be from the receiver's clock (members' clocks may disagree by seconds). */
const MAX_SKEW_MS = 60_000;
const CLAIMS_LENGTH_MAX = 2_048;

/** SignedCaller is who a verified request speaks for: a client relayed by `member`, or `member` itself (internal routes). */
export type SignedCaller = { readonly kind: 'client'; readonly identity: Identity; readonly member: string } | { readonly kind: 'member'; readonly member: string };

/** VerifiedForward is a request whose signature checked out; its body must still match `bodyDigest` (bodyMatches). */
export interface VerifiedForward {
  readonly caller: SignedCaller;
  readonly bodyDigest: string;
}

/** The JSON inside IDENTITY_HEADER. */
interface Claims {
  /** `c`: a relayed client; `m`: the member itself. */
  readonly k: 'c' | 'm';
  readonly p?: string;
  readonly r?: Role[];
  /** The signing member's id (informational: every member has the key). */
  readonly m: string;
  /** Signing time, ms since the epoch. */
  readonly t: number;
  /** base64url SHA-256 of the body as sent ('' when none). */
  readonly b: string;
}

/**
 * ForwardSigner signs this member's relays and verifies other members'.
 * `secret` is the cluster secret (--secret) or the auth file's clusterSecret.
 */
export class ForwardSigner {
  private readonly key: Buffer;

  constructor(secret: string, clusterId: string, readonly memberId: string) {
    this.key = Buffer.from(hkdfSync('sha256', secret, `raftlock cluster ${clusterId}`, 'raftlock http forward v1', 32));
  }

  /**
   * headers are what a relay of `method path` with body `bodyText` sends:
   * speaking for `caller`, or for this member itself when null.
   */
  headers(caller: Identity | null, method: string, path: string, bodyText: string, nowMs = Date.now()): Record<string, string> {
    const claims: Claims =
      caller === null
        ? { k: 'm', m: this.memberId, t: nowMs, b: bodyDigest(bodyText) }
        : { k: 'c', p: caller.principal, r: [...caller.roles], m: this.memberId, t: nowMs, b: bodyDigest(bodyText) };
    const identity = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url');
    return { [IDENTITY_HEADER]: identity, [SIGNATURE_HEADER]: this.mac(method, path, identity) };
  }

  /**
   * verify checks a request's signature and claims; returns the caller, or
   * why it is refused. `path` is the request's URL as received.
   */
  verify(headers: IncomingHttpHeaders, method: string, path: string, nowMs = Date.now()): VerifiedForward | { readonly refused: string } {
    const identity = headers[IDENTITY_HEADER];
    const signature = headers[SIGNATURE_HEADER];
    if (typeof identity !== 'string' || typeof signature !== 'string') return { refused: 'a relayed identity needs both its headers' };
    if (identity.length > CLAIMS_LENGTH_MAX) return { refused: 'relayed identity too long' };
    const expected = Buffer.from(this.mac(method, path, identity), 'utf8');
    const given = Buffer.from(signature, 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { refused: 'bad signature on a relayed identity (not from a member of this cluster?)' };
    const claims = parseClaims(identity);
    if (claims === null) return { refused: 'malformed relayed identity' };
    if (Math.abs(nowMs - claims.t) > MAX_SKEW_MS) return { refused: `relayed identity signed ${Math.round((nowMs - claims.t) / 1000)} s away from this node's clock` };
    const caller: SignedCaller =
      claims.k === 'm' ? { kind: 'member', member: claims.m } : { kind: 'client', identity: { principal: claims.p!, roles: claims.r! }, member: claims.m };
    return { caller, bodyDigest: claims.b };
  }

  private mac(method: string, path: string, identity: string): string {
    return createHmac('sha256', this.key).update(`raftlock-forward-v1\n${method}\n${path}\n${identity}`, 'utf8').digest('base64url');
  }
}

/** bodyDigest is the digest a relay signs for its body text ('' for none). */
export function bodyDigest(bodyText: string): string {
  return createHash('sha256').update(bodyText, 'utf8').digest('base64url');
}

/** bodyMatches says whether a parsed body re-serializes to the text whose digest was signed. */
export function bodyMatches(forward: VerifiedForward, body: unknown): boolean {
  // The relay sends JSON.stringify of its parsed body, which parses and re-serializes to the same text.
  return bodyDigest(body === undefined ? '' : JSON.stringify(body)) === forward.bodyDigest;
}

function parseClaims(encoded: string): Claims | null {
  let c: Partial<Claims>;
  try {
    c = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as Partial<Claims>;
  } catch {
    return null;
  }
  if (typeof c !== 'object' || c === null || typeof c.m !== 'string' || typeof c.t !== 'number' || typeof c.b !== 'string') return null;
  if (c.k === 'm') return c as Claims;
  if (c.k !== 'c' || typeof c.p !== 'string' || !PRINCIPAL_PATTERN.test(c.p) || !Array.isArray(c.r)) return null;
  if (!c.r.every((r) => r === 'reader' || r === 'locker' || r === 'admin')) return null;
  return c as Claims;
}
