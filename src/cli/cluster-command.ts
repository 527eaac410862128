import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CertError } from '../certs/cert-authority.js';
import { ensureClusterCertificates } from '../certs/cert-store.js';
import { NodeLauncher, type LaunchMember } from '../launch/node-launcher.js';
import { ConfigError, parseIntFlag } from '../node/node-config.js';
import type { CliIo } from './cli-io.js';

export const CLUSTER_USAGE = `usage: raftlock cluster [--nodes 3] [--data-dir ./data] [--http-base-port 4001] [--peer-base-port 5001]
                        [--host 127.0.0.1] [--log-level info]
Starts a local cluster of \`raftlock serve\` processes in the foreground; Ctrl-C stops them all.
Peer traffic uses mutual TLS: on first start it makes a CA and a certificate per member in DATA-DIR/certs,
and reuses them afterwards (see \`raftlock certs\` to make them for a real deployment).`;

/** The cluster id `raftlock serve` uses by default, which the members of a local cluster keep. */
const CLUSTER_ID = 'raftlock';

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
  const members: LaunchMember[] = Array.from({ length: nodes }, (_, i) => ({
    id: `n${i + 1}`,
    host,
    httpPort: httpBase + i,
    peerPort: peerBase + i,
    dataDir: join(dataDir, `n${i + 1}`),
  }));
  const certDir = join(dataDir, 'certs');
  try {
    const made = await ensureClusterCertificates(certDir, CLUSTER_ID, members.map((m) => m.id));
    io.out(`raftlock cluster: peer TLS with certificates in ${certDir}${made.length > 0 ? ` (made now for ${made.join(', ')})` : ''}\n`);
  } catch (err) {
    if (!(err instanceof CertError)) throw err;
    io.err(`raftlock cluster: cannot set up peer certificates in ${certDir}: ${err.message}\n`);
    return 2;
  }
  // No log files: the members write to this terminal.
  const launcher = new NodeLauncher({
    mainPath: fileURLToPath(new URL('./main.js', import.meta.url)),
    members,
    logLevel,
    env,
    security: { mode: 'tls', certDir },
    onExit: (node, exit) => {
      if (!exit.expected) io.err(`raftlock cluster: ${node.id} exited (${exit.signal ?? exit.code}); the others keep running\n`);
    },
  });
  launcher.startAll();
  io.out(`raftlock cluster: ${nodes} nodes, data in ${dataDir}\n`);
  for (const n of launcher.nodes) io.out(`  ${n.id}  ${n.httpUrl}  (peer ${n.host}:${n.peerPort}, pid ${n.child?.pid})\n`);
  io.out(`endpoints: ${launcher.nodes.map((n) => n.httpUrl).join(',')}\nCtrl-C stops the cluster.\n`);
  let stopping = false;
  const stopAll = (): void => {
    if (stopping) return;
    stopping = true;
    io.err('raftlock cluster: stopping all nodes\n');
    void launcher.terminateAll(STOP_GRACE_MS);
  };
  process.once('SIGINT', stopAll);
  process.once('SIGTERM', stopAll);
  await Promise.all(launcher.nodes.map((n) => n.exit));
  return 0;
}
