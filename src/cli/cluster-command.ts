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
Starts a local cluster of \`raftlock serve\` processes in the foreground; Ctrl-C (SIGINT), SIGTERM or SIGHUP stops
them all. Exits 0 once stopped so, 1 if a member exits before the cluster is ready (a port in use, a data dir
another process holds: the others are stopped too) or every member exits by itself, 2 on bad usage.
When no member's data dir holds a store, it bootstraps a new cluster with a random cluster id; otherwise it
restarts the cluster it finds (a member whose data dir lost its store refuses to start and says why).
Peer traffic uses mutual TLS: when it bootstraps it makes a CA and a certificate per member for the new cluster
in DATA-DIR/certs, and reuses them afterwards (see \`raftlock certs\` to make them for a real deployment).`;

/** How long a member gets to shut down cleanly before it is killed. */
const STOP_GRACE_MS = 10_000;
/** How long the members get to become ready (serving, a leader known); a member that exits before then fails the cluster. */
const READY_WAIT_MS = 60_000;
/** Signals that stop the cluster: a terminal's Ctrl-C, `kill`, npm passing on either, a closed terminal. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

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
  let phase: 'starting' | 'running' | 'stopping' = 'starting';
  const failedAtStart: string[] = [];
  const launcher = new NodeLauncher({
    mainPath: fileURLToPath(new URL('./main.js', import.meta.url)),
    members,
    logLevel,
    env,
    security: { mode: 'tls', certDir },
    ...(bootstrap !== null ? { bootstrap } : {}),
    onExit: (node, exit) => {
      if (exit.expected || phase === 'stopping') return;
      const how = exit.signal ?? `code ${String(exit.code)}`;
      if (phase === 'running') {
        io.err(`raftlock cluster: ${node.id} exited (${how}); the others keep running\n`);
        return;
      }
      // A member that cannot start (a port in use, a data dir another process holds) fails the whole cluster.
      failedAtStart.push(`${node.id} (http ${node.host}:${node.httpPort}, peer ${node.host}:${node.peerPort}, data ${node.dataDir}) exited (${how})`);
      stopAll();
    },
  });
  const stopAll = (): void => {
    if (phase === 'stopping') return;
    phase = 'stopping';
    io.err('raftlock cluster: stopping all nodes\n');
    void launcher.terminateAll(STOP_GRACE_MS);
  };
  let signalled = false;
  const onSignal = (): void => {
    signalled = true;
    stopAll();
  };
  for (const signal of STOP_SIGNALS) process.once(signal, onSignal);
  launcher.startAll();
  io.out(`raftlock cluster: ${nodes} nodes, data in ${dataDir} (this process: pid ${process.pid})\n`);
  for (const n of launcher.nodes) io.out(`  ${n.id}  ${n.httpUrl}  (peer ${n.host}:${n.peerPort}, pid ${n.child?.pid})\n`);
  io.out(`endpoints: ${launcher.nodes.map((n) => n.httpUrl).join(',')}\nCtrl-C stops the cluster.\n`);
  const notReady = await Promise.all(launcher.nodes.map((n) => launcher.waitReady(n.id, 'ready', READY_WAIT_MS).then(() => null, () => n.id)));
  if (phase === 'starting') {
    phase = 'running';
    const late = notReady.filter((id) => id !== null);
    if (late.length > 0) io.err(`raftlock cluster: ${late.join(', ')} not ready after ${READY_WAIT_MS} ms (no leader yet?); still running\n`);
  }
  await Promise.all(launcher.nodes.map((n) => n.exit));
  for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  if (failedAtStart.length > 0) {
    io.err(`raftlock cluster: failed to start: ${failedAtStart.join('; ')}. See the member's log above: is a port in use, or is the data dir another cluster's?\n`);
    return 1;
  }
  if (!signalled) {
    io.err('raftlock cluster: every member has exited\n');
    return 1;
  }
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
