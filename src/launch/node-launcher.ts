/**
 * The one launcher of local `raftlock serve` processes, shared by the tests
 * (test/support/process-cluster.ts), the verify harness
 * (src/verify/harness/node-processes.ts) and `raftlock cluster`. It builds
 * each member's command line, spawns it (optionally under a wrapper such as
 * faketime), tracks it by PID, waits for it, restarts, signals and stops it.
 *
 * Every child is tracked by PID; every signal goes to that PID (or, wrapped,
 * to its process group: see process-group.ts), never to a process found by
 * name. stopAll() kills them all, and a process 'exit' hook kills whatever is
 * still alive when this process ends, so a failed or interrupted run leaves
 * nothing behind.
 *
 * Members secure their peer traffic as `security` says (launch-security.ts):
 * by default with a fresh random secret, so nothing it starts is open; and
 * their HTTP API as `api` says (default plain HTTP, no authentication).
 *
 * It uses no server, CLI or client code: node built-ins, the serve flags
 * (src/node/node-config.ts) and the certificate layout (src/certs/cert-layout.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { describeWrap, wrapInvocation, type CommandWrap } from './command-wrap.js';
import { caFiles } from '../certs/cert-layout.js';
import { apiSecurityArgs, generatedSecret, securityArgs, securityEnv, type LaunchApiSecurity, type LaunchSecurity } from './launch-security.js';
import { sendSignal, waitGroupGone, type Target } from './process-group.js';
import { waitUntil, type Readiness, type ReadinessTls } from './readiness.js';
import { directPeerAddress, httpUrlOf, serveArgs, type ServeMember } from './serve-args.js';

/** NodeState is what the launcher last did to a node. */
export type NodeState = 'stopped' | 'running' | 'paused';

/** LaunchMember is one member to launch: its addresses, data directory and log. */
export interface LaunchMember extends ServeMember {
  /** Where the node's stdout and stderr go, appended over all its starts; without one they go to this process's. */
  readonly logFile?: string;
  /**
   * A member that joins the running cluster instead of founding it: not in the founders' `--peers` at bootstrap,
   * and its first start passes `--initial-cluster-state existing` with the cluster id (it must first be added as a
   * learner: `raftlock member add`).
   */
  readonly joins?: boolean;
}

/** NodeExit is how a node's process ended; `expected` when the launcher had signalled it to end. */
export interface NodeExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly expected: boolean;
}

/** LaunchedNode is one member and its current process; the launcher updates it, callers read it. */
export interface LaunchedNode extends LaunchMember {
  readonly httpUrl: string;
  /** The running process (the wrapper's, when wrapped), or null. */
  child: ChildProcess | null;
  state: NodeState;
  /** Settles when the current (or last) process has exited; null before the first start. */
  exit: Promise<NodeExit> | null;
  /** How many times it was started. */
  starts: number;
}

/** NodeLauncherOptions configure the members and how they run. */
export interface NodeLauncherOptions {
  /** The raftlock CLI entry (dist/src/cli/main.js) to run. */
  readonly mainPath: string;
  readonly members: readonly LaunchMember[];
  /** Node's own flags, before mainPath (e.g. --cpu-prof, which NODE_OPTIONS does not allow). */
  readonly nodeArgs?: readonly string[];
  /** Default `info`. */
  readonly logLevel?: string;
  /** Serve flags appended to every member's (they override the launcher's own). */
  readonly extraArgs?: readonly string[];
  /**
   * Bootstrap a new cluster: every member's first start by this launcher passes `--initial-cluster-state new
   * --cluster-id ID` (the same id for all), and later starts pass neither (a restart finds its store). Without it
   * every start is a restart: members whose data dir holds no store refuse to start.
   */
  readonly bootstrap?: { readonly clusterId: string };
  /** Every node's environment; default this process's (without its peer-security variables: see `security`). */
  readonly env?: NodeJS.ProcessEnv;
  /** How members secure peer traffic; default a fresh random secret (launch-security.ts). */
  readonly security?: LaunchSecurity;
  /** The peer address `from` dials to reach `to`; default `to`'s own listener. */
  readonly peerAddress?: (from: string, to: ServeMember) => string;
  /** The HTTP URL `from` forwards to `to` on; default `to`'s own listener. */
  readonly peerHttpUrl?: (from: string, to: ServeMember) => string;
  /** The wrap of node `id`'s starts that name none of their own; default none. */
  readonly wrap?: (id: string) => CommandWrap | undefined;
  /** Called once a node's process has exited (wrapped: once its whole process group has). */
  readonly onExit?: (node: LaunchedNode, exit: NodeExit) => void;
  /**
   * The members serve HTTPS (their --http-cert and --http-key come in
   * extraArgs) under a certificate signed by `ca`: their URLs are https and
   * readiness is checked over HTTPS.
   */
  readonly https?: ReadinessTls;
  /**
   * The HTTP API's security, per member (launch-security.ts): HTTPS under each
   * member's own certificate (then URLs are https and readiness is checked
   * against the CA in its certDir), bearer tokens. An alternative to `https`.
   */
  readonly api?: LaunchApiSecurity;
}

/** StartOptions shape one start of a node. */
export interface StartOptions {
  /**
   * Run this start under `wrap`; overrides the launcher's `wrap` for the node;
   * null runs it unwrapped. A wrapped node leads its own process group, so a
   * terminal's Ctrl-C reaches only this process, which must stop it
   * (stopAll, terminateAll; the 'exit' hook as a last resort).
   */
  readonly wrap?: CommandWrap | null;
  /** Environment added for this start (a wrap's own `env` is laid over it). */
  readonly env?: Readonly<Record<string, string>>;
}

/** TerminatingSignal is a signal kill() sends and then waits for the exit. */
export type TerminatingSignal = 'SIGKILL' | 'SIGTERM' | 'SIGINT';

/** How long to wait for a wrapped node to leave once its wrapper exited (a graceful shutdown may still run). */
const GROUP_EXIT_WAIT_MS = 15_000;

const live = new Set<Target>();
let exitHookInstalled = false;

/** killAllSync is the last resort of the 'exit' hook: SIGCONT then SIGKILL every live child. */
function killAllSync(): void {
  for (const target of live) {
    sendSignal(target, 'SIGCONT');
    sendSignal(target, 'SIGKILL');
  }
  live.clear();
}

/** writeNote marks a start or an exit in a node's log (unless the log is closed: a failed spawn may report late). */
function writeNote(log: WriteStream | null, note: string): void {
  if (log !== null && !log.writableEnded) log.write(`--- launcher: ${note} ---\n`);
}

/**
 * NodeLauncher runs a fixed set of members. Create it, start nodes, and call
 * stopAll() (or terminateAll()) when done, also on failure: after either,
 * start() does nothing, so a late step cannot leak a process.
 */
export class NodeLauncher {
  readonly nodes: LaunchedNode[];
  private readonly logs = new Map<string, WriteStream>();
  /** The process (group) to signal, per running child. */
  private readonly targets = new Map<ChildProcess, Target>();
  /** Children the launcher is ending: their exit is expected. */
  private readonly ending = new Set<ChildProcess>();
  private closed = false;
  /** Members whose next start joins the running cluster again (rejoinOnNextStart). */
  private readonly rejoining = new Set<string>();
  /** How the members secure peer traffic (the default's secret is drawn once, shared by all members). */
  readonly security: LaunchSecurity;
  /** How readiness probes reach the members over HTTPS (the CA that signs them), or undefined for plain HTTP. */
  private readonly readinessTls: ReadinessTls | undefined;

  /** The constructor creates every member's data directory; nothing runs yet. */
  constructor(private readonly opts: NodeLauncherOptions) {
    const ids = new Set(opts.members.map((m) => m.id));
    if (opts.members.length === 0 || ids.size !== opts.members.length) throw new Error('NodeLauncher: members need distinct ids, at least one');
    this.security = opts.security ?? generatedSecret();
    if (opts.https !== undefined && opts.api?.certDir !== undefined) throw new Error('NodeLauncher: give https or api.certDir, not both');
    this.readinessTls = opts.api?.certDir !== undefined ? { ca: readFileSync(caFiles(opts.api.certDir).cert) } : opts.https;
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', killAllSync);
    }
    this.nodes = opts.members.map((m) => {
      mkdirSync(m.dataDir, { recursive: true });
      return { ...m, httpUrl: httpUrlOf(m, this.scheme), child: null, state: 'stopped', exit: null, starts: 0 };
    });
  }

  /** scheme is how the members serve their API. */
  private get scheme(): 'http' | 'https' {
    return this.readinessTls === undefined ? 'http' : 'https';
  }

  /** ids lists the members' ids in order. */
  get ids(): string[] {
    return this.nodes.map((n) => n.id);
  }

  /** node is member `id`; throws for an unknown id. */
  node(id: string): LaunchedNode {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /**
   * commandLine is member `id`'s `raftlock serve` command line for its next start: the CLI entry, `serve`, then its
   * flags (with the bootstrap flags before its first start, when the launcher bootstraps a new cluster).
   */
  commandLine(id: string): string[] {
    const node = this.node(id);
    const rejoins = this.rejoining.has(id);
    const joins = node.joins === true || rejoins;
    const bootstrap = node.starts === 0 || rejoins ? this.opts.bootstrap : undefined;
    // A founder's bootstrap configuration is the founders; a joining member and every restart list everyone.
    const peers = bootstrap !== undefined && !joins ? this.nodes.filter((n) => n.joins !== true) : this.nodes;
    const args = serveArgs(node, peers, {
      peerAddress: this.opts.peerAddress ?? directPeerAddress,
      peerHttpUrl: this.opts.peerHttpUrl ?? ((_from, to) => httpUrlOf(to, this.scheme)),
      logLevel: this.opts.logLevel ?? 'info',
      securityArgs: [...securityArgs(id, this.security), ...(this.opts.api === undefined ? [] : apiSecurityArgs(id, this.opts.api))],
      ...(bootstrap !== undefined ? { bootstrapClusterId: bootstrap.clusterId, ...(joins ? { joins: true } : {}) } : {}),
      extraArgs: this.opts.extraArgs ?? [],
    });
    return [this.opts.mainPath, 'serve', ...args];
  }

  /**
   * rejoinOnNextStart makes the next start of stopped member `id` join the running cluster
   * (`--initial-cluster-state existing --cluster-id`), as a member whose data dir was wiped and that was added back
   * (`raftlock member add`) does; later starts carry neither flag. Needs `bootstrap` (the cluster id).
   */
  rejoinOnNextStart(id: string): void {
    const node = this.node(id);
    if (this.opts.bootstrap === undefined) throw new Error(`${id} cannot rejoin: the launcher knows no cluster id (no bootstrap option)`);
    if (node.child !== null) throw new Error(`${id} is running; stop it and wipe its data dir before it rejoins`);
    this.rejoining.add(id);
  }

  /** serveEnv is the environment every member starts with: the launcher's, with its peer security. */
  serveEnv(): NodeJS.ProcessEnv {
    return securityEnv(this.opts.env ?? process.env, this.security, this.opts.api);
  }

  /**
   * start spawns a stopped member, under this start's wrap, else the
   * launcher's wrap for it, else directly. Returns null once the launcher is
   * stopped; throws if the member is running.
   */
  start(id: string, options: StartOptions = {}): LaunchedNode | null {
    const node = this.node(id);
    if (this.closed) return null;
    if (node.child !== null) throw new Error(`${id} is already running`);
    const wrap = options.wrap === null ? undefined : (options.wrap ?? this.opts.wrap?.(id));
    const invocation = wrapInvocation(
      { command: process.execPath, args: [...(this.opts.nodeArgs ?? []), ...this.commandLine(id)], env: { ...this.serveEnv(), ...options.env } },
      wrap,
    );
    this.rejoining.delete(id);
    const log = this.logOf(node);
    node.starts++;
    writeNote(log, `start #${node.starts} of ${id}${wrap === undefined ? '' : ` under ${describeWrap(wrap)}`}`);
    // A wrapped command leads its own process group, so signals reach the node the wrapper forked.
    const child = spawn(invocation.command, invocation.args, { stdio: ['ignore', log === null ? 'inherit' : 'pipe', log === null ? 'inherit' : 'pipe'], env: invocation.env, detached: wrap !== undefined });
    if (log !== null) {
      child.stdout!.pipe(log, { end: false });
      child.stderr!.pipe(log, { end: false });
    }
    const target = child.pid === undefined ? null : { pid: child.pid, group: wrap !== undefined };
    if (target !== null) {
      live.add(target);
      this.targets.set(child, target);
    }
    node.child = child;
    node.state = 'running';
    node.exit = this.watchExit(node, child, target, log);
    return node;
  }

  /** startAll spawns every stopped member. */
  startAll(options: StartOptions = {}): void {
    for (const n of this.nodes) if (n.child === null) this.start(n.id, options);
  }

  /**
   * kill sends a terminating signal to the member's PID (or group) and waits
   * for it to exit; its exit counts as expected. A paused member is continued
   * after a SIGTERM or SIGINT, so it can act on it.
   */
  async kill(id: string, signal: TerminatingSignal = 'SIGKILL'): Promise<void> {
    const node = this.node(id);
    const target = this.targetOf(node);
    if (target === null) return;
    this.ending.add(node.child!);
    sendSignal(target, signal);
    if (node.state === 'paused' && signal !== 'SIGKILL') sendSignal(target, 'SIGCONT');
    await node.exit;
  }

  /** pause stops a running member (SIGSTOP): it keeps its sockets but runs no code. */
  pause(id: string): void {
    this.shift(id, 'running', 'SIGSTOP', 'paused');
  }

  /** resume continues a paused member (SIGCONT). */
  resume(id: string): void {
    this.shift(id, 'paused', 'SIGCONT', 'running');
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

  /** pids lists the running processes' PIDs (the wrappers', when wrapped). */
  pids(): Record<string, number | null> {
    return Object.fromEntries(this.nodes.map((n) => [n.id, n.child?.pid ?? null]));
  }

  /**
   * waitReady waits until the member's HTTP port accepts connections
   * (`listening`) or its /readyz answers 200 (`ready`: it knows a leader).
   * Throws if that takes over `timeoutMs` or the process exits first.
   */
  async waitReady(id: string, readiness: Readiness = 'ready', timeoutMs = 20_000): Promise<void> {
    const node = this.node(id);
    const child = node.child;
    if (child === null) throw new Error(`${id} is not running`);
    const ok = await waitUntil(node.host, node.httpPort, readiness, timeoutMs, () => node.child === child, this.readinessTls);
    if (!ok) {
      const why = node.child === child ? `not ${readiness} within ${timeoutMs} ms` : 'exited before it was';
      throw new Error(`${id} ${why}${node.logFile === undefined ? '' : `; see ${node.logFile}`}`);
    }
  }

  /**
   * terminateAll asks every member to shut down (SIGTERM), SIGKILLs those
   * still running after `graceMs`, and resolves once all have exited.
   */
  async terminateAll(graceMs: number): Promise<void> {
    this.closed = true;
    const running = this.nodes.filter((n) => this.targetOf(n) !== null);
    for (const n of running) {
      this.ending.add(n.child!);
      sendSignal(this.targetOf(n)!, 'SIGTERM');
    }
    const timer = setTimeout(() => {
      for (const n of this.nodes) {
        const target = this.targetOf(n);
        if (target !== null) sendSignal(target, 'SIGKILL');
      }
    }, graceMs);
    timer.unref();
    await Promise.all(running.map((n) => n.exit));
    clearTimeout(timer);
    await this.closeLogs();
  }

  /** stopAll kills every member (SIGCONT first, so a paused one can die) and closes the logs. Idempotent. */
  async stopAll(): Promise<void> {
    this.closed = true;
    for (const node of this.nodes) {
      const target = this.targetOf(node);
      if (target === null) continue;
      this.ending.add(node.child!);
      sendSignal(target, 'SIGCONT');
      sendSignal(target, 'SIGKILL');
      await node.exit;
    }
    await this.closeLogs();
  }

  /** shift signals a member that is in state `from` and puts it in state `to`; otherwise it does nothing. */
  private shift(id: string, from: NodeState, signal: 'SIGSTOP' | 'SIGCONT', to: NodeState): void {
    const node = this.node(id);
    const target = this.targetOf(node);
    if (target === null || node.state !== from) return;
    sendSignal(target, signal);
    node.state = to;
  }

  private targetOf(node: LaunchedNode): Target | null {
    return node.child === null ? null : (this.targets.get(node.child) ?? null);
  }

  /** logOf opens a member's log on its first start and keeps it open across restarts; null without a log file. */
  private logOf(node: LaunchedNode): WriteStream | null {
    if (node.logFile === undefined) return null;
    let log = this.logs.get(node.id);
    if (log === undefined) {
      mkdirSync(dirname(node.logFile), { recursive: true });
      log = createWriteStream(node.logFile, { flags: 'a' });
      this.logs.set(node.id, log);
    }
    return log;
  }

  /** watchExit settles when the child (wrapped: its whole group) is gone, and marks the member stopped. */
  private watchExit(node: LaunchedNode, child: ChildProcess, target: Target | null, log: WriteStream | null): Promise<NodeExit> {
    return new Promise((done) => {
      let seen = false;
      const finish = async (code: number | null, signal: NodeJS.Signals | null): Promise<void> => {
        if (seen) return;
        seen = true;
        if (target?.group === true) await waitGroupGone(target.pid, GROUP_EXIT_WAIT_MS);
        if (target !== null) live.delete(target);
        this.targets.delete(child);
        const exit: NodeExit = { code, signal, expected: this.ending.delete(child) };
        writeNote(log, `${node.id} exited (code ${String(code)}, signal ${String(signal)})`);
        if (node.child === child) {
          node.child = null;
          node.state = 'stopped';
        }
        this.opts.onExit?.(node, exit);
        done(exit);
      };
      child.once('exit', (code, signal) => void finish(code, signal));
      child.on('error', (err) => {
        writeNote(log, `${node.id}: ${err.message}`);
        // A spawn that failed (a wrapper not installed) never emits 'exit'.
        if (child.pid === undefined) void finish(null, null);
      });
    });
  }

  private async closeLogs(): Promise<void> {
    await Promise.all([...this.logs.values()].map((log) => new Promise<void>((done) => log.end(() => done()))));
    this.logs.clear();
  }
}
