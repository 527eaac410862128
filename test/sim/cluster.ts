import {
  DEFAULT_LIMITS,
  SeededRandom,
  bootstrapState,
  joiningState,
  type ConfChange,
  type ConfState,
  type DurableState,
  type Entry,
  type Message,
  type NodeId,
  type RaftConfig,
  type RaftNode,
  type Ready,
  type Snapshot,
} from '../../src/raft/index.js';
import { LeaseTable, type CommandResult, type LockCommand, type LockEvent } from '../../src/locks/index.js';
import { decodeCommand } from '../../src/node/command-codec.js';
import type { LockService, LockServiceOptions } from '../../src/node/lock-service.js';
import { RaftHost, type HostProbe, type Logger } from '../../src/node/raft-host.js';
import { EventQueue } from './event-queue.js';
import { SimNetwork } from './network.js';
import { SimDisk } from './disk.js';
import { chainHash, entryKey } from './entry-digest.js';
import { InvariantChecker, type HostView } from './invariants.js';
import { LockChecker } from './lock-invariants.js';
import { SimMember } from './member.js';
import { SimClock, SimScheduler, SimStore, SimTransport, type SimLoop } from './sim-io.js';
import { violated } from './sim-violation.js';
import { describeMessage } from './describe-message.js';

/** How close a stored session expiry comes before the leader checkpoints its in-memory keepalives (production: 500). */
const SIM_CHECKPOINT_LOOKAHEAD_MS = 20;

/** NodeFactory builds a RaftNode; broken variants substitute a subclass. */
export type NodeFactory = (config: RaftConfig, durable: DurableState) => RaftNode;
/** Records per snapshot slice in the simulation: small, so the sliced encoding (and what it defers) is exercised. */
const SIM_SNAPSHOT_STEP_RECORDS = 3;
/** Held-back entries applied per turn after a snapshot (RaftHostDeps.heldApplySliceEntries): a few, so a backlog spans turns. */
const SIM_HELD_APPLY_SLICE_ENTRIES = 2;

/** LockServiceFactory builds a LockService; a broken variant substitutes a subclass. */
export type LockServiceFactory = (options: LockServiceOptions) => LockService;

/** ClusterOptions fix everything about a cluster except what the schedule does to it. */
export interface ClusterOptions {
  /** The members a run starts with: the voters of the bootstrap configuration. */
  readonly ids: readonly NodeId[];
  /** Members a run may add: each starts with an empty store (as a joining member) when it is first added. */
  readonly spareIds: readonly NodeId[];
  /** Root generator of this run; every other generator is forked from it in a fixed order. */
  readonly random: SeededRandom;
  readonly createNode: NodeFactory;
  readonly createLockService: LockServiceFactory;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Virtual ms per tick for each node, in `ids` then `spareIds` order (slightly different values model clock drift). */
  readonly tickMs: readonly number[];
  readonly electionTicks: number;
  readonly maxAppendBytes: number;
  readonly maxInflightAppends: number;
  /** A learner is promoted only this close to the leader's last index (RaftConfig.maxPromoteLagEntries). */
  readonly maxPromoteLagEntries: number;
  /** The host takes a snapshot every this many applied entries (at its member's phase). */
  readonly snapshotEvery: number;
  /** Disk write latency: usually in [1, fastDiskMaxMs], with probability slowDiskProbability in [slowDiskMinMs, slowDiskMaxMs]. */
  readonly fastDiskMaxMs: number;
  readonly slowDiskProbability: number;
  readonly slowDiskMinMs: number;
  readonly slowDiskMaxMs: number;
  /** The lock names the workload uses; the lock checker watches exactly these. */
  readonly lockNames: readonly string[];
  /** Each member's wall-clock offset at the start (ms, in `ids` then `spareIds` order); clock faults change them later. */
  readonly clockOffsetMs: readonly number[];
  /** Each member's monotonic clock rate error (in `ids` then `spareIds` order), within ±MAX_CLOCK_RATE_ERROR. */
  readonly clockRateError: readonly number[];
  /** Check that table time never runs ahead of real time (off only in a broken-variant demonstration). */
  readonly checkTableTime: boolean;
  /** When set, every event is described to this sink (replay / debugging only: it is slow). */
  readonly trace: ((line: string) => void) | null;
}

type SimEvent =
  | { readonly kind: 'callback'; readonly id: NodeId; readonly incarnation: number; readonly fn: () => void }
  | { readonly kind: 'deliver'; readonly msg: Message; readonly senderIncarnation: number; readonly primary: boolean }
  | { readonly kind: 'action'; readonly label: string; readonly run: () => void };

/** Bounds that keep a broken system from running away with the test process. */
const MAX_QUEUED_EVENTS = 1_000_000;
/** A schedule runs ~20-60k events; far more means a message storm or a busy loop in virtual time. */
const MAX_EVENTS_PER_RUN = 5_000_000;
/** Production's bounds, scaled to the simulation's 10 ms ticks where they are times. */
const PROPOSAL_TIMEOUT_MS = 2_000;
const MAX_PENDING_PROPOSALS = 1_000;
const MAX_WAITERS = 1_000;

const SILENT: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/**
 * SimCluster runs the production RaftHost + LockService + LeaseTable of every
 * member over simulated I/O (sim-io.ts), driven by one event queue on a
 * virtual integer-ms clock. It owns the network and the disks, checks the
 * Raft invariants and the lock invariants after every event, and offers the
 * client and fault operations a schedule uses.
 */
export class SimCluster implements SimLoop {
  nowMs = 0;
  events = 0;
  readonly network: SimNetwork;
  readonly checker: InvariantChecker;
  readonly locksChecker: LockChecker;
  readonly stats = { messagesSent: 0, messagesDropped: 0, messagesToUnknownPeers: 0, crashes: 0, restarts: 0, submits: 0, reads: 0, transfers: 0, snapshotsTaken: 0, joins: 0, confChangesProposed: 0, keepalivesInMemory: 0 };
  private readonly queue = new EventQueue<SimEvent>(MAX_QUEUED_EVENTS);
  private readonly members: SimMember[];
  private readonly byId = new Map<NodeId, SimMember>();
  /** The members started so far: the bootstrap voters, then each spare that joined. */
  private readonly started: NodeId[];
  private readonly diskRandom: SeededRandom;
  private readonly nodeSeeds: SeededRandom;
  /** The first error a host's loop reported through onFatal: a host dies only of a bug, and the run reports it. */
  fatalError: unknown = null;
  /** Probability that a disk write is slow; the liveness phase sets it to 0 ("heal everything"). */
  slowDiskProbability: number;

  constructor(private readonly opts: ClusterOptions) {
    this.slowDiskProbability = opts.slowDiskProbability;
    // Fork order is part of the replay contract: add new forks at the end only.
    const allIds = [...opts.ids, ...opts.spareIds];
    this.network = new SimNetwork(allIds, opts.random.fork(), { minDelayMs: opts.minDelayMs, maxDelayMs: opts.maxDelayMs });
    this.diskRandom = opts.random.fork();
    this.nodeSeeds = opts.random.fork();
    const boot = bootstrapState(opts.ids);
    const emptyTable = new LeaseTable().snapshot();
    this.members = allIds.map((id, i) => {
      const clock = new SimClock(this, opts.clockRateError[i]!);
      clock.offsetMs = opts.clockOffsetMs[i]!;
      return new SimMember(id, new SimDisk(id, opts.ids.includes(id) ? boot : joiningState(), emptyTable), clock, opts.tickMs[i]!);
    });
    for (const m of this.members) this.byId.set(m.id, m);
    this.checker = new InvariantChecker(this.members, boot.snapshotMeta.config);
    this.locksChecker = new LockChecker(opts.lockNames, opts.checkTableTime);
    this.started = [...opts.ids];
    for (const id of opts.ids) this.start(this.member(id), opts.ids);
  }

  /** ids are the members started so far (a spare counts once it joined). */
  get ids(): readonly NodeId[] {
    return this.started;
  }

  host(id: NodeId): HostView {
    return this.member(id);
  }

  member(id: NodeId): SimMember {
    const m = this.byId.get(id);
    if (m === undefined) throw new Error(`unknown node ${id}`);
    return m;
  }

  private trace(line: string): void {
    this.opts.trace?.(`${String(this.nowMs).padStart(6)} ${line}`);
  }

  /** note adds a line to the trace (schedules describe their faults with it). */
  note(line: string): void {
    this.trace(line);
  }

  // ---- SimLoop ------------------------------------------------------------------------

  schedule(atMs: number, id: NodeId, incarnation: number, fn: () => void): void {
    this.queue.push(Math.max(atMs, this.nowMs), { kind: 'callback', id, incarnation, fn });
  }

  diskLatencyMs(): number {
    const r = this.diskRandom;
    const o = this.opts;
    if (this.slowDiskProbability > 0 && r.next() < this.slowDiskProbability) return o.slowDiskMinMs + r.nextInt(o.slowDiskMaxMs - o.slowDiskMinMs + 1);
    return 1 + r.nextInt(o.fastDiskMaxMs);
  }

  sendFrom(id: NodeId, incarnation: number, messages: readonly Message[]): void {
    const from = this.member(id);
    if (!from.alive || from.incarnation !== incarnation) return;
    for (const m of messages) {
      if (m.from !== id) throw new Error(`${id} sent a message from ${m.from}`);
      if (!this.byId.has(m.to)) throw new Error(`${id} sent a message to unknown ${m.to}`);
      if (m.type === 'snapshot' && m.data === null) throw new Error(`${id} sent snapshot ${m.meta.index} without its data`);
      this.stats.messagesSent++;
      const delays = this.network.plan();
      if (delays.length === 0) {
        this.stats.messagesDropped++;
        // The transport learns that a snapshot did not get through (its stream fails) and tells the host.
        if (m.type === 'snapshot') this.schedule(this.nowMs + this.opts.maxDelayMs, id, incarnation, () => from.transport?.handlers?.onSnapshotSent(m.to, false));
      }
      delays.forEach((d, i) => this.queue.push(this.nowMs + d, { kind: 'deliver', msg: m, senderIncarnation: incarnation, primary: i === 0 }));
    }
  }

  droppedToUnknownPeer(from: NodeId, m: Message): void {
    this.stats.messagesToUnknownPeers++;
    this.trace(`${from} cannot reach ${m.to} (not a peer it knows): dropped ${describeMessage(m)}`);
  }

  // ---- Event loop -------------------------------------------------------------------------

  /** at schedules a scripted action (client request, fault) at absolute virtual time atMs. */
  at(atMs: number, label: string, run: () => void): void {
    this.queue.push(Math.max(atMs, this.nowMs), { kind: 'action', label, run });
  }

  /** runUntil processes events up to and including endMs, or until `stop` returns true after an event. */
  runUntil(endMs: number, stop?: () => boolean): void {
    for (;;) {
      const t = this.queue.peekTime();
      if (t === null || t > endMs) break;
      const ev = this.queue.pop()!;
      this.nowMs = ev.timeMs;
      if (++this.events > MAX_EVENTS_PER_RUN) throw new Error(`more than ${MAX_EVENTS_PER_RUN} events in one run (message storm?)`);
      this.dispatch(ev.item);
      if (this.fatalError !== null) throw this.fatalError;
      this.checker.afterEvent();
      this.noteTermBases();
      if (stop?.()) return;
    }
    this.nowMs = Math.max(this.nowMs, endMs);
  }

  private dispatch(ev: SimEvent): void {
    switch (ev.kind) {
      case 'callback': {
        const m = this.member(ev.id);
        if (m.alive && m.incarnation === ev.incarnation) ev.fn();
        return;
      }
      case 'deliver':
        this.deliver(ev.msg, ev.senderIncarnation, ev.primary);
        return;
      case 'action':
        this.trace(`action ${ev.label}`);
        ev.run();
        return;
    }
  }

  private deliver(msg: Message, senderIncarnation: number, primary: boolean): void {
    const to = this.member(msg.to);
    const from = this.member(msg.from);
    const sender = from.alive && from.incarnation === senderIncarnation ? from.transport?.handlers : undefined;
    if (!this.network.linkUp(msg.from, msg.to) || !to.alive) {
      this.stats.messagesDropped++;
      // The transport notices a failed send (etcd's ReportUnreachable); a lost snapshot is reported as failed.
      sender?.onUnreachable(msg.to);
      if (primary && msg.type === 'snapshot') sender?.onSnapshotSent(msg.to, false);
      return;
    }
    if (this.opts.trace !== null) this.trace(`${msg.from}->${msg.to} ${describeMessage(msg)}`);
    to.transport!.handlers!.onMessage(msg);
    if (primary && msg.type === 'snapshot') sender?.onSnapshotSent(msg.to, true);
  }

  // ---- Lifecycle --------------------------------------------------------------------

  private config(id: NodeId): RaftConfig {
    return {
      ...DEFAULT_LIMITS,
      id,
      electionTicks: this.opts.electionTicks,
      maxAppendBytes: this.opts.maxAppendBytes,
      maxInflightAppends: this.opts.maxInflightAppends,
      maxPromoteLagEntries: this.opts.maxPromoteLagEntries,
      random: this.nodeSeeds.fork(),
    };
  }

  /**
   * start builds one incarnation of a member from its disk, wired as production wires it (src/server/start-node.ts).
   * `startingPeers` are its `--peers`, fixed at its first start: the bootstrap voters, or for a spare the members
   * started when it joined.
   */
  private start(m: SimMember, startingPeers?: readonly NodeId[]): void {
    if (startingPeers !== undefined) m.startingPeers = startingPeers.filter((id) => id !== m.id);
    const inc = m.incarnation;
    const scheduler = new SimScheduler(this, m.id, inc);
    const transport = new SimTransport(this, m.id, inc, m.startingPeers);
    const store = new SimStore(this, m.id, inc, m.disk, (s) => this.onSnapshotStored(m, inc, s));
    const node = this.opts.createNode(this.config(m.id), m.disk.durableState());
    const locks = this.opts.createLockService({
      logger: SILENT,
      maxWaiters: MAX_WAITERS,
      expiryCheckMs: m.tickMs,
      clock: m.clock,
      scheduler,
      // A few records per slice, so every snapshot of the run is encoded across turns with applying held back.
      snapshotStepRecords: SIM_SNAPSHOT_STEP_RECORDS,
      // Checkpoint in-memory keepalives only when a stored expiry is nearly due: the widest window in which only
      // the leader's memory holds them, so crashes, deposed leaders and the expiry gate meet them often.
      sessionCheckpointLookaheadMs: SIM_CHECKPOINT_LOOKAHEAD_MS,
    });
    const snapshot = m.disk.snapshot;
    if (snapshot.meta.index > 0) locks.restore(snapshot.data);
    m.alive = true;
    m.node = node;
    m.locks = locks;
    m.transport = transport;
    m.appliedIndex = snapshot.meta.index;
    m.chain = this.checker.chainAt(snapshot.meta.index);
    const host = new RaftHost({
      node,
      snapshot: snapshot.meta.index > 0 ? snapshot : null,
      app: locks,
      store,
      transport,
      scheduler,
      clock: m.clock,
      logger: SILENT,
      tickMs: m.tickMs,
      snapshotEveryEntries: this.opts.snapshotEvery,
      // A few entries per turn, so what a snapshot held back is applied across turns while more commit behind it.
      heldApplySliceEntries: SIM_HELD_APPLY_SLICE_ENTRIES,
      proposalTimeoutMs: PROPOSAL_TIMEOUT_MS,
      maxPendingProposals: MAX_PENDING_PROPOSALS,
      onSoftState: (soft) => locks.onSoftState(soft),
      onFatal: (err) => (this.fatalError ??= err),
      probe: this.probe(m, inc),
    });
    locks.attach(host);
    m.host = host;
    // A random phase so members do not tick in lockstep.
    scheduler.after(1 + this.diskRandom.nextInt(m.tickMs), () => void host.start());
  }

  /** probe connects one incarnation's host to the checkers. */
  private probe(m: SimMember, incarnation: number): HostProbe {
    const same = (): boolean => m.alive && m.incarnation === incarnation;
    return {
      onReady: (rd: Ready) => {
        if (!same()) return;
        this.checker.onReady(m, m.node!, rd);
        for (const rs of rd.readStates) this.checker.onReadState(m, rs);
      },
      onApplied: (entry: Entry, result: unknown) => {
        if (same()) this.onApplied(m, entry, result);
      },
      onSnapshotInstalled: (snapshot: Snapshot) => {
        if (!same()) return;
        this.checker.onSnapshot(m, snapshot, 'installed');
        m.appliedIndex = snapshot.meta.index;
        m.chain = this.checker.chainAt(snapshot.meta.index);
        this.trace(`${m.id} installed snapshot ${snapshot.meta.index}/${snapshot.meta.term}`);
      },
      onReadRequested: (context: string) => {
        if (same() && m.node!.role === 'leader') this.checker.onReadIndexCall(m, context);
      },
      onProposalAcked: (index: number, term: number) => {
        if (same()) this.checker.onAck(index, term);
      },
    };
  }

  private onApplied(m: SimMember, entry: Entry, result: unknown): void {
    if (entry.index !== m.appliedIndex + 1) violated('applied-monotonic', `${m.id} applies ${entry.index} after ${m.appliedIndex} (gap or repeat)`);
    const key = entryKey(entry);
    m.appliedIndex = entry.index;
    m.chain = chainHash(m.chain, entry.index, entry.term, result === undefined ? key : `${key}=${JSON.stringify(result)}`);
    const first = this.checker.onApply(m, entry, key, m.chain);
    if (first && entry.type === 'normal' && entry.data.length > 0) {
      const { command } = decodeCommand(entry.data);
      this.locksChecker.onFirstApply(entry, command, result as CommandResult, m.locks!.lockTable, this.nowMs);
    }
  }

  private onSnapshotStored(m: SimMember, incarnation: number, snapshot: Snapshot): void {
    if (!m.alive || m.incarnation !== incarnation) return;
    this.stats.snapshotsTaken++;
    this.checker.onSnapshot(m, snapshot, 'stored');
    this.trace(`${m.id} snapshot stored at ${snapshot.meta.index}/${snapshot.meta.term}`);
  }

  isAlive(id: NodeId): boolean {
    return this.member(id).alive;
  }

  /** crash drops the process and all volatile state; writes not yet synced are lost. */
  crash(id: NodeId): void {
    const m = this.member(id);
    if (!m.alive) return;
    m.down();
    this.stats.crashes++;
    this.trace(`${id} CRASH (durable term ${m.disk.hardState.term} vote ${m.disk.hardState.vote} commit ${m.disk.hardState.commit} last ${m.disk.lastIndex})`);
    this.checker.onCrash(id);
  }

  /** join starts spare `id` for the first time, with an empty store: the member an add is about to name. */
  join(id: NodeId): void {
    if (!this.opts.spareIds.includes(id) || this.started.includes(id)) throw new Error(`${id} is not a spare that can join`);
    this.start(this.member(id), [...this.started]);
    this.started.push(id);
    this.stats.joins++;
    this.trace(`${id} JOINS (empty store, peers ${this.member(id).startingPeers.join(',')})`);
  }

  /** restart builds a new process from the durable state: core, lease table (from the durable snapshot) and host. */
  restart(id: NodeId): void {
    const m = this.member(id);
    if (m.alive) return;
    this.start(m);
    this.stats.restarts++;
    this.trace(`${id} RESTART (term ${m.disk.hardState.term} commit ${m.disk.hardState.commit} snapshot ${m.disk.snapshot.meta.index} last ${m.disk.lastIndex})`);
    this.checker.onRestart(m);
  }

  // ---- Clients ------------------------------------------------------------------------

  /** leaders returns the live members that currently believe they lead (more than one only across terms). */
  leaders(): NodeId[] {
    return this.members.filter((m) => m.alive && m.node!.role === 'leader').map((m) => m.id);
  }

  /** leader is the live leader with the highest term, or null. */
  leader(): NodeId | null {
    let best: SimMember | null = null;
    for (const m of this.members) {
      if (m.alive && m.node!.role === 'leader' && (best === null || m.node!.term > best.node!.term)) best = m;
    }
    return best?.id ?? null;
  }

  /** submit hands a command to member `id`'s LockService, as its HTTP route would; false when the member is down. */
  submit(id: NodeId, command: LockCommand, done: (err: Error | null, result?: CommandResult) => void): boolean {
    const m = this.member(id);
    if (!m.alive) return false;
    this.stats.submits++;
    const locks = m.locks!;
    const inMemoryBefore = locks.keepalives.counters.inMemory;
    const arrival = { term: m.node!.term, event: this.events };
    locks.submit(command, (err, result) => {
      if (inMemory && err === null && result?.ok === true) this.locksChecker.noteKeepaliveFromMemory(id, arrival.term, arrival.event);
      done(err, result);
    });
    const inMemory = locks.keepalives.counters.inMemory > inMemoryBefore;
    if (inMemory) this.stats.keepalivesInMemory++;
    return true;
  }

  /** noteTermBases tells the lock checker when a leader took its term's lease time base (it may then reset sessions). */
  private noteTermBases(): void {
    for (const m of this.members) {
      if (m.alive && m.locks!.keepalives.leads(m.node!.term)) this.locksChecker.noteTermBase(m.node!.term, this.events);
    }
  }

  /** tableNowMs is member `id`'s lease-table time now, as its HTTP layer reads it to answer `expiresInMs` (it is up). */
  tableNowMs(id: NodeId): number {
    const m = this.member(id);
    if (!m.alive) throw new Error(`tableNowMs of ${id}, which is down`);
    return m.locks!.tableNowMs();
  }

  /** registerWaiter subscribes to a waiter's events on member `id` (the long-poll of a queued acquire). */
  registerWaiter(id: NodeId, waiterId: string, onEvent: (event: LockEvent) => void): (() => void) | null {
    const m = this.member(id);
    return m.alive ? m.locks!.registerWaiter(waiterId, onEvent) : null;
  }

  /**
   * read asks member `id` for a linearizable read barrier; when it answers, the member must have applied everything
   * applied anywhere before the call (thesis §6.4). `done` gets whether the read was served.
   */
  read(id: NodeId, done: (served: boolean) => void): void {
    const m = this.member(id);
    if (!m.alive) return done(false);
    this.stats.reads++;
    const floor = this.checker.maxAppliedIndex;
    const inc = m.incarnation;
    m.host!.requestRead(PROPOSAL_TIMEOUT_MS, (err) => {
      if (err === null && m.incarnation === inc && m.appliedIndex < floor) {
        violated('read-index', `${id} served a read at applied ${m.appliedIndex}, but ${floor} was applied before the call (stale read)`);
      }
      done(err === null);
    });
  }

  /**
   * proposeConfChange asks member `id` to change the membership (answered as RaftHost answers it). Returns whether the
   * change is now in its log (the leader accepted it); false when refused or the member is down.
   */
  proposeConfChange(id: NodeId, change: ConfChange, done: (err: Error | null) => void): boolean {
    const m = this.member(id);
    if (!m.alive) return false;
    this.stats.confChangesProposed++;
    const before = m.node!.configurationIndex;
    m.host!.proposeConfChange(change, (err) => done(err));
    const accepted = m.node!.configurationIndex !== before;
    this.trace(`${id} proposes ${JSON.stringify(change)}: ${accepted ? 'accepted' : 'refused'}`);
    return accepted;
  }

  /** configurationOf is a live member's configuration in force (null when down). */
  configurationOf(id: NodeId): ConfState | null {
    const m = this.member(id);
    return m.alive ? m.node!.configuration() : null;
  }

  /** transfer asks member `id` to hand leadership to `to`. */
  transfer(id: NodeId, to: NodeId): void {
    const m = this.member(id);
    if (!m.alive) return;
    this.stats.transfers++;
    const ok = m.host!.transferLeadership(to);
    this.trace(`${id} transfer to ${to}: ${ok}`);
  }

  /** appliedIndexOf is a live member's applied position (null when down). */
  appliedIndexOf(id: NodeId): number | null {
    const m = this.member(id);
    return m.alive ? m.appliedIndex : null;
  }

  /** describeNodes renders every member's state, for traces and failure reports. */
  describeNodes(): string {
    return this.members.map((m) => m.describe()).join(' ');
  }
}
