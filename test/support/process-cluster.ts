import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureClusterCertificates } from '../../src/certs/cert-store.js';
import type { CommandWrap } from '../../src/launch/command-wrap.js';
import type { LaunchSecurity } from '../../src/launch/launch-security.js';
import { freeLoopbackPort, loopbackMembers } from '../../src/launch/loopback-port.js';
import { NodeLauncher, type LaunchedNode, type StartOptions } from '../../src/launch/node-launcher.js';
import type { ServeMember } from '../../src/launch/serve-args.js';

/** MAIN is the built CLI; process tests run the compiled JavaScript, as production does. */
// From test/support (vitest runs the sources) or dist/test/support (compiled): either way the repo root is above.
const REPO_ROOT = resolve(import.meta.dirname, import.meta.dirname.includes('/dist/test/') ? '../../..' : '../..');
export const MAIN = resolve(REPO_ROOT, 'dist/src/cli/main.js');

/** freePort is a loopback port below the ephemeral range (see src/launch/loopback-port.ts for why). */
export const freePort = freeLoopbackPort;

/** NodeProcess is one member of a ProcessCluster; its output goes to `logFile`, appended over all its runs. */
export type NodeProcess = LaunchedNode & { readonly logFile: string };

export interface ClusterOptions {
  nodes?: number;
  /** The last `joining` of the nodes join the running cluster (LaunchMember.joins) instead of founding it. */
  joining?: number;
  extraArgs?: string[];
  /** Added to this process's environment for every node. */
  env?: NodeJS.ProcessEnv;
  /** Peer addresses nodes dial, per node id (a proxy's address, for fault injection); default: the node's own peer port. */
  dialAddress?: (id: string, peerPort: number) => string;
  baseDir?: string;
  /** The CLI entry to run; default MAIN. */
  mainPath?: string;
  /** Node's own flags before the CLI entry (--cpu-prof). */
  nodeArgs?: string[];
  /** Runs every start of node `id` that names no wrap of its own under this (faketime, for clock skew). */
  wrap?: (id: string) => CommandWrap | undefined;
  /**
   * Peer security: 'tls' makes a CA and member certificates in baseDir/certs
   * (as `raftlock cluster` does); default the launcher's, a fresh random secret.
   */
  security?: LaunchSecurity | 'tls';
  /**
   * Whether the members' first starts bootstrap a new cluster (`--initial-cluster-state new` with a random cluster
   * id). Default true; false when the data dirs are seeded beforehand (a restore) or must stay empty.
   */
  bootstrap?: boolean;
  /** The nodes serve HTTPS under a certificate signed by this CA (PEM); give --http-cert and --http-key in extraArgs. */
  httpsCa?: string;
  /** The token waitForLeader and the other helpers read status with, for a cluster with authentication on. */
  token?: string;
}

/** RequestAccess is what a helper request needs to reach a secured cluster: a bearer token, a CA for HTTPS. */
export interface RequestAccess {
  readonly token?: string;
  readonly ca?: string;
}

/**
 * ProcessCluster runs real `raftlock serve` processes on 127.0.0.1 free
 * ports, with src/launch's NodeLauncher. Every process it starts is tracked
 * by PID and killed in stop(), which tests call in afterEach/afterAll so a
 * failing test leaks nothing.
 */
export class ProcessCluster {
  readonly baseDir: string;
  /** The cluster id the members' first starts bootstrap with (null when the cluster does not bootstrap). */
  readonly clusterId: string | null;
  private readonly launcher: NodeLauncher;

  private constructor(private readonly opts: ClusterOptions, baseDir: string, launcher: NodeLauncher, clusterId: string | null) {
    this.baseDir = baseDir;
    this.launcher = launcher;
    this.clusterId = clusterId;
  }

  static async create(opts: ClusterOptions = {}): Promise<ProcessCluster> {
    const base = opts.baseDir ?? mkdtempSync(join(tmpdir(), 'raftlock-test-'));
    const count = opts.nodes ?? 3;
    const founders = count - (opts.joining ?? 0);
    const members = (await loopbackMembers(count, (id) => ({ dataDir: join(base, id), logFile: join(base, `${id}.log`) }))).map((m, i) => (i < founders ? m : { ...m, joins: true }));
    const dial = opts.dialAddress;
    const clusterId = opts.bootstrap === false ? null : randomUUID();
    const security = opts.security === 'tls' ? ({ mode: 'tls', certDir: join(base, 'certs') } as const) : opts.security;
    if (security?.mode === 'tls') {
      if (clusterId === null) throw new Error("ProcessCluster: security 'tls' makes certificates for a new cluster; it needs bootstrap");
      await ensureClusterCertificates(security.certDir, clusterId, members.map((m) => m.id));
    }
    const launcher = new NodeLauncher({
      mainPath: opts.mainPath ?? MAIN,
      members,
      ...(opts.nodeArgs !== undefined ? { nodeArgs: opts.nodeArgs } : {}),
      ...(opts.extraArgs !== undefined ? { extraArgs: opts.extraArgs } : {}),
      env: { ...process.env, ...opts.env },
      ...(dial !== undefined ? { peerAddress: (_from: string, to: ServeMember) => dial(to.id, to.peerPort) } : {}),
      ...(opts.wrap !== undefined ? { wrap: opts.wrap } : {}),
      ...(security !== undefined ? { security } : {}),
      ...(clusterId !== null ? { bootstrap: { clusterId } } : {}),
      ...(opts.httpsCa !== undefined ? { https: { ca: opts.httpsCa } } : {}),
    });
    return new ProcessCluster(opts, base, launcher, clusterId);
  }

  /** access is how the helpers reach this cluster's HTTP API (its CA and token, if any). */
  get access(): RequestAccess {
    return { ...(this.opts.token !== undefined ? { token: this.opts.token } : {}), ...(this.opts.httpsCa !== undefined ? { ca: this.opts.httpsCa } : {}) };
  }

  /** nodes are the members in id order, with their current processes. */
  get nodes(): NodeProcess[] {
    return this.launcher.nodes as NodeProcess[];
  }

  endpoints(): string[] {
    return this.nodes.map((n) => n.httpUrl);
  }

  node(id: string): NodeProcess {
    return this.launcher.node(id) as NodeProcess;
  }

  /** argsFor is the node's command line for its next start after `node`: the CLI entry, `serve`, its flags. */
  argsFor(node: NodeProcess): string[] {
    return this.launcher.commandLine(node.id);
  }

  /** serveEnv is the environment nodes start with (the peer secret, in the default mode). */
  serveEnv(): NodeJS.ProcessEnv {
    return this.launcher.serveEnv();
  }

  /** security is how the nodes secure peer traffic. */
  get security(): LaunchSecurity {
    return this.launcher.security;
  }

  /** start spawns a stopped node, under `options.wrap` if given. */
  start(id: string, options: StartOptions = {}): NodeProcess {
    const node = this.launcher.start(id, options);
    if (node === null) throw new Error(`cannot start ${id}: the cluster is stopped`);
    return node as NodeProcess;
  }

  startAll(): void {
    for (const n of this.nodes) this.start(n.id);
  }

  /** kill sends a signal and, for SIGKILL/SIGTERM/SIGINT, waits for the exit; SIGSTOP pauses and SIGCONT resumes. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (signal === 'SIGSTOP') this.launcher.pause(id);
    else if (signal === 'SIGCONT') this.launcher.resume(id);
    else if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') await this.launcher.kill(id, signal);
    else throw new Error(`ProcessCluster.kill: unsupported signal ${signal}`);
  }

  pid(id: string): number | undefined {
    return this.node(id).child?.pid;
  }

  /** stop kills every process this cluster started (by PID) and removes its data unless keepData. */
  async stop(keepData = false): Promise<void> {
    await this.launcher.stopAll();
    if (!keepData && this.opts.baseDir === undefined) rmSync(this.baseDir, { recursive: true, force: true });
  }
}

/** httpJson sends a JSON request and returns status and parsed body; `access` adds a bearer token and a CA for HTTPS. */
export async function httpJson(url: string, method = 'GET', body?: unknown, timeoutMs = 10_000, access: RequestAccess = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = {
    ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...(access.token !== undefined ? { authorization: `Bearer ${access.token}` } : {}),
  };
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  // fetch cannot be given a CA; HTTPS under a test CA goes through node:https.
  const res = access.ca !== undefined && url.startsWith('https:')
    ? await httpsText(url, method, headers, payload, timeoutMs, access.ca)
    : await fetch(url, { method, headers, ...(payload !== undefined ? { body: payload } : {}), signal: AbortSignal.timeout(timeoutMs) }).then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() }));
  const text = res.text;
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON; keep text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

function httpsText(url: string, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number, ca: string): Promise<{ status: number; headers: Headers; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, headers, ca, agent: false, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
        resolve({ status: res.statusCode ?? 0, headers: h, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** waitFor polls `probe` until it returns a value (not undefined), bounded by timeoutMs. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr !== null ? ` (last error: ${(lastErr as Error).message})` : ''}`);
}

/**
 * waitForLeader returns the id of the leader once every running member (not paused, not in `exclude`) answers and
 * names it. Every one, not every reachable one: a member whose HTTP port is not up yet (a slow start on a loaded
 * machine) used to be skipped, and a test then picked it as "a follower" and got ECONNREFUSED.
 */
export async function waitForLeader(cluster: ProcessCluster, timeoutMs = 20_000, exclude: string[] = []): Promise<string> {
  return waitFor('a leader', async () => {
    const running = cluster.nodes.filter((n) => n.child !== null && n.state === 'running' && !exclude.includes(n.id));
    const views = await Promise.all(
      running.map((n) => httpJson(`${n.httpUrl}/v1/status`, 'GET', undefined, 1000, cluster.access).then((r) => r.body as { id: string; role: string; leader: string | null }).catch(() => null)),
    );
    if (views.length === 0 || views.some((v) => v === null)) return undefined;
    const live = views as { id: string; role: string; leader: string | null }[];
    const leader = live.find((v) => v.role === 'leader');
    if (leader === undefined) return undefined;
    return live.every((v) => v.leader === leader.id) ? leader.id : undefined;
  }, timeoutMs);
}

/** runCli runs the built CLI with `args` to its exit, bounded by a timeout (then SIGKILL), and returns its exit code and output. */
export async function runCli(args: string[], timeoutMs = 20_000, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout.on('data', (d) => (output += String(d)));
  child.stderr.on('data', (d) => (output += String(d)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
  clearTimeout(timer);
  return { code, output };
}

/** metricValue reads one series of a node's /metrics, e.g. `raftlock_elections_total{cause="timeout"}`; NaN when absent. */
export async function metricValue(url: string, series: string): Promise<number> {
  const text = (await httpJson(`${url}/metrics`)).body as string;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

/** acquireLock asks `url` for lock `name` for `owner` with a long lease (10 minutes by default); returns the raw answer. */
export function acquireLock(url: string, name: string, owner: string, ttlMs = 600_000): Promise<{ status: number; body: any }> {
  return httpJson(`${url}/v1/locks/${encodeURIComponent(name)}/acquire`, 'POST', { owner, ttlMs, requestId: randomUUID() });
}

/**
 * startedLeaderAndFollower starts every node and waits until every one of
 * them serves HTTP and follows one leader (waitForLeader alone may answer
 * while a slow node's HTTP listener is not up yet, since it counts only the
 * nodes that answer); returns the leader's URL and one follower's. A node
 * that exited meanwhile fails it, with the end of that node's log.
 */
export async function startedLeaderAndFollower(cluster: ProcessCluster): Promise<{ leaderId: string; leaderUrl: string; follower: NodeProcess; followerUrl: string }> {
  cluster.startAll();
  const leaderId = await waitForLeader(cluster);
  await waitFor('every node to serve and follow the leader', async () => {
    const dead = cluster.nodes.find((n) => n.child === null);
    if (dead !== undefined) throw new Error(`${dead.id} exited at start: ${readFileSync(dead.logFile, 'utf8').slice(-2_000)}`);
    const ready = await Promise.all(cluster.nodes.map((n) => httpJson(`${n.httpUrl}/readyz`, 'GET', undefined, 1_000, cluster.access).then((r) => r.status === 200 && r.body.leader === leaderId, () => false)));
    return ready.every(Boolean) ? true : undefined;
  });
  const follower = cluster.nodes.find((n) => n.id !== leaderId)!;
  return { leaderId, leaderUrl: cluster.node(leaderId).httpUrl, follower, followerUrl: follower.httpUrl };
}
