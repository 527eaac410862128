import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The bearer tokens of the HTTP API and who they stand for. The auth file
 * (`--auth-file`, or its JSON text in RAFTLOCK_AUTH) maps the SHA-256 of each
 * token to a principal and its roles:
 *
 * ```json
 * { "tokens": { "sha256:<64 hex digits>": { "principal": "billing", "roles": ["reader", "locker"] } },
 *   "clusterSecret": "optional: signs forwards between members when --secret is not set" }
 * ```
 *
 * The file holds hashes, never tokens, so reading it does not let anyone
 * call the API; tokens must be long random strings (a hash of a guessable
 * token is as good as the token).
 */

/** Role is what a token may do: `reader` the GET routes, `locker` locks and sessions, `admin` everything. */
export type Role = 'reader' | 'locker' | 'admin';

const ROLES: readonly Role[] = ['reader', 'locker', 'admin'];

/** Identity is an authenticated caller: its principal (which namespaces its owners and sessions) and roles. */
export interface Identity {
  readonly principal: string;
  readonly roles: readonly Role[];
}

/**
 * PRINCIPAL_PATTERN: no `/` or `~`, which separate a principal from an owner
 * (`principal/owner`) and from a session id (`principal~uuid`), so one
 * principal's namespace can never be a prefix of another's.
 */
export const PRINCIPAL_PATTERN = /^[A-Za-z0-9._@:-]{1,64}$/;

/** Bounds of the file: a token lookup compares against every entry, so their number is bounded. */
const MAX_TOKENS = 1_000;
const TOKEN_LENGTH_MAX = 4_096;
const CLUSTER_SECRET_LENGTH_MIN = 16;
const HASH_PATTERN = /^sha256:([0-9a-f]{64})$/;

/** AuthFileError is an auth file that cannot be used; the node refuses to start with its message. */
export class AuthFileError extends Error {
  override readonly name = 'AuthFileError';
}

interface TokenEntry {
  readonly hash: Buffer;
  readonly identity: Identity;
}

/** hasRole says whether `identity` may use a route of `role`; `admin` implies the other two. */
export function hasRole(identity: Identity, role: Role): boolean {
  return identity.roles.includes(role) || identity.roles.includes('admin');
}

/** hashToken is the auth file's key for `token`: `sha256:` and its hex SHA-256. */
export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/** IssuedToken is a token to write into an auth file (only its hash is written) and who it stands for. */
export interface IssuedToken {
  readonly token: string;
  readonly identity: Identity;
}

/** authFileJson is the auth file's text (the format TokenStore.parse reads) for `tokens` and, if given, `clusterSecret`. */
export function authFileJson(tokens: readonly IssuedToken[], clusterSecret?: string): string {
  const entries = Object.fromEntries(tokens.map((t) => [hashToken(t.token), { principal: t.identity.principal, roles: t.identity.roles }]));
  return JSON.stringify({ tokens: entries, ...(clusterSecret !== undefined ? { clusterSecret } : {}) }, null, 2);
}

/**
 * TokenStore authenticates bearer tokens against the auth file's hashes.
 * Build it with TokenStore.parse.
 */
export class TokenStore {
  private constructor(
    private readonly entries: readonly TokenEntry[],
    /** The auth file's clusterSecret, if any (see forward-signature.ts). */
    readonly clusterSecret: string | undefined,
  ) {}

  /**
   * parse validates the auth file's JSON text; throws AuthFileError
   * saying what is wrong (`source` names the file in the message).
   */
  static parse(text: string, source: string): TokenStore {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new AuthFileError(`${source}: not JSON (${(err as Error).message})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new AuthFileError(`${source}: expected an object with "tokens"`);
    const { tokens, clusterSecret, ...rest } = json as Record<string, unknown>;
    const unknownKeys = Object.keys(rest);
    if (unknownKeys.length > 0) throw new AuthFileError(`${source}: unknown field ${JSON.stringify(unknownKeys[0])}`);
    if (typeof tokens !== 'object' || tokens === null || Array.isArray(tokens)) throw new AuthFileError(`${source}: "tokens" must map "sha256:<hex>" to {principal, roles}`);
    const keys = Object.keys(tokens);
    if (keys.length === 0) throw new AuthFileError(`${source}: "tokens" is empty; nobody could call the API`);
    if (keys.length > MAX_TOKENS) throw new AuthFileError(`${source}: ${keys.length} tokens; at most ${MAX_TOKENS}`);
    const entries = keys.map((key) => parseEntry(key, (tokens as Record<string, unknown>)[key], source));
    if (clusterSecret !== undefined && (typeof clusterSecret !== 'string' || clusterSecret.length < CLUSTER_SECRET_LENGTH_MIN)) {
      throw new AuthFileError(`${source}: "clusterSecret" must be a string of at least ${CLUSTER_SECRET_LENGTH_MIN} characters`);
    }
    return new TokenStore(entries, clusterSecret);
  }

  /** size is the number of tokens. */
  get size(): number {
    return this.entries.length;
  }

  /**
   * authenticate returns the identity of `token`, or null for an unknown one.
   * Every entry is compared, in constant time each, so the time taken does
   * not tell how much of a hash matched nor which entry did.
   */
  authenticate(token: string): Identity | null {
    if (token.length === 0 || token.length > TOKEN_LENGTH_MAX) return null;
    const digest = createHash('sha256').update(token, 'utf8').digest();
    let found: Identity | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.hash, digest) && found === null) found = entry.identity;
    }
    return found;
  }
}

function parseEntry(key: string, value: unknown, source: string): TokenEntry {
  const m = HASH_PATTERN.exec(key);
  if (m === null) throw new AuthFileError(`${source}: token key ${JSON.stringify(key.slice(0, 80))} must be "sha256:" and 64 lowercase hex digits (the hash, never the token)`);
  if (typeof value !== 'object' || value === null) throw new AuthFileError(`${source}: ${key}: expected {principal, roles}`);
  const { principal, roles, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw new AuthFileError(`${source}: ${key}: unknown field ${JSON.stringify(Object.keys(rest)[0])}`);
  if (typeof principal !== 'string' || !PRINCIPAL_PATTERN.test(principal)) {
    throw new AuthFileError(`${source}: ${key}: principal must match ${PRINCIPAL_PATTERN.source} (no "/" or "~")`);
  }
  if (!Array.isArray(roles) || roles.length === 0 || !roles.every((r): r is Role => ROLES.includes(r as Role))) {
    throw new AuthFileError(`${source}: ${key}: roles must be a non-empty list of ${ROLES.join(', ')}`);
  }
  return { hash: Buffer.from(m[1]!, 'hex'), identity: Object.freeze({ principal, roles: Object.freeze([...new Set(roles)]) }) };
}
