import type { NodeId, RaftNode } from '../../src/raft/index.js';
import type { LockService } from '../../src/node/lock-service.js';
import type { RaftHost } from '../../src/node/raft-host.js';
import type { SimDisk } from './disk.js';
import type { HostView } from './invariants.js';
import type { SimClock, SimTransport } from './sim-io.js';

/**
 * SimMember is one simulated machine: its disk and clock survive a crash;
 * everything else (the RaftNode, the RaftHost, the LockService and the
 * transport endpoint) is one incarnation of the process, rebuilt from the
 * disk on restart. The fields the checkers read are the HostView.
 */
export class SimMember implements HostView {
  alive = false;
  incarnation = 0;
  node: RaftNode | null = null;
  host: RaftHost | null = null;
  locks: LockService | null = null;
  transport: SimTransport | null = null;
  appliedIndex = 0;
  chain = 0;
  /** The peers its transport starts with (its `--peers`): set at its first start. */
  startingPeers: readonly NodeId[] = [];

  constructor(
    readonly id: NodeId,
    readonly disk: SimDisk,
    readonly clock: SimClock,
    readonly tickMs: number,
  ) {}

  /** down forgets the process: a crash, with whatever it had not synced. */
  down(): void {
    this.alive = false;
    this.node = null;
    this.host = null;
    this.locks = null;
    this.transport = null;
    this.disk.loseUnsynced();
    this.incarnation++;
  }

  /** describe renders the member for traces and failure reports. */
  describe(): string {
    if (!this.alive || this.node === null) return `${this.id}:down(term ${this.disk.hardState.term}, last ${this.disk.lastIndex})`;
    const n = this.node;
    return `${this.id}:${n.role}(term ${n.term}, commit ${n.commitIndex}, applied ${this.appliedIndex}, log ${n.firstIndex}..${n.lastIndex})`;
  }
}
