import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProcessCluster, freePort, httpJson, waitFor, waitForLeader, type ClusterOptions } from '../../test/support/process-cluster.js';
import type { HttpAccess, LoadTarget, SystemName } from './load-target.js';
import { track, onCleanup } from './process-registry.js';
import { RedisConnection } from './resp.js';

/** RAFTLOCK_MAIN is the built CLI, found from this file whether it runs from dist/bench/lib or (vitest) bench/lib. */
export const RAFTLOCK_MAIN = resolve(import.meta.dirname, import.meta.dirname.includes(`${join('dist', 'bench')}`) ? '../../src/cli/main.js' : '../../dist/src/cli/main.js');

/** RunningSystem is one started system under test. */
export interface RunningSystem {
  readonly name: SystemName;
  readonly target: LoadTarget;
  /** PIDs of the server processes (the load process's CPU is measured apart). */
  pids(): number[];
  stop(): Promise<void>;
}

/** PEER_SECURITY_MODES are what `--peer-security` of the bench scripts takes. */
export const PEER_SECURITY_MODES = ['tls', 'secret', 'insecure'] as const;

/** PeerSecurityMode is one of them: peer TLS with fresh certificates, a fresh random secret (the launcher's default), or none. */
export type PeerSecurityMode = (typeof PEER_SECURITY_MODES)[number];

/** parsePeerSecurityMode checks a `--peer-security` value. */
export function parsePeerSecurityMode(value: string): PeerSecurityMode {
  if (!(PEER_SECURITY_MODES as readonly string[]).includes(value)) throw new Error(`--peer-security: one of ${PEER_SECURITY_MODES.join(', ')}, got "${value}"`);
  return value as PeerSecurityMode;
}

/**
 * startRaftlockCluster starts a fresh cluster of `nodes` (fresh data dirs) with
 * ProcessCluster, running RAFTLOCK_MAIN; nodeArgs are node's own flags
 * (--cpu-prof, which NODE_OPTIONS does not allow). `access` says how to
 * reach members started with HTTPS or authentication (their flags come in
 * extraArgs).
 */
export async function startRaftlockCluster(
  extraArgs: string[] = [],
  nodeArgs: string[] = [],
  access: HttpAccess = {},
  nodes = 3,
  peerSecurity: PeerSecurityMode = 'secret',
): Promise<ProcessCluster> {
  const security: ClusterOptions['security'] = peerSecurity === 'secret' ? undefined : peerSecurity === 'tls' ? 'tls' : { mode: 'insecure' };
  const cluster = await ProcessCluster.create({
    nodes,
    extraArgs,
    nodeArgs,
    mainPath: RAFTLOCK_MAIN,
    ...(security !== undefined ? { security } : {}),
    ...(access.ca !== undefined ? { httpsCa: access.ca } : {}),
    ...(access.token !== undefined ? { token: access.token } : {}),
  });
  const unregister = onCleanup(() => cluster.stop());
  const stop = cluster.stop.bind(cluster);
  cluster.stop = async (keepData?: boolean) => {
    unregister();
    await stop(keepData);
  };
  cluster.startAll();
  return cluster;
}

/** raftlockLeader waits for an agreed leader and returns its node. */
export async function raftlockLeader(cluster: ProcessCluster, timeoutMs = 20_000, exclude: string[] = []): Promise<ReturnType<ProcessCluster['node']>> {
  const id = await waitForLeader(cluster, timeoutMs, exclude);
  return cluster.node(id);
}

async function startRaftlock(name: 'raftlock' | 'raftlock-lib', client: 'raw' | 'lib'): Promise<RunningSystem> {
  const cluster = await startRaftlockCluster(['--log-level', 'warn']);
  try {
    const leader = await raftlockLeader(cluster);
    // The new leader's first entry (extendLeases) must commit before the first acquire is timed.
    await waitFor('the leader to apply its first entry', async () => {
      const s = await httpJson(`${leader.httpUrl}/v1/status`);
      return s.body.appliedIndex >= 1 && s.body.role === 'leader' ? true : undefined;
    });
    return {
      name,
      target: { protocol: 'raftlock', host: '127.0.0.1', port: leader.httpPort, client },
      pids: () => cluster.nodes.map((n) => n.child?.pid).filter((p): p is number => p !== undefined),
      stop: () => cluster.stop(),
    };
  } catch (err) {
    await cluster.stop(true);
    throw new Error(`raftlock cluster did not start (logs in ${cluster.baseDir}): ${(err as Error).message}`);
  }
}

/** ensureTools installs etcd and Redis from Debian's packages when they are absent (as root); returns what is missing after. */
export function ensureTools(log: (line: string) => void, want: { etcd: boolean; redis: boolean }): { etcd: boolean; redis: boolean } {
  const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
  const missing: string[] = [];
  if (want.etcd && !has('etcd')) missing.push('etcd-server');
  if (want.redis && !has('redis-server')) missing.push('redis-server');
  if (missing.length > 0) {
    if (process.getuid?.() === 0) {
      log(`installing ${missing.join(' ')} from Debian's packages...`);
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const update = spawnSync('apt-get', ['update'], { stdio: 'ignore', env, timeout: 300_000 });
      if (update.status === 0) spawnSync('apt-get', ['install', '-y', ...missing], { stdio: 'ignore', env, timeout: 600_000 });
    } else {
      log(`missing ${missing.join(' ')} and not root: install them with apt-get to include them`);
    }
  }
  return { etcd: has('etcd'), redis: has('redis-server') };
}

/** toolVersion returns the first line of `bin --version`, or 'unknown'. */
export function toolVersion(bin: string): string {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 }).split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

async function startEtcd(): Promise<RunningSystem> {
  const base = mkdtempSync(join(tmpdir(), 'raftlock-bench-etcd-'));
  const members: { name: string; clientPort: number; peerPort: number }[] = [];
  for (let i = 1; i <= 3; i++) members.push({ name: `e${i}`, clientPort: await freePort(), peerPort: await freePort() });
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
  const token = `bench-${process.pid}-${Date.now()}`;
  const children = members.map((m) => {
    const dataDir = join(base, m.name);
    mkdirSync(dataDir, { recursive: true });
    const log = createWriteStream(join(base, `${m.name}.log`));
    const child = spawn(
      'etcd',
      [
        '--name', m.name, '--data-dir', dataDir,
        '--listen-client-urls', `http://127.0.0.1:${m.clientPort}`, '--advertise-client-urls', `http://127.0.0.1:${m.clientPort}`,
        '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
        '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', token,
        '--logger', 'zap', '--log-level', 'error',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    track(child);
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    return child;
  });
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return;
        const exited = new Promise((r) => c.once('exit', r));
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          return;
        }
        await exited;
      }),
    );
    rmSync(base, { recursive: true, force: true });
  };
  const unregister = onCleanup(stop);
  try {
    // The leader is the member whose own id equals the leader id it reports (maintenance/status).
    const leaderPort = await waitFor('an etcd leader', async () => {
      for (const m of members) {
        const s = await httpJson(`http://127.0.0.1:${m.clientPort}/v3/maintenance/status`, 'POST', {}, 1000).catch(() => null);
        const leader = s?.body?.leader;
        if (s?.status === 200 && leader !== undefined && leader !== '0' && leader === s.body.header?.member_id) return m.clientPort;
      }
      return undefined;
    }, 30_000, 100);
    // A first write proves the cluster commits.
    const put = await httpJson(`http://127.0.0.1:${leaderPort}/v3/kv/put`, 'POST', { key: Buffer.from('/bench/ready').toString('base64'), value: 'eQ==' });
    if (put.status !== 200) throw new Error(`etcd put answered ${put.status}: ${JSON.stringify(put.body)}`);
    return {
      name: 'etcd',
      target: { protocol: 'etcd', host: '127.0.0.1', port: leaderPort },
      pids: () => children.map((c) => c.pid).filter((p): p is number => p !== undefined),
      stop: async () => {
        unregister();
        await stop();
      },
    };
  } catch (err) {
    unregister();
    await stop();
    throw new Error(`etcd did not start: ${(err as Error).message}`);
  }
}

async function startRedis(name: 'redis-aof' | 'redis-nopersist'): Promise<RunningSystem> {
  const dir = mkdtempSync(join(tmpdir(), 'raftlock-bench-redis-'));
  const port = await freePort();
  const persistence = name === 'redis-aof' ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const log = createWriteStream(join(dir, 'redis.log'));
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise((r) => child.once('exit', r));
      try {
        process.kill(child.pid, 'SIGKILL');
        await exited;
      } catch {
        // gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const unregister = onCleanup(stop);
  try {
    await waitFor('redis to answer PING', async () => {
      const conn = await RedisConnection.open('127.0.0.1', port);
      try {
        return (await conn.call(['PING'])) === 'PONG' ? true : undefined;
      } finally {
        conn.close();
      }
    }, 10_000, 50);
    return {
      name,
      target: { protocol: 'redis', host: '127.0.0.1', port },
      pids: () => (child.pid === undefined ? [] : [child.pid]),
      stop: async () => {
        unregister();
        await stop();
      },
    };
  } catch (err) {
    unregister();
    await stop();
    throw new Error(`redis did not start: ${(err as Error).message}`);
  }
}

/** startSystem starts a fresh instance of `name` (fresh data directories). */
export async function startSystem(name: SystemName, raftlockClient: 'raw' | 'lib' = 'raw'): Promise<RunningSystem> {
  switch (name) {
    case 'raftlock':
      return startRaftlock(name, raftlockClient);
    case 'raftlock-lib':
      return startRaftlock(name, 'lib');
    case 'etcd':
      return startEtcd();
    case 'redis-aof':
    case 'redis-nopersist':
      return startRedis(name);
  }
}

/** settle gives freshly started servers a moment (JIT, connection setup) before the load starts. */
export async function settle(ms = 200): Promise<void> {
  await sleep(ms);
}
