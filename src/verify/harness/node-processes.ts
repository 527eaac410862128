/**
 * The raftlock processes of a verify run: src/launch's NodeLauncher with the
 * harness's layout. Members listen on free loopback ports (src/launch's
 * loopback-port.ts), dial their peers and forward to the leader through the
 * LinkNetwork's proxies, and log to the run folder (nodes/nN.log; data in
 * nodes/data/nN). The launcher tracks every child by PID and kills them all in
 * stopAll() and from a process 'exit' hook; this class adds the record of
 * members that exited without the harness killing them.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { CommandWrap } from '../../launch/command-wrap.js';
import { loopbackMembers } from '../../launch/loopback-port.js';
import { NodeLauncher, type LaunchedNode, type NodeLauncherOptions } from '../../launch/node-launcher.js';
import type { LinkNetwork } from './link-network.js';

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
}

/**
 * bootstrapsExplicitly says whether the build under test takes --initial-cluster-state (issue 13). `verify --build`
 * may point at an older build, which bootstraps every empty data dir by itself and rejects the flag.
 */
function bootstrapsExplicitly(mainPath: string): boolean {
  const help = execFileSync(process.execPath, [mainPath, 'serve', '--help'], { encoding: 'utf8', timeout: 30_000 });
  return help.includes('--initial-cluster-state');
}

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
  ) {
    super(options);
  }

  /** create allocates ports and directories for `nodeCount` members (n1..nN); nothing runs yet. */
  static async create(opts: NodeProcessesOptions): Promise<NodeProcesses> {
    if (!(opts.nodeCount >= 1 && opts.nodeCount <= 9)) throw new Error(`node count ${opts.nodeCount} out of range`);
    const members = await loopbackMembers(opts.nodeCount, (id) => ({ dataDir: join(opts.baseDir, 'data', id), logFile: join(opts.baseDir, `${id}.log`) }));
    const slot: NetworkSlot = { network: null };
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
        // A new cluster each run: first starts bootstrap it, restarts after a kill find their stores.
        ...(bootstrapsExplicitly(opts.mainPath) ? { bootstrap: { clusterId: randomUUID() } } : {}),
        // Every peer and peer-HTTP address is a proxy of a directed link.
        peerAddress: (from, to) => attached().peerAddress(from, to.id),
        peerHttpUrl: (from, to) => attached().httpUrl(from, to.id),
        onExit: (node, exit) => {
          if (!exit.expected) processes.unexpectedExits.push({ id: node.id, atMs: processes.now(), code: exit.code, signal: exit.signal });
        },
      },
      slot,
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
