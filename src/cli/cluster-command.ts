import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CertError } from '../certs/cert-authority.js';
import { clusterOfCertificates, ensureClusterCertificates } from '../certs/cert-store.js';
import { NodeLauncher, type LaunchMember } from '../launch/node-launcher.js';
import { ConfigError, parseIntFlag } from '../node/node-config.js';
import { verifyLevelDbDir } from '../storage/index.js';
import type { CliIo } from './cli-io.js';

export const CLUSTER_USAGE = `usage: raftlock cluster [--nodes 3] [--data-dir ./data] [--http-base-port 4001] [--peer-base-port 5001]
                        [--host 127.0.0.1] [--log-level info]
Starts a local cluster of \`raftlock serve\` processes in the foreground; Ctrl-C stops them all.
When no member's data dir holds a store, it bootstraps a new cluster with a random cluster id; otherwise it
restarts the cluster it finds (a member whose data dir lost its store refuses to start and says why).
Peer traffic uses mutual TLS: when it bootstraps it makes a CA and a certificate per member for the new cluster
in DATA-DIR/certs, and reuses them afterwards (see \`raftlock certs\` to make them for a real deployment).`;

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
  const bootstrap = await decideBootstrap(members, io);
  const certDir = join(dataDir, 'certs');
  try {
    const clusterId = bootstrap?.clusterId ?? clusterOfCertificates(certDir);
    // A new cluster gets a new CA: certificates of a cluster whose stores are gone must not vouch for this one.
    if (bootstrap !== null) rmSync(certDir, { recursive: true, force: true });
    const made = await ensureClusterCertificates(certDir, clusterId, members.map((m) => m.id));
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
    ...(bootstrap !== null ? { bootstrap } : {}),
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

/**
 * decideBootstrap: a new cluster (a random id, `new` on every first start) when no member's data dir holds a store;
 * a restart otherwise. A member whose store is gone while others have theirs is not bootstrapped again: it would
 * come back with no memory of its votes (issue 13); it refuses to start and says what to do.
 */
async function decideBootstrap(members: readonly LaunchMember[], io: CliIo): Promise<{ clusterId: string } | null> {
  const found = await Promise.all(members.map((m) => holdsStore(m.dataDir)));
  if (found.every((f) => !f)) {
    const clusterId = randomUUID();
    io.out(`raftlock cluster: no stores found; bootstrapping a new cluster ${clusterId}\n`);
    return { clusterId };
  }
  const missing = members.filter((_, i) => !found[i]).map((m) => m.id);
  if (missing.length > 0) {
    const lost = missing.length === 1 ? 'has lost its store while the others kept theirs; it refuses' : 'have lost their stores while the others kept theirs; they refuse';
    io.err(`raftlock cluster: ${missing.join(', ')} ${lost} to start (see "Replace a wiped machine" in the README)\n`);
  }
  return null;
}

/** holdsStore says whether a data dir holds a LevelDB store; a damaged one counts (its member refuses to start and says why). */
async function holdsStore(dir: string): Promise<boolean> {
  try {
    return (await verifyLevelDbDir(dir)).exists;
  } catch {
    return true;
  }
}
