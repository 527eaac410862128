import type { MemberRecord, Message, NodeId, Snapshot } from '../../src/raft/index.js';
import type { SaveBatch } from '../../src/storage/index.js';
import type { Done, HostClock, HostScheduler, HostStore, HostTransport, TimerHandle, TransportHandlers } from '../../src/node/host-io.js';
import type { SimDisk } from './disk.js';

/**
 * The simulation's twins of the host's four edges (src/node/host-io.ts). Each
 * belongs to one incarnation of one node: after a crash the cluster bumps the
 * incarnation and every callback of the old one is dropped, as a dead process's
 * timers and sockets are. Everything is driven by the cluster's one event queue.
 */

/** SimLoop is what the twins need from the cluster: its virtual clock and event queue. */
export interface SimLoop {
  readonly nowMs: number;
  /** schedule runs `fn` at virtual time `atMs` unless node `id` has left incarnation `incarnation` by then. */
  schedule(atMs: number, id: NodeId, incarnation: number, fn: () => void): void;
  /** diskLatencyMs draws the next write's latency. */
  diskLatencyMs(): number;
  /** sendFrom puts a node's messages on the simulated network. */
  sendFrom(id: NodeId, incarnation: number, messages: readonly Message[]): void;
  /** droppedToUnknownPeer counts a message a transport dropped because it does not know the addressee. */
  droppedToUnknownPeer(from: NodeId, m: Message): void;
}

interface SimTimer extends TimerHandle {
  cancelled: boolean;
}

/** SimScheduler runs a node's deferred callbacks and timers in virtual time. */
export class SimScheduler implements HostScheduler {
  private nextTimerId = 1;

  constructor(
    private readonly loop: SimLoop,
    private readonly id: NodeId,
    private readonly incarnation: number,
  ) {}

  defer(fn: () => void): void {
    this.loop.schedule(this.loop.nowMs, this.id, this.incarnation, fn);
  }

  after(ms: number, fn: () => void): TimerHandle {
    const timer: SimTimer = { timerId: this.nextTimerId++, cancelled: false };
    this.loop.schedule(this.loop.nowMs + Math.max(0, Math.ceil(ms)), this.id, this.incarnation, () => {
      if (!timer.cancelled) fn();
    });
    return timer;
  }

  every(ms: number, fn: () => void): TimerHandle {
    const timer: SimTimer = { timerId: this.nextTimerId++, cancelled: false };
    const periodMs = Math.max(1, Math.ceil(ms));
    const fire = (): void => {
      if (timer.cancelled) return;
      this.loop.schedule(this.loop.nowMs + periodMs, this.id, this.incarnation, fire);
      fn();
    };
    this.loop.schedule(this.loop.nowMs + periodMs, this.id, this.incarnation, fire);
    return timer;
  }

  cancel(timer: TimerHandle): void {
    (timer as SimTimer).cancelled = true;
  }
}

/**
 * SimClock is one machine's clocks. The wall clock disagrees with the others by `offsetMs`, which clock faults set
 * and step either way (as NTP or an operator would); the monotonic clock never steps but runs at (1 + rateError)
 * of real (virtual) time, |rateError| <= MAX_CLOCK_RATE_ERROR: the drift lease safety must tolerate.
 */
export class SimClock implements HostClock {
  offsetMs = 0;

  constructor(
    private readonly loop: SimLoop,
    readonly rateError: number,
  ) {}

  wallMs(): number {
    return this.loop.nowMs + this.offsetMs;
  }

  monotonicMs(): number {
    return this.loop.nowMs * (1 + this.rateError);
  }
}

/**
 * SimTransport hands a node's messages to the simulated network; the cluster delivers them to `handlers`. Like the TCP
 * transport, it reaches only the peers it was started with (`--peers`) and the members setPeers told it of: a message
 * to anyone else is dropped, so a host that does not tell its transport of a new member cannot reach it.
 */
export class SimTransport implements HostTransport {
  handlers: TransportHandlers | null = null;
  private peers: ReadonlySet<NodeId>;

  constructor(
    private readonly loop: SimLoop,
    private readonly id: NodeId,
    private readonly incarnation: number,
    private readonly startingPeers: readonly NodeId[],
  ) {
    this.peers = new Set(startingPeers);
  }

  bind(handlers: TransportHandlers): void {
    if (this.handlers !== null) throw new Error(`${this.id}: transport bound twice`);
    this.handlers = handlers;
  }

  open(): Promise<{ port: number }> {
    return Promise.resolve({ port: 0 });
  }

  send(messages: readonly Message[]): void {
    if (messages.every((m) => this.peers.has(m.to))) return this.loop.sendFrom(this.id, this.incarnation, messages);
    for (const m of messages) if (!this.peers.has(m.to)) this.loop.droppedToUnknownPeer(this.id, m);
    this.loop.sendFrom(
      this.id,
      this.incarnation,
      messages.filter((m) => this.peers.has(m.to)),
    );
  }

  /** flush: the simulated network delivers each send on its own drawn delay; nothing is batched to write out. */
  flush(): void {}

  setPeers(members: readonly MemberRecord[]): void {
    this.peers = new Set([...this.startingPeers, ...members.map((m) => m.id)]);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * SimStore writes to a SimDisk: each write completes after a drawn latency, in
 * issue order (a write never overtakes an earlier one), and a crash before it
 * completes loses it. `onSnapshotStored` lets the checker compare snapshots.
 */
export class SimStore implements HostStore {
  private lastDoneMs = 0;

  constructor(
    private readonly loop: SimLoop,
    private readonly id: NodeId,
    private readonly incarnation: number,
    private readonly disk: SimDisk,
    private readonly onSnapshotStored: (snapshot: Snapshot) => void,
  ) {}

  save(batch: SaveBatch, done: Done): void {
    this.disk.issue({ kind: 'batch', batch });
    this.complete(done);
  }

  saveSnapshot(snapshot: Snapshot, done: Done): void {
    this.disk.issue({ kind: 'snapshot', snapshot });
    this.complete(() => {
      this.onSnapshotStored(snapshot);
      done(null);
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private complete(done: Done): void {
    const atMs = Math.max(this.lastDoneMs, this.loop.nowMs + this.loop.diskLatencyMs());
    this.lastDoneMs = atMs;
    this.loop.schedule(atMs, this.id, this.incarnation, () => {
      this.disk.sync();
      done(null);
    });
  }
}
