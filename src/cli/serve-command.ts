import { parseArgs } from 'node:util';
import { HTTP_SECURITY_FLAGS, HTTP_SECURITY_USAGE } from '../node/http-security-config.js';
import { ConfigError, buildNodeConfig, type RawServeOptions } from '../node/node-config.js';
import { startNode } from '../server/start-node.js';
import type { CliIo } from './cli-io.js';

export const SERVE_USAGE = `usage: raftlock serve --id ID --data-dir DIR --http HOST:PORT --peers ID=HOST:PORT,...
                      (--peer-ca FILE --peer-cert FILE --peer-key FILE | --secret S | --insecure)
                      [--initial-cluster-state new|existing] [--cluster-id ID]
                      [--peer HOST:PORT] [--peer-http ID=URL,...]
                      [--log-level info] [--tick-ms 50] [--election-ticks 10] [--snapshot-every 10000]
Every flag can come from the environment instead: RAFTLOCK_ID, RAFTLOCK_DATA_DIR, RAFTLOCK_HTTP, RAFTLOCK_PEER,
RAFTLOCK_PEERS, RAFTLOCK_PEER_HTTP, RAFTLOCK_INITIAL_CLUSTER_STATE, RAFTLOCK_CLUSTER_ID, RAFTLOCK_PEER_CA,
RAFTLOCK_PEER_CERT, RAFTLOCK_PEER_KEY, RAFTLOCK_SECRET, RAFTLOCK_INSECURE=1, RAFTLOCK_LOG_LEVEL, RAFTLOCK_TICK_MS,
RAFTLOCK_ELECTION_TICKS, RAFTLOCK_SNAPSHOT_EVERY.
--peers lists every voting member's peer address as this node dials it; --peer is this node's own listen address
(default: its entry in --peers). --peer-http lists members' HTTP URLs, so followers can forward to the leader.
Peer security (one is required): mutual TLS with the cluster's CA and this member's certificate (\`raftlock certs\`
makes them; the certificate must name the member: URI raftlock://CLUSTER/ID, or CN=ID and OU=CLUSTER), or a shared
--secret of at least 16 characters (every peer frame authenticated, not encrypted), or --insecure (no peer
authentication: anyone who reaches the peer port can act as a member; trusted networks only).
A member whose data dir holds no store starts only with --initial-cluster-state new (the first start of a new
cluster: give every founding member the same new --cluster-id); a restart finds its store and needs neither flag
(the stored cluster id is authoritative: a --cluster-id that disagrees is refused). \`existing\` (joining a running
cluster) is refused until runtime membership change exists. SIGTERM or SIGINT on the leader hands leadership to the
most caught-up member before the node stops. With --http-cert, SIGHUP re-reads the HTTPS certificate and key for new
connections (a pair that cannot be served is refused, and the node keeps the one it has).
${HTTP_SECURITY_USAGE}`;

/** SERVE_STRING_FLAGS are serve's flags that take a value; `--insecure` is its one switch (SERVE_FLAGS has both). */
const SERVE_STRING_FLAGS = [
  'id',
  'cluster-id',
  'initial-cluster-state',
  'data-dir',
  'http',
  'peer',
  'peers',
  'peer-http',
  'secret',
  'peer-ca',
  'peer-cert',
  'peer-key',
  'log-level',
  'tick-ms',
  'election-ticks',
  'snapshot-every',
  ...HTTP_SECURITY_FLAGS,
] as const;

/** SERVE_FLAGS are every flag `raftlock serve` takes (the README's configuration reference lists each). */
export const SERVE_FLAGS: readonly string[] = [...SERVE_STRING_FLAGS, 'insecure'];

/** serveCommand runs one member until SIGTERM/SIGINT. Exit codes: 2 usage, 1 refused to start or crashed. */
export async function serveCommand(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(`${SERVE_USAGE}\n`);
    return 0;
  }
  let raw: RawServeOptions;
  try {
    const options = { ...Object.fromEntries(SERVE_STRING_FLAGS.map((f) => [f, { type: 'string' as const }])), insecure: { type: 'boolean' as const } };
    const { values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options });
    const { insecure, ...strings } = values;
    raw = { ...(strings as RawServeOptions), ...(insecure === true ? { insecure: 'true' } : {}) };
    const config = buildNodeConfig(raw, env);
    return await runNode(config, io);
  } catch (err) {
    if (err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`raftlock serve: ${(err as Error).message}\n${SERVE_USAGE}\n`);
      return 2;
    }
    throw err;
  }
}

async function runNode(config: ReturnType<typeof buildNodeConfig>, io: CliIo): Promise<number> {
  let finish: ((end: { code: number; handOff: boolean }) => void) | null = null;
  const ended = new Promise<{ code: number; handOff: boolean }>((resolve) => {
    finish = resolve;
  });
  let node;
  try {
    node = await startNode(config, (err) => {
      io.err(`raftlock serve: fatal: ${(err as Error).message ?? String(err)}\n`);
      finish?.({ code: 1, handOff: false });
    });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    io.err(`raftlock serve: refusing to start: ${e.message ?? String(err)}${e.code !== undefined ? ` (${e.code})` : ''}\n`);
    return 1;
  }
  const onSignal = (signal: string): void => {
    io.err(`raftlock serve: ${signal}, shutting down\n`);
    // A leader hands over first, so a rolling restart costs no election timeout.
    finish?.({ code: 0, handOff: true });
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  // With HTTPS, SIGHUP re-reads its certificate (a renewal needs no restart); without, SIGHUP keeps its default.
  const onHangup = (): void => void node.reloadHttpsCertificate();
  if (config.httpSecurity.tls !== undefined) process.on('SIGHUP', onHangup);
  const end = await ended;
  process.off('SIGHUP', onHangup);
  await node.stop({ handOff: end.handOff }).catch((err: unknown) => io.err(`raftlock serve: error during shutdown: ${(err as Error).message}\n`));
  return end.code;
}
