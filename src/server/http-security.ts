import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { NodeConfig } from '../node/node-config.js';
import { TokenStore } from './auth-tokens.js';
import type { ConnectionLimits } from './connection-guard.js';
import { ForwardSigner } from './forward-signature.js';
import type { HttpTimeouts } from './http-app.js';

/** HttpSecurity is the HTTP API's security, loaded: certificates, tokens, the relay key and the limits. */
export interface HttpSecurity {
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer };
  /** CA (PEM) trusted for the other members' HTTPS certificates when relaying. */
  readonly ca?: Buffer;
  /** null: no authentication. */
  readonly tokens: TokenStore | null;
  /**
   * null: no cluster secret, so relays carry no identity (and a node with authentication on must be alone). Bound to
   * the cluster the member's store names (bindRelaySigner), which a restart learns only once the store is open.
   */
  readonly signer: ForwardSigner | null;
  /** The secret relays are signed with (the auth file's clusterSecret, or the peers' --secret), or null. */
  readonly relaySecret: string | null;
  readonly metricsRole: 'none' | 'reader';
  readonly timeouts: HttpTimeouts;
  readonly connections: ConnectionLimits;
  readonly maxWaitsPerPrincipal: number;
}

/** Descriptors a node needs besides client connections (peers, LevelDB's files, logs, relays' idle sockets): a quarter of the limit, up to 256. */
const RESERVED_DESCRIPTORS_MAX = 256;
const MAX_CONNECTIONS_DEFAULT_CAP = 4_096;
const MAX_CONNECTIONS_FLOOR = 16;

/**
 * loadHttpSecurity reads the files `config.httpSecurity` names and derives
 * what they imply. It throws (the node refuses to start) on an unreadable or
 * invalid file, and when authentication is on in a cluster of several
 * members without a secret to sign relays with: a follower could then not
 * pass its callers' identities to the leader.
 */
export async function loadHttpSecurity(config: NodeConfig, logger: FastifyBaseLogger): Promise<HttpSecurity> {
  const s = config.httpSecurity;
  const tls = s.tls === undefined ? undefined : await readHttpsPair(s.tls);
  const ca = s.caFile === undefined ? undefined : await readPem(s.caFile, '--http-ca');
  const tokens = s.auth === undefined ? null : 'file' in s.auth ? TokenStore.parse(await readText(s.auth.file, '--auth-file'), s.auth.file) : TokenStore.parse(s.auth.json, 'RAFTLOCK_AUTH');
  const peerSecret = config.peerSecurity.mode === 'secret' ? config.peerSecurity.secret : undefined;
  const secret = tokens?.clusterSecret ?? peerSecret;
  // Bound to the flags' cluster id for now; bindRelaySigner binds it to the store's once the store is open.
  const signer = secret === undefined ? null : new ForwardSigner(secret, config.clusterId ?? '', config.id);
  const members = Object.keys(config.peers).length;
  if (tokens !== null && signer === null && members > 1) {
    throw new Error('authentication needs a cluster secret to pass callers from followers to the leader: set --secret, or "clusterSecret" in the auth file');
  }
  if (tokens !== null && tls === undefined) logger.warn({}, 'authentication is on without HTTPS: bearer tokens cross the network in clear text (--http-cert, --http-key)');
  if (tokens === null) logger.warn({}, 'authentication is off: anyone who reaches the HTTP API can take, release and list every lock (--auth-file)');
  const connections = {
    maxConnections: s.maxConnections ?? (await defaultMaxConnections()),
    maxConnectionsPerAddress: s.maxConnectionsPerAddress,
    exemptAddresses: await memberAddresses(config, logger),
  };
  const fdLimit = await openFilesLimit();
  if (fdLimit !== null && connections.maxConnections > fdLimit - reservedDescriptors(fdLimit)) {
    logger.warn({ maxConnections: connections.maxConnections, openFilesLimit: fdLimit }, 'the connection cap is close to or above the open-files limit: a flood can exhaust descriptors (raise ulimit -n or lower --http-max-connections)');
  }
  return {
    ...(tls !== undefined ? { tls } : {}),
    ...(ca !== undefined ? { ca } : {}),
    tokens,
    signer,
    relaySecret: secret ?? null,
    metricsRole: s.metricsAuth,
    timeouts: { headersTimeoutMs: s.headersTimeoutMs, requestTimeoutMs: s.requestTimeoutMs, idleTimeoutMs: s.idleTimeoutMs },
    connections,
    maxWaitsPerPrincipal: s.maxWaitsPerPrincipal,
  };
}

/** readHttpsPair reads the HTTPS certificate and key files (at start, and again on a reload); throws saying which is bad. */
export async function readHttpsPair(files: { readonly certFile: string; readonly keyFile: string }): Promise<{ cert: Buffer; key: Buffer }> {
  return { cert: await readPem(files.certFile, '--http-cert'), key: await readPem(files.keyFile, '--http-key') };
}

async function readText(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${flag} ${file}: ${(err as Error).message}`);
  }
}

async function readPem(file: string, flag: string): Promise<Buffer> {
  const text = await readText(file, flag);
  if (!text.includes('-----BEGIN ')) throw new Error(`${flag} ${file}: not a PEM file`);
  return Buffer.from(text, 'utf8');
}

function reservedDescriptors(limit: number): number {
  return Math.min(RESERVED_DESCRIPTORS_MAX, Math.floor(limit / 4));
}

/** defaultMaxConnections leaves reservedDescriptors of the open-files limit to the node itself. */
async function defaultMaxConnections(): Promise<number> {
  const limit = await openFilesLimit();
  if (limit === null) return 1_000;
  return Math.max(MAX_CONNECTIONS_FLOOR, Math.min(MAX_CONNECTIONS_DEFAULT_CAP, limit - reservedDescriptors(limit)));
}

/** openFilesLimit is this process's soft limit on open files (Linux), or null when it cannot be read. */
async function openFilesLimit(): Promise<number | null> {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(await readFile('/proc/self/limits', 'utf8'));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/**
 * memberAddresses are the IP addresses of the members (their peer and HTTP
 * hosts, names resolved once at start): followers relay many clients'
 * requests from one address, so the per-address cap does not apply to them.
 */
async function memberAddresses(config: NodeConfig, logger: FastifyBaseLogger): Promise<ReadonlySet<string>> {
  const hosts = new Set<string>([...Object.values(config.peers).map((p) => p.host), ...Object.values(config.peerHttp).map((u) => new URL(u).hostname.replace(/^\[|\]$/g, ''))]);
  const out = new Set<string>();
  for (const host of hosts) {
    if (isIP(host) !== 0) {
      out.add(host);
      continue;
    }
    try {
      for (const a of await lookup(host, { all: true })) out.add(a.address);
    } catch (err) {
      logger.warn({ host, err: (err as Error).message }, 'cannot resolve a member host; its relays count against the per-address connection cap');
    }
  }
  return out;
}

/** bindRelaySigner binds relay signatures to `clusterId`, the cluster the member's store belongs to. */
export function bindRelaySigner(security: HttpSecurity, clusterId: string, memberId: string): HttpSecurity {
  if (security.relaySecret === null) return security;
  return { ...security, signer: new ForwardSigner(security.relaySecret, clusterId, memberId) };
}
