import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, parseIntFlag } from '../node/node-config.js';
import type { CliIo } from './cli-io.js';

export const CLUSTER_USAGE = `usage: raftlock cluster [--nodes 3] [--data-dir ./data] [--http-base-port 4001] [--peer-base-port 5001]
                        [--host 127.0.0.1] [--log-level info]
Starts a local cluster of \`raftlock serve\` processes in the foreground; Ctrl-C stops them all.`;

/** How long a member gets to shut down cleanly before it is killed. */
const STOP_GRACE_MS = 10_000;

/** clusterCommand runs N members on this machine and stops them together. */
export async function clusterCommand(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let nodes: number, httpBase: number, peerBase: number, dataDir: string, host: string, logLevel: string;
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        nodes: { type: 'string', default: '3' },
        'data-dir': { type: 'string', default: './data' },
        'http-base-port': { type: 'string', default: '4001' },
        'peer-base-port': { type: 'string', default: '5001' },
        host: { type: 'string', default: '127.0.0.1' },
        'log-level': { type: 'string', default: 'info' },
      },
    });
    nodes = parseIntFlag(values.nodes, '--nodes', 1, 9);
    httpBase = parseIntFlag(values['http-base-port'], '--http-base-port', 1, 65535 - nodes);
    peerBase = parseIntFlag(values['peer-base-port'], '--peer-base-port', 1, 65535 - nodes);
    dataDir = resolve(values['data-dir']);
    host = values.host;
    logLevel = values['log-level'];
  } catch (err) {
    if (err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`raftlock cluster: ${(err as Error).message}\n${CLUSTER_USAGE}\n`);
      return 2;
    }
    throw err;
  }
  const ids = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
  const peers = ids.map((id, i) => `${id}=${host}:${peerBase + i}`).join(',');
  const peerHttp = ids.map((id, i) => `${id}=http://${host}:${httpBase + i}`).join(',');
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const children = new Map<string, ChildProcess>();
  let stopping = false;
  const allExited: Promise<void>[] = [];
  for (const [i, id] of ids.entries()) {
    const dir = join(dataDir, id);
    mkdirSync(dir, { recursive: true });
    const child = spawn(
      process.execPath,
      [main, 'serve', '--id', id, '--data-dir', dir, '--http', `${host}:${httpBase + i}`, '--peers', peers, '--peer-http', peerHttp, '--log-level', logLevel],
      { stdio: ['ignore', 'inherit', 'inherit'], env },
    );
    children.set(id, child);
    allExited.push(
      new Promise((done) =>
        child.once('exit', (code, signal) => {
          children.delete(id);
          if (!stopping) io.err(`raftlock cluster: ${id} exited (${signal ?? code}); the others keep running\n`);
          done();
        }),
      ),
    );
  }
  io.out(`raftlock cluster: ${nodes} nodes, data in ${dataDir}\n`);
  for (const [i, id] of ids.entries()) io.out(`  ${id}  http://${host}:${httpBase + i}  (peer ${host}:${peerBase + i}, pid ${children.get(id)?.pid})\n`);
  io.out(`endpoints: ${ids.map((_, i) => `http://${host}:${httpBase + i}`).join(',')}\nCtrl-C stops the cluster.\n`);
  const stopAll = (): void => {
    if (stopping) return;
    stopping = true;
    io.err('raftlock cluster: stopping all nodes\n');
    for (const child of children.values()) child.kill('SIGTERM');
    setTimeout(() => {
      for (const child of children.values()) child.kill('SIGKILL');
    }, STOP_GRACE_MS).unref();
  };
  process.once('SIGINT', stopAll);
  process.once('SIGTERM', stopAll);
  await Promise.all(allExited);
  return 0;
}
