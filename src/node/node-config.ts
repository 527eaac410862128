import type { NodeId } from '../raft/index.js';
import type { PeerSecurity } from '../transport/index.js';
import { buildPeerSecurity } from './peer-security-config.js';
import { HTTP_SECURITY_ENV, parseHttpSecurity, type HttpSecurityConfig, type HttpSecurityFlag } from './http-security-config.js';
import type { HostAddress } from './raft-host.js';

/** NodeConfig is everything `raftlock serve` needs, after parsing and validation. */
export interface NodeConfig {
  readonly id: NodeId;
  /** The cluster id asked for; null takes the one the store holds (a store's id is authoritative). */
  readonly clusterId: string | null;
  /**
   * What to do when the data dir holds no store (etcd's --initial-cluster-state): `new` creates one (a founding
   * member of a new cluster), `existing` creates one with no configuration (a member joining a running cluster, added first as a learner), null refuses. Ignored when a store exists.
   */
  readonly initialClusterState: InitialClusterState | null;
  readonly dataDir: string;
  readonly http: HostAddress;
  readonly peerListen: HostAddress;
  readonly peers: Readonly<Record<NodeId, HostAddress>>;
  readonly peerHttp: Readonly<Record<NodeId, string>>;
  /** How peer connections are secured (peer-security-config.ts checked it). */
  readonly peerSecurity: PeerSecurity;
  readonly logLevel: string;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly snapshotEveryEntries: number;
  /** The HTTP API's HTTPS, authentication and limits (http-security-config.ts). */
  readonly httpSecurity: HttpSecurityConfig;
}

/** InitialClusterState says how a member without a store starts: founding a new cluster, or joining a running one. */
export type InitialClusterState = 'new' | 'existing';

/** ConfigError is a usage mistake: the CLI prints it with the usage text and exits 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** parseHostPort parses "host:port" (IPv4, hostname, or [IPv6]). */
export function parseHostPort(value: string, what: string): HostAddress {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value.trim());
  if (m === null) throw new ConfigError(`${what}: expected host:port, got "${value}"`);
  const port = Number(m[2]);
  if (port < 0 || port > 65535) throw new ConfigError(`${what}: port ${port} is out of range`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** parseIdMap parses "n1=VALUE,n2=VALUE" into a record, checking ids and duplicates. */
export function parseIdMap<T>(value: string, what: string, parse: (v: string, id: string) => T): Record<NodeId, T> {
  const out: Record<NodeId, T> = {};
  for (const part of value.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError(`${what}: expected id=value, got "${part}"`);
    const id = part.slice(0, eq);
    if (!ID_PATTERN.test(id)) throw new ConfigError(`${what}: bad node id "${id}" (letters, digits, _ and -, at most 64)`);
    if (id in out) throw new ConfigError(`${what}: node ${id} listed twice`);
    out[id] = parse(part.slice(eq + 1), id);
  }
  return out;
}

/** parseIntFlag parses a bounded integer flag. */
export function parseIntFlag(value: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(`${what}: expected an integer, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(`${what}: ${n} is outside ${min}..${max}`);
  return n;
}

/** RawServeOptions are flag values (or their environment fallbacks) as strings. */
export type RawServeOptions = Partial<
  Record<
    | 'id'
    | 'cluster-id'
    | 'initial-cluster-state'
    | 'data-dir'
    | 'http'
    | 'peer'
    | 'peers'
    | 'peer-http'
    | 'secret'
    | 'peer-ca'
    | 'peer-cert'
    | 'peer-key'
    | 'insecure'
    | 'log-level'
    | 'tick-ms'
    | 'election-ticks'
    | 'snapshot-every'
    | HttpSecurityFlag,
    string
  >
>;

/** ENV_BY_FLAG names the environment variable behind each flag, for containers. */
export const ENV_BY_FLAG: Readonly<Record<keyof RawServeOptions, string>> = {
  id: 'RAFTLOCK_ID',
  'cluster-id': 'RAFTLOCK_CLUSTER_ID',
  'initial-cluster-state': 'RAFTLOCK_INITIAL_CLUSTER_STATE',
  'data-dir': 'RAFTLOCK_DATA_DIR',
  http: 'RAFTLOCK_HTTP',
  peer: 'RAFTLOCK_PEER',
  peers: 'RAFTLOCK_PEERS',
  'peer-http': 'RAFTLOCK_PEER_HTTP',
  secret: 'RAFTLOCK_SECRET',
  'peer-ca': 'RAFTLOCK_PEER_CA',
  'peer-cert': 'RAFTLOCK_PEER_CERT',
  'peer-key': 'RAFTLOCK_PEER_KEY',
  insecure: 'RAFTLOCK_INSECURE',
  'log-level': 'RAFTLOCK_LOG_LEVEL',
  'tick-ms': 'RAFTLOCK_TICK_MS',
  'election-ticks': 'RAFTLOCK_ELECTION_TICKS',
  'snapshot-every': 'RAFTLOCK_SNAPSHOT_EVERY',
  ...HTTP_SECURITY_ENV,
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** buildNodeConfig validates raw options (flags override environment) into a NodeConfig. */
export function buildNodeConfig(flags: RawServeOptions, env: NodeJS.ProcessEnv): NodeConfig {
  const get = (k: keyof RawServeOptions): string | undefined => flags[k] ?? env[ENV_BY_FLAG[k]];
  const need = (k: keyof RawServeOptions): string => {
    const v = get(k);
    if (v === undefined || v === '') throw new ConfigError(`missing --${k} (or ${ENV_BY_FLAG[k]})`);
    return v;
  };
  const id = need('id');
  if (!ID_PATTERN.test(id)) throw new ConfigError(`--id: bad node id "${id}"`);
  const peers = parseIdMap(need('peers'), '--peers', (v) => parseHostPort(v, '--peers'));
  if (!(id in peers)) throw new ConfigError(`--peers must list this node (${id})`);
  const count = Object.keys(peers).length;
  if (count > 9) throw new ConfigError(`--peers lists ${count} members; at most 9 are supported`);
  const peerHttpRaw = get('peer-http');
  const peerHttp = peerHttpRaw === undefined ? {} : parseIdMap(peerHttpRaw, '--peer-http', (v) => parseUrl(v));
  for (const pid of Object.keys(peerHttp)) if (!(pid in peers)) throw new ConfigError(`--peer-http names ${pid}, which is not in --peers`);
  const http = parseHostPort(need('http'), '--http');
  const peerListen = get('peer') !== undefined ? parseHostPort(get('peer')!, '--peer') : peers[id]!;
  const logLevel = get('log-level') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`--log-level: one of ${LOG_LEVELS.join(', ')}`);
  const { clusterId, initialClusterState } = clusterFlags(get);
  // The certificate's cluster name is checked here when the flags name the cluster, else once the store does.
  const security = buildPeerSecurity(
    { peerCa: get('peer-ca'), peerCert: get('peer-cert'), peerKey: get('peer-key'), secret: get('secret'), insecure: get('insecure') },
    id,
    clusterId,
  );
  if (!security.ok) throw new ConfigError(security.message);
  const httpSecurity = parseHttpSecurity({
    get,
    env: (name) => env[name],
    int: parseIntFlag,
    fail: (message) => {
      throw new ConfigError(message);
    },
  });
  return {
    id,
    clusterId,
    initialClusterState,
    dataDir: need('data-dir'),
    http,
    peerListen,
    peers,
    peerHttp: { ...peerHttp, [id]: `${httpSecurity.tls !== undefined ? 'https' : 'http'}://${formatHost(http.host)}:${http.port}` },
    peerSecurity: security.security,
    logLevel,
    tickMs: parseIntFlag(get('tick-ms') ?? '50', '--tick-ms', 5, 1000),
    electionTicks: parseIntFlag(get('election-ticks') ?? '10', '--election-ticks', 3, 100),
    snapshotEveryEntries: parseIntFlag(get('snapshot-every') ?? '10000', '--snapshot-every', 10, 100_000_000),
    httpSecurity,
  };
}

/** parseClusterId checks a cluster id: a UUID (what `raftlock cluster` generates) or a short name. */
export function parseClusterId(value: string, what: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value)) throw new ConfigError(`${what}: bad cluster id "${value}" (letters, digits, _ . and -, at most 64)`);
  return value;
}

/**
 * clusterFlags reads --cluster-id and --initial-cluster-state. An empty value counts as unset, so a compose file can
 * pass `${RAFTLOCK_INITIAL_CLUSTER_STATE:-}` through on every start. `new` needs an explicit id: every founding
 * member must name the same one, which no member can generate on its own.
 */
function clusterFlags(get: (k: keyof RawServeOptions) => string | undefined): { clusterId: string | null; initialClusterState: InitialClusterState | null } {
  const raw = get('cluster-id');
  const clusterId = raw === undefined || raw === '' ? null : parseClusterId(raw, '--cluster-id');
  const state = get('initial-cluster-state') ?? '';
  if (state !== '' && state !== 'new' && state !== 'existing') throw new ConfigError(`--initial-cluster-state: "new" or "existing", not "${state}"`);
  if (state === 'new' && clusterId === null) {
    throw new ConfigError('--initial-cluster-state new needs --cluster-id: one new id, the same on every founding member (e.g. the output of uuidgen)');
  }
  if (state === 'existing' && clusterId === null) {
    throw new ConfigError('--initial-cluster-state existing needs --cluster-id: the id of the running cluster this member joins (raftlock status shows it)');
  }
  return { clusterId, initialClusterState: state === '' ? null : state };
}

function parseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value.includes('://') ? value : `http://${value}`);
  } catch {
    throw new ConfigError(`--peer-http: bad URL "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`--peer-http: URL must be http(s): "${value}"`);
  return url.origin;
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
