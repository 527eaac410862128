/**
 * The raftlock processes of a verify run: src/launch's NodeLauncher with the
 * harness's layout. Members listen on free loopback ports (src/launch's
 * loopback-port.ts), dial their peers and forward to the leader through the
 * LinkNetwork's proxies, and log to the run folder (nodes/nN.log; data in
 * nodes/data/nN). The launcher tracks every child by PID and kills them all in
 * stopAll() and from a process 'exit' hook; this class adds the record of
 * members that exited without the harness killing them, and how the run
 * secures the members (run-security.ts; files in nodes/security).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { CommandWrap } from '../../launch/command-wrap.js';
import { loopbackMembers } from '../../launch/loopback-port.js';
import { NodeLauncher, type LaunchedNode, type NodeLauncherOptions } from '../../launch/node-launcher.js';
import type { HttpAccess } from './http-call.js';
import type { LinkNetwork } from './link-network.js';
import { prepareRunSecurity, type RunSecurity, type RunSecurityMode } from './run-security.js';

/** ManagedNode is one member: its ports, files and current child. */
export type ManagedNode = LaunchedNode;

/** NodeProcessesOptions configures the members. */
export interface NodeProcessesOptions {
  /** The raftlock CLI entry (dist/src/cli/main.js) to run. */
  readonly mainPath: string;
  readonly nodeCount: number;
  /** Where data directories and logs go. */
  readonly baseDir: string;
  readonly extraArgs?: readonly string[];
  /** Runs every start of member `id` that names no wrap of its own under this (faketime, for clock skew). */
  readonly wrap?: (id: string) => CommandWrap | undefined;
  /** How the members are secured; default `secret`. */
  readonly security?: RunSecurityMode;
}

/**
 * bootstrapsExplicitly says whether the build under test takes --initial-cluster-state (issue 13). `verify --build`
 * may point at an older build, which bootstraps every empty data dir by itself and rejects the flag.
 */
function bootstrapsExplicitly(mainPath: string): boolean {
  const help = execFileSync(process.execPath, [mainPath, 'serve', '--help'], { encoding: 'utf8', timeout: 30_000 });
  return help.includes('--initial-cluster-state');
}

/** The cluster id of a build that bootstraps without --cluster-id (serve's default). */
const DEFAULT_CLUSTER_ID = 'raftlock';

/** UnexpectedExit is a member that exited without the harness killing it: a crash, or outside interference. */
export interface UnexpectedExit {
  readonly id: string;
  /** Run-clock time, when a clock was set; else -1. */
  readonly atMs: number;
  readonly code: number | null;
  readonly signal: string | null;
}

/** The LinkNetwork, set by attach(); the launcher reads it when it builds a command line. */
interface NetworkSlot {
  network: LinkNetwork | null;
}

/** NodeProcesses starts, kills, pauses and restarts the members of a verify run. */
export class NodeProcesses extends NodeLauncher {
  /** Members that exited on their own; a verify run counts each as a violation. */
  readonly unexpectedExits: UnexpectedExit[] = [];
  private now: () => number = () => -1;

  private constructor(
    options: NodeLauncherOptions,
    private readonly slot: NetworkSlot,
    /** How the members are secured. */
    readonly runSecurity: RunSecurity,
  ) {
    super(options);
  }

  /** access is the CA and token every harness request to the members carries (none without `tls-auth`). */
  get access(): HttpAccess {
    return this.runSecurity.access;
  }

  /** adminAccess is the CA and admin token of the membership nemesis's requests (none without `tls-auth`). */
  get adminAccess(): HttpAccess {
    return this.runSecurity.adminAccess;
  }

  /** create allocates ports and directories for `nodeCount` members (n1..nN); nothing runs yet. */
  static async create(opts: NodeProcessesOptions): Promise<NodeProcesses> {
    if (!(opts.nodeCount >= 1 && opts.nodeCount <= 9)) throw new Error(`node count ${opts.nodeCount} out of range`);
    const members = await loopbackMembers(opts.nodeCount, (id) => ({ dataDir: join(opts.baseDir, 'data', id), logFile: join(opts.baseDir, `${id}.log`) }));
    const slot: NetworkSlot = { network: null };
    // A new cluster each run: first starts bootstrap it, restarts after a kill find their stores. An older build
    // bootstraps by itself, in the default cluster (its certificates must name that one).
    const clusterId = bootstrapsExplicitly(opts.mainPath) ? randomUUID() : null;
    const security = await prepareRunSecurity(opts.security ?? 'secret', join(opts.baseDir, 'security'), clusterId ?? DEFAULT_CLUSTER_ID, members.map((m) => m.id));
    const scheme = security.api?.certDir === undefined ? 'http' : 'https';
    const attached = (): LinkNetwork => {
      if (slot.network === null) throw new Error('NodeProcesses: attach a network before starting nodes');
      return slot.network;
    };
    const processes: NodeProcesses = new NodeProcesses(
      {
        mainPath: opts.mainPath,
        members,
        ...(opts.extraArgs !== undefined ? { extraArgs: opts.extraArgs } : {}),
        ...(opts.wrap !== undefined ? { wrap: opts.wrap } : {}),
        ...(clusterId !== null ? { bootstrap: { clusterId } } : {}),
        ...(security.peer !== undefined ? { security: security.peer } : {}),
        ...(security.api !== undefined ? { api: security.api } : {}),
        // Every peer and peer-HTTP address is a proxy of a directed link.
        peerAddress: (from, to) => attached().peerAddress(from, to.id),
        peerHttpUrl: (from, to) => attached().httpUrl(from, to.id, scheme),
        onExit: (node, exit) => {
          if (!exit.expected) processes.unexpectedExits.push({ id: node.id, atMs: processes.now(), code: exit.code, signal: exit.signal });
        },
      },
      slot,
      security,
    );
    return processes;
  }

  /** setClock makes unexpected exits carry run-clock times. */
  setClock(now: () => number): void {
    this.now = now;
  }

  /** attach sets the network whose proxies the members dial; required before start. */
  attach(network: LinkNetwork): void {
    this.slot.network = network;
  }
}
