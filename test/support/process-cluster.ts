import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { freeLoopbackPort } from '../../src/verify/harness/loopback-port.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** MAIN is the built CLI; process tests run the compiled JavaScript, as production does. */
// From test/support (vitest runs the sources) or dist/test/support (compiled): either way the repo root is above.
const REPO_ROOT = resolve(import.meta.dirname, import.meta.dirname.includes('/dist/test/') ? '../../..' : '../..');
export const MAIN = resolve(REPO_ROOT, 'dist/src/cli/main.js');

/** freePort is a loopback port below the ephemeral range (see src/verify/harness/loopback-port.ts for why). */
export const freePort = freeLoopbackPort;

export interface NodeProcess {
  readonly id: string;
  readonly httpUrl: string;
  readonly httpPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  child: ChildProcess | null;
  /** stderr+stdout of every run of this node, appended. */
  readonly logFile: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null;
}

export interface ClusterOptions {
  nodes?: number;
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Peer addresses nodes dial, per node id (a proxy's address, for fault injection); default: the node's own peer port. */
  dialAddress?: (id: string, peerPort: number) => string;
  baseDir?: string;
}

/**
 * ProcessCluster runs real `raftlock serve` processes on 127.0.0.1 free
 * ports. Every process it starts is tracked by PID and killed in stop(),
 * which tests call in afterEach/afterAll so a failing test leaks nothing.
 */
export class ProcessCluster {
  readonly nodes: NodeProcess[] = [];
  readonly baseDir: string;
  private readonly logs = new Map<string, WriteStream>();

  private constructor(private readonly opts: ClusterOptions, baseDir: string) {
    this.baseDir = baseDir;
  }

  static async create(opts: ClusterOptions = {}): Promise<ProcessCluster> {
    const n = opts.nodes ?? 3;
    const base = opts.baseDir ?? mkdtempSync(join(tmpdir(), 'raftlock-test-'));
    const cluster = new ProcessCluster(opts, base);
    for (let i = 0; i < n; i++) {
      const id = `n${i + 1}`;
      const httpPort = await freePort();
      const peerPort = await freePort();
      const dataDir = join(base, id);
      mkdirSync(dataDir, { recursive: true });
      cluster.nodes.push({ id, httpPort, peerPort, httpUrl: `http://127.0.0.1:${httpPort}`, dataDir, child: null, logFile: join(base, `${id}.log`), exit: null });
    }
    return cluster;
  }

  endpoints(): string[] {
    return this.nodes.map((n) => n.httpUrl);
  }

  node(id: string): NodeProcess {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  argsFor(node: NodeProcess): string[] {
    const dial = this.opts.dialAddress ?? ((_id, port) => `127.0.0.1:${port}`);
    const peers = this.nodes.map((n) => `${n.id}=${dial(n.id, n.peerPort)}`).join(',');
    const peerHttp = this.nodes.map((n) => `${n.id}=${n.httpUrl}`).join(',');
    return [
      MAIN, 'serve', '--id', node.id, '--data-dir', node.dataDir, '--http', `127.0.0.1:${node.httpPort}`,
      '--peer', `127.0.0.1:${node.peerPort}`, '--peers', peers, '--peer-http', peerHttp, '--log-level', 'info',
      ...(this.opts.extraArgs ?? []),
    ];
  }

  start(id: string): NodeProcess {
    const node = this.node(id);
    if (node.child !== null) throw new Error(`${id} is already running`);
    let log = this.logs.get(id);
    if (log === undefined) {
      log = createWriteStream(node.logFile, { flags: 'a' });
      this.logs.set(id, log);
    }
    const child = spawn(process.execPath, this.argsFor(node), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.opts.env } });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    node.child = child;
    node.exit = new Promise((done) =>
      child.once('exit', (code, signal) => {
        if (node.child === child) node.child = null;
        done({ code, signal });
      }),
    );
    return node;
  }

  startAll(): void {
    for (const n of this.nodes) this.start(n.id);
  }

  /** kill sends a signal and, for SIGKILL/SIGTERM, waits for the exit. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.node(id);
    const child = node.child;
    if (child === null || child.pid === undefined) return;
    process.kill(child.pid, signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') await node.exit;
  }

  pid(id: string): number | undefined {
    return this.node(id).child?.pid;
  }

  /** stop kills every process this cluster started (by PID) and removes its data unless keepData. */
  async stop(keepData = false): Promise<void> {
    for (const node of this.nodes) {
      const child = node.child;
      if (child?.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGCONT');
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        await node.exit;
      }
    }
    for (const log of this.logs.values()) log.end();
    this.logs.clear();
    if (!keepData && this.opts.baseDir === undefined) rmSync(this.baseDir, { recursive: true, force: true });
  }
}

/** httpJson sends a JSON request and returns status and parsed body. */
export async function httpJson(url: string, method = 'GET', body?: unknown, timeoutMs = 10_000): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, {
    method,
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON; keep text
  }
  return { status: res.status, body: parsed, headers: res.headers };
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
        .map((n) => httpJson(`${n.httpUrl}/v1/status`, 'GET', undefined, 1000).then((r) => r.body as { id: string; role: string; leader: string | null }).catch(() => null)),
    );
    const live = views.filter((v): v is { id: string; role: string; leader: string | null } => v !== null);
    const leader = live.find((v) => v.role === 'leader');
    if (leader === undefined || exclude.includes(leader.id)) return undefined;
    return live.every((v) => v.leader === leader.id) && live.length > 0 ? leader.id : undefined;
  }, timeoutMs);
}
