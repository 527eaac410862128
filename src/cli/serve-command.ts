import { parseArgs } from 'node:util';
import { HTTP_SECURITY_FLAGS, HTTP_SECURITY_USAGE } from '../node/http-security-config.js';
import { ConfigError, buildNodeConfig, type RawServeOptions } from '../node/node-config.js';
import { startNode } from '../server/start-node.js';
import type { CliIo } from './cli-io.js';

export const SERVE_USAGE = `usage: raftlock serve --id ID --data-dir DIR --http HOST:PORT --peers ID=HOST:PORT,...
                      [--peer HOST:PORT] [--peer-http ID=URL,...] [--cluster-id NAME] [--secret S]
                      [--log-level info] [--tick-ms 50] [--election-ticks 10] [--snapshot-every 10000]
Every flag can come from the environment instead: RAFTLOCK_ID, RAFTLOCK_DATA_DIR, RAFTLOCK_HTTP, RAFTLOCK_PEER,
RAFTLOCK_PEERS, RAFTLOCK_PEER_HTTP, RAFTLOCK_CLUSTER_ID, RAFTLOCK_SECRET, RAFTLOCK_LOG_LEVEL, RAFTLOCK_TICK_MS,
RAFTLOCK_ELECTION_TICKS, RAFTLOCK_SNAPSHOT_EVERY.
--peers lists every voting member's peer address as this node dials it; --peer is this node's own listen address
(default: its entry in --peers). --peer-http lists members' HTTP URLs, so followers can forward to the leader.
${HTTP_SECURITY_USAGE}`;

const FLAGS = ['id', 'cluster-id', 'data-dir', 'http', 'peer', 'peers', 'peer-http', 'secret', 'log-level', 'tick-ms', 'election-ticks', 'snapshot-every', ...HTTP_SECURITY_FLAGS] as const;

/** serveCommand runs one member until SIGTERM/SIGINT. Exit codes: 2 usage, 1 refused to start or crashed. */
export async function serveCommand(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(`${SERVE_USAGE}\n`);
    return 0;
  }
  let raw: RawServeOptions;
  try {
    const { values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: Object.fromEntries(FLAGS.map((f) => [f, { type: 'string' }])) });
    raw = values as RawServeOptions;
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
  let fatal: ((code: number) => void) | null = null;
  const exited = new Promise<number>((resolve) => {
    fatal = resolve;
  });
  let node;
  try {
    node = await startNode(config, (err) => {
      io.err(`raftlock serve: fatal: ${(err as Error).message ?? String(err)}\n`);
      fatal?.(1);
    });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    io.err(`raftlock serve: refusing to start: ${e.message ?? String(err)}${e.code !== undefined ? ` (${e.code})` : ''}\n`);
    return 1;
  }
  const onSignal = (signal: string): void => {
    io.err(`raftlock serve: ${signal}, shutting down\n`);
    fatal?.(0);
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  const code = await exited;
  await node.stop().catch((err: unknown) => io.err(`raftlock serve: error during shutdown: ${(err as Error).message}\n`));
  return code;
}
