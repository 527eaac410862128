/**
 * The four edges a RaftHost and a LockService are driven through: a scheduler,
 * a clock, a peer transport and a durable store. Production wires node's event
 * loop, Date.now/performance.now, TCP and LevelDB (production-io.ts); the
 * simulation (test/sim) wires virtual time, seeded per-node clocks, a seeded
 * network and a seeded disk. The host itself is the same code in both
 * (TigerBeetle's one replica over real or simulated I/O; hashicorp/raft's
 * InmemTransport/InmemStore twins).
 *
 * Everything here is callback-shaped on purpose: a host never awaits inside
 * its loop, so a simulation can run a whole cluster synchronously on one
 * event queue, and replay it exactly from a seed.
 */
import type { MemberRecord, Message, NodeId, Snapshot } from '../raft/index.js';
import type { SaveBatch } from '../storage/index.js';

/** TimerHandle is an opaque handle to a scheduled callback. */
export interface TimerHandle {
  readonly timerId: number;
}

/** HostScheduler runs callbacks later. Callbacks are never run synchronously from the call that schedules them. */
export interface HostScheduler {
  /** defer runs fn at the end of this turn of the event loop (production: setImmediate). */
  defer(fn: () => void): void;
  /** after runs fn once, `ms` from now. */
  after(ms: number, fn: () => void): TimerHandle;
  /** every runs fn every `ms`, until cancelled. */
  every(ms: number, fn: () => void): TimerHandle;
  cancel(timer: TimerHandle): void;
}

/** HostClock is this machine's time. */
export interface HostClock {
  /** wallMs is the wall clock (Date.now): what a leader stamps into lock commands. It may step and disagree between machines. */
  wallMs(): number;
  /** monotonicMs never goes back (performance.now); only differences of it mean anything. */
  monotonicMs(): number;
}

/** TransportHandlers are the host's side of the transport. */
export interface TransportHandlers {
  onMessage(m: Message): void;
  /** A send to `peer` failed (etcd's ReportUnreachable). */
  onUnreachable(peer: NodeId): void;
  /** A snapshot to `peer` was delivered whole (ok) or failed. */
  onSnapshotSent(peer: NodeId, ok: boolean): void;
}

/** HostTransport carries Raft messages to the other members. */
export interface HostTransport {
  /** bind attaches the host; called once, from the host's constructor, before open(). */
  bind(handlers: TransportHandlers): void;
  /** open starts listening for peers; messages may be sent before it resolves (they queue). */
  open(): Promise<{ port: number }>;
  /** send queues messages; it never blocks and never throws for an unreachable peer. */
  send(messages: readonly Message[]): void;
  /** flush writes what send() queued so far now, rather than when the transport would batch it (a no-op if it does not batch). */
  flush(): void;
  /**
   * setPeers tells the transport the members this node must now reach (itself excluded), whenever the configuration
   * in its log changes: it dials a new one and drops one no longer listed, except the peers it was started with (they
   * stay: a member replaying an old configuration must still reach the current leader). A record with an empty
   * peerAddress is reached at the address the transport was started with.
   */
  setPeers(members: readonly MemberRecord[]): void;
  close(): Promise<void>;
}

/** Done is called once with null on success, or the error. */
export type Done = (err: unknown) => void;

/**
 * HostStore persists what Readys hand out, in call order, each write atomic and
 * synced before its `done` (src/storage/raft-store.ts has the semantics). `done`
 * is never called synchronously from the call that issued the write. A failed
 * write is fatal to the host: memory may be ahead of disk.
 */
export interface HostStore {
  save(batch: SaveBatch, done: Done): void;
  saveSnapshot(snapshot: Snapshot, done: Done): void;
  close(): Promise<void>;
}
