/**
 * The `raftlock serve` flags of the client-facing HTTP API's security:
 * HTTPS, bearer-token authentication, and the limits on connections and
 * waiting requests. Parsed here (strings to checked values); the files they
 * name are read when the node starts (src/server/start-node.ts).
 */

/** HTTP_SECURITY_ENV names the environment variable behind each flag. */
export const HTTP_SECURITY_ENV = {
  'http-cert': 'RAFTLOCK_HTTP_CERT',
  'http-key': 'RAFTLOCK_HTTP_KEY',
  'http-ca': 'RAFTLOCK_HTTP_CA',
  'auth-file': 'RAFTLOCK_AUTH_FILE',
  'metrics-auth': 'RAFTLOCK_METRICS_AUTH',
  'http-headers-timeout-ms': 'RAFTLOCK_HTTP_HEADERS_TIMEOUT_MS',
  'http-request-timeout-ms': 'RAFTLOCK_HTTP_REQUEST_TIMEOUT_MS',
  'http-idle-timeout-ms': 'RAFTLOCK_HTTP_IDLE_TIMEOUT_MS',
  'http-max-connections': 'RAFTLOCK_HTTP_MAX_CONNECTIONS',
  'http-max-connections-per-address': 'RAFTLOCK_HTTP_MAX_CONNECTIONS_PER_ADDRESS',
  'max-waits-per-principal': 'RAFTLOCK_MAX_WAITS_PER_PRINCIPAL',
} as const;

/** HttpSecurityFlag is one of these flags' names. */
export type HttpSecurityFlag = keyof typeof HTTP_SECURITY_ENV;

/** HTTP_SECURITY_FLAGS lists them, for the command line parser. */
export const HTTP_SECURITY_FLAGS = Object.keys(HTTP_SECURITY_ENV) as HttpSecurityFlag[];

/** The environment variable holding the auth file's JSON itself (for containers whose secrets arrive as variables). */
export const AUTH_JSON_ENV = 'RAFTLOCK_AUTH';

/** HTTP_SECURITY_USAGE is these flags' part of `raftlock serve --help`. */
export const HTTP_SECURITY_USAGE = `HTTP API security (see README, Security):
  [--http-cert FILE --http-key FILE] serve HTTPS; [--http-ca FILE] CA that signs the other members' HTTPS certificates
  [--auth-file FILE] bearer tokens and roles (or the file's JSON in RAFTLOCK_AUTH); [--metrics-auth none|reader]
  [--http-headers-timeout-ms 10000] [--http-request-timeout-ms 30000] [--http-idle-timeout-ms 30000]
  [--http-max-connections N (default from the open-files limit)] [--http-max-connections-per-address 256]
  [--max-waits-per-principal 1000]
  Each also from the environment: RAFTLOCK_ and the flag in capitals with _ for - (RAFTLOCK_HTTP_CERT, RAFTLOCK_AUTH_FILE, ...).`;

/** Where the auth file's JSON comes from. */
export type AuthSource = { readonly file: string } | { readonly json: string };

/** HttpSecurityConfig is the parsed form of the flags. */
export interface HttpSecurityConfig {
  /** PEM files of this node's HTTPS certificate and key; absent: plain HTTP. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** PEM file of the CA that signs members' HTTPS certificates, trusted when relaying to the leader. */
  readonly caFile?: string;
  /** The tokens; absent: no authentication (a trusted network). */
  readonly auth?: AuthSource;
  /** Whether /metrics needs a reader token (only with auth). */
  readonly metricsAuth: 'none' | 'reader';
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** Undefined: derived from the process's open-files limit when the node starts. */
  readonly maxConnections?: number;
  readonly maxConnectionsPerAddress: number;
  readonly maxWaitsPerPrincipal: number;
}

/** The parsing helpers node-config.ts passes in (its flag-or-environment lookup, its integer parser, its error). */
export interface FlagReader {
  get(flag: HttpSecurityFlag): string | undefined;
  env(name: string): string | undefined;
  int(value: string, what: string, min: number, max: number): number;
  fail(message: string): never;
}

/** parseHttpSecurity checks the flags; `r.fail` throws the CLI's usage error. */
export function parseHttpSecurity(r: FlagReader): HttpSecurityConfig {
  const cert = nonEmpty(r.get('http-cert'));
  const key = nonEmpty(r.get('http-key'));
  if ((cert === undefined) !== (key === undefined)) r.fail('--http-cert and --http-key go together');
  const caFile = nonEmpty(r.get('http-ca'));
  const authFile = nonEmpty(r.get('auth-file'));
  const authJson = nonEmpty(r.env(AUTH_JSON_ENV));
  if (authFile !== undefined && authJson !== undefined) r.fail(`give --auth-file or ${AUTH_JSON_ENV}, not both`);
  const metricsAuth = r.get('metrics-auth') ?? 'none';
  if (metricsAuth !== 'none' && metricsAuth !== 'reader') r.fail('--metrics-auth: none or reader');
  if (metricsAuth === 'reader' && authFile === undefined && authJson === undefined) r.fail('--metrics-auth reader needs --auth-file');
  const int = (flag: HttpSecurityFlag, fallback: number, min: number, max: number): number => {
    const v = r.get(flag);
    return v === undefined ? fallback : r.int(v, `--${flag}`, min, max);
  };
  const headersTimeoutMs = int('http-headers-timeout-ms', 10_000, 100, 600_000);
  const requestTimeoutMs = int('http-request-timeout-ms', 30_000, 100, 3_600_000);
  // Node requires it: a request that may not take longer than its headers would make the headers bound moot.
  if (requestTimeoutMs < headersTimeoutMs) r.fail('--http-request-timeout-ms must be at least --http-headers-timeout-ms');
  const maxConnections = r.get('http-max-connections');
  return {
    ...(cert !== undefined && key !== undefined ? { tls: { certFile: cert, keyFile: key } } : {}),
    ...(caFile !== undefined ? { caFile } : {}),
    ...(authFile !== undefined ? { auth: { file: authFile } } : authJson !== undefined ? { auth: { json: authJson } } : {}),
    metricsAuth,
    headersTimeoutMs,
    requestTimeoutMs,
    idleTimeoutMs: int('http-idle-timeout-ms', 30_000, 100, 3_600_000),
    ...(maxConnections !== undefined ? { maxConnections: r.int(maxConnections, '--http-max-connections', 8, 1_000_000) } : {}),
    maxConnectionsPerAddress: int('http-max-connections-per-address', 256, 1, 1_000_000),
    maxWaitsPerPrincipal: int('max-waits-per-principal', 1_000, 1, 1_000_000),
  };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}
