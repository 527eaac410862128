/**
 * The raftlock processes of a verify run: real `raftlock serve` children on
 * loopback, each dialing its peers through the LinkNetwork's proxies. Every child
 * is tracked by PID; kill -9, SIGSTOP and SIGCONT go to that PID only, and
 * stopAll() (also run from a process 'exit' hook) kills every one of them, so a
 * crashed or interrupted run leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { LinkNetwork } from './link-network.js';
import { freeLoopbackPort } from './loopback-port.js';

export { freeLoopbackPort };

/** NodeState is what the harness last did to a node. */
export type NodeState = 'stopped' | 'running' | 'paused';

/** ManagedNode is one member: its ports, files and current child. */
export interface ManagedNode {
  readonly id: string;
  readonly httpPort: number;
  readonly peerPort: number;
  readonly httpUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  child: ChildProcess | null;
  state: NodeState;
  exit: Promise<void> | null;
  starts: number;
}

/** NodeProcessesOptions configures the members. */
export interface NodeProcessesOptions {
  /** The raftlock CLI entry (dist/src/cli/main.js) to run. */
  readonly mainPath: string;
  readonly nodeCount: number;
  /** Where data directories and logs go. */
  readonly baseDir: string;
  readonly extraArgs?: readonly string[];
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** killAllSync is the last resort of the 'exit' hook: SIGCONT then SIGKILL every live child. */
function killAllSync(): void {
  for (const child of live) {
    if (child.pid === undefined) continue;
    try {
      process.kill(child.pid, 'SIGCONT');
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/** UnexpectedExit is a member that exited without the harness killing it: a crash, or outside interference. */
export interface UnexpectedExit {
  readonly id: string;
  /** Run-clock time, when a clock was set; else -1. */
  readonly atMs: number;
  readonly code: number | null;
  readonly signal: string | null;
}

/** NodeProcesses starts, kills, pauses and restarts the members. */
export class NodeProcesses {
  readonly nodes: ManagedNode[] = [];
  /** Members that exited on their own; a verify run counts each as a violation. */
  readonly unexpectedExits: UnexpectedExit[] = [];
  private network: LinkNetwork | null = null;
  private readonly logs = new Map<string, WriteStream>();
  /** Children the harness is killing: their exit is expected. */
  private readonly killing = new Set<ChildProcess>();
  private now: () => number = () => -1;
  /** Set by stopAll: nothing may start afterwards (a late nemesis step must not leak a process). */
  private closed = false;

  private constructor(private readonly opts: NodeProcessesOptions) {}

  /** create allocates ports and directories for `nodeCount` members (n1..nN); nothing runs yet. */
  static async create(opts: NodeProcessesOptions): Promise<NodeProcesses> {
    if (!(opts.nodeCount >= 1 && opts.nodeCount <= 9)) throw new Error(`node count ${opts.nodeCount} out of range`);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', killAllSync);
    }
    const np = new NodeProcesses(opts);
    for (let i = 0; i < opts.nodeCount; i++) {
      const id = `n${i + 1}`;
      const httpPort = await freeLoopbackPort();
      const peerPort = await freeLoopbackPort();
      const dataDir = join(opts.baseDir, 'data', id);
      mkdirSync(dataDir, { recursive: true });
      np.nodes.push({
        id,
        httpPort,
        peerPort,
        httpUrl: `http://127.0.0.1:${httpPort}`,
        dataDir,
        logFile: join(opts.baseDir, `${id}.log`),
        child: null,
        state: 'stopped',
        exit: null,
        starts: 0,
      });
    }
    return np;
  }

  /** setClock makes unexpected exits carry run-clock times. */
  setClock(now: () => number): void {
    this.now = now;
  }

  /** attach sets the network whose proxies the members dial; required before start. */
  attach(network: LinkNetwork): void {
    this.network = network;
  }

  node(id: string): ManagedNode {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  get ids(): string[] {
    return this.nodes.map((n) => n.id);
  }

  /** argsFor builds a member's command line: every peer and peer-HTTP address is a proxy of a directed link. */
  argsFor(node: ManagedNode): string[] {
    const net = this.network;
    if (net === null) throw new Error('NodeProcesses: attach a network before starting nodes');
    const peers = this.nodes.map((m) => `${m.id}=${net.peerAddress(node.id, m.id)}`).join(',');
    const peerHttp = this.nodes.map((m) => `${m.id}=${net.httpUrl(node.id, m.id)}`).join(',');
    return [
      this.opts.mainPath, 'serve', '--id', node.id, '--data-dir', node.dataDir, '--http', `127.0.0.1:${node.httpPort}`,
      '--peer', `127.0.0.1:${node.peerPort}`, '--peers', peers, '--peer-http', peerHttp, '--log-level', 'info',
      ...(this.opts.extraArgs ?? []),
    ];
  }

  /** start spawns a stopped member. */
  start(id: string): void {
    const node = this.node(id);
    if (this.closed) return;
    if (node.child !== null) throw new Error(`${id} is already running`);
    let log = this.logs.get(id);
    if (log === undefined) {
      log = createWriteStream(node.logFile, { flags: 'a' });
      this.logs.set(id, log);
    }
    node.starts++;
    log.write(`--- harness: start #${node.starts} of ${id} ---\n`);
    const child = spawn(process.execPath, this.argsFor(node), { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    node.child = child;
    node.state = 'running';
    node.exit = new Promise((done) =>
      child.once('exit', (code, signal) => {
        live.delete(child);
        if (!this.killing.delete(child)) this.unexpectedExits.push({ id, atMs: this.now(), code, signal });
        log!.write(`--- harness: ${id} exited (code ${String(code)}, signal ${String(signal)}) ---\n`);
        if (node.child === child) {
          node.child = null;
          node.state = 'stopped';
        }
        done();
      }),
    );
  }

  /** startAll spawns every stopped member. */
  startAll(): void {
    for (const n of this.nodes) if (n.child === null) this.start(n.id);
  }

  /** kill9 sends SIGKILL to the member's PID and waits for it to exit. */
  async kill9(id: string): Promise<void> {
    const node = this.node(id);
    const child = node.child;
    if (child === null || child.pid === undefined) return;
    this.killing.add(child);
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // raced with its own exit
    }
    await node.exit;
  }

  /** pause stops the member's PID (SIGSTOP); it keeps its sockets but runs no code. */
  pause(id: string): void {
    const node = this.node(id);
    if (node.child?.pid === undefined || node.state !== 'running') return;
    process.kill(node.child.pid, 'SIGSTOP');
    node.state = 'paused';
  }

  /** resume continues a paused member (SIGCONT). */
  resume(id: string): void {
    const node = this.node(id);
    if (node.child?.pid === undefined || node.state !== 'paused') return;
    process.kill(node.child.pid, 'SIGCONT');
    node.state = 'running';
  }

  /** resumeAll continues every paused member. */
  resumeAll(): void {
    for (const n of this.nodes) this.resume(n.id);
  }

  /** isUp says whether the member runs and is not paused. */
  isUp(id: string): boolean {
    const n = this.node(id);
    return n.child !== null && n.state === 'running';
  }

  /** pids lists the live children's PIDs (for the run log). */
  pids(): Record<string, number | null> {
    return Object.fromEntries(this.nodes.map((n) => [n.id, n.child?.pid ?? null]));
  }

  /** stopAll kills every member (SIGCONT first, so a paused one can die) and closes the logs. Idempotent. */
  async stopAll(): Promise<void> {
    this.closed = true;
    for (const node of this.nodes) {
      const child = node.child;
      if (child?.pid === undefined) continue;
      this.killing.add(child);
      try {
        process.kill(child.pid, 'SIGCONT');
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await node.exit;
    }
    await Promise.all(
      [...this.logs.values()].map((log) => new Promise<void>((done) => log.end(() => done()))),
    );
    this.logs.clear();
  }
}
