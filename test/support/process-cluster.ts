import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CommandWrap } from '../../src/launch/command-wrap.js';
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
  private readonly launcher: NodeLauncher;

  private constructor(private readonly opts: ClusterOptions, baseDir: string, launcher: NodeLauncher) {
    this.baseDir = baseDir;
    this.launcher = launcher;
  }

  static async create(opts: ClusterOptions = {}): Promise<ProcessCluster> {
    const base = opts.baseDir ?? mkdtempSync(join(tmpdir(), 'raftlock-test-'));
    const members = await loopbackMembers(opts.nodes ?? 3, (id) => ({ dataDir: join(base, id), logFile: join(base, `${id}.log`) }));
    const dial = opts.dialAddress;
    const launcher = new NodeLauncher({
      mainPath: opts.mainPath ?? MAIN,
      members,
      ...(opts.nodeArgs !== undefined ? { nodeArgs: opts.nodeArgs } : {}),
      ...(opts.extraArgs !== undefined ? { extraArgs: opts.extraArgs } : {}),
      env: { ...process.env, ...opts.env },
      ...(dial !== undefined ? { peerAddress: (_from: string, to: ServeMember) => dial(to.id, to.peerPort) } : {}),
      ...(opts.wrap !== undefined ? { wrap: opts.wrap } : {}),
      ...(opts.httpsCa !== undefined ? { https: { ca: opts.httpsCa } } : {}),
    });
    return new ProcessCluster(opts, base, launcher);
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

  /** argsFor is the node's command line after `node`: the CLI entry, `serve`, its flags. */
  argsFor(node: NodeProcess): string[] {
    return this.launcher.commandLine(node.id);
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

/** findLeader returns the id of the node every reachable node agrees leads, once they do. */
export async function waitForLeader(cluster: ProcessCluster, timeoutMs = 20_000, exclude: string[] = []): Promise<string> {
  return waitFor('a leader', async () => {
    const views = await Promise.all(
      cluster.nodes
        .filter((n) => n.child !== null && !exclude.includes(n.id))
        .map((n) => httpJson(`${n.httpUrl}/v1/status`, 'GET', undefined, 1000, cluster.access).then((r) => r.body as { id: string; role: string; leader: string | null }).catch(() => null)),
    );
    const live = views.filter((v): v is { id: string; role: string; leader: string | null } => v !== null);
    const leader = live.find((v) => v.role === 'leader');
    if (leader === undefined || exclude.includes(leader.id)) return undefined;
    return live.every((v) => v.leader === leader.id) && live.length > 0 ? leader.id : undefined;
  }, timeoutMs);
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
