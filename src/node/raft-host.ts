import {
  RaftNode,
  assert,
  type ConfChange,
  type ConfChangeResult,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type ProposeResult,
  type Ready,
  type SoftState,
  type Snapshot,
  type SnapshotMeta,
} from '../raft/index.js';
import { NotLeaderError, OutcomeUnknownError, OverloadedError, RaftLockError, refusalError } from './errors.js';
import type { HostClock, HostScheduler, HostStore, HostTransport, TimerHandle } from './host-io.js';
import { HostMembership, type MembershipView } from './host-membership.js';
import { nextSnapshotIndex, snapshotPhase } from './snapshot-schedule.js';
import { PendingProposals, PendingReads, type ProposalDone, type ReadDone } from './pending-requests.js';

/** ReplicatedApp is the state machine a RaftHost drives: pure apply, snapshot and restore. */
export interface ReplicatedApp {
  /** applyEntry applies one committed command; the return value answers the proposer. */
  applyEntry(data: Uint8Array, index: number): unknown;
  /** applyTermStart: the empty entry a leader appends when it takes office (Raft §8) applied here. */
  applyTermStart(term: number, index: number): void;
  snapshot(): Uint8Array;
  /**
   * snapshotEncoder, if the app has one, encodes the same bytes as snapshot() in slices: each step returns the
   * snapshot once done and null while some remains. The host applies nothing until the last step.
   */
  snapshotEncoder?(): { step(): Uint8Array | null };
  restore(data: Uint8Array): void;
}

/** Logger is the subset of pino the host uses. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface HostAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * HostProbe observes a host for the simulation's invariant checker: what each
 * Ready asked, what was applied, installed and acknowledged. Production passes none.
 */
export interface HostProbe {
  onReady(rd: Ready): void;
  onApplied(entry: Entry, result: unknown): void;
  onSnapshotInstalled(snapshot: Snapshot): void;
  onReadRequested(context: string): void;
  /** A proposer is told its entry (index, term) committed and applied. */
  onProposalAcked(index: number, term: number): void;
}

/** RaftHostDeps is everything a host is built from: the core, the app, the four edges, and its bounds. */
export interface RaftHostDeps {
  readonly node: RaftNode;
  /** The newest durable snapshot (the app must already hold its state), or null for an empty log. */
  readonly snapshot: Snapshot | null;
  readonly app: ReplicatedApp;
  readonly store: HostStore;
  readonly transport: HostTransport;
  readonly scheduler: HostScheduler;
  readonly clock: HostClock;
  readonly logger: Logger;
  readonly tickMs: number;
  readonly snapshotEveryEntries: number;
  /** How long a proposer waits for its entry to apply before answering outcome_unknown. */
  readonly proposalTimeoutMs: number;
  readonly maxPendingProposals: number;
  /** Entries held back during a snapshot encoding that are applied per turn afterwards (default 2,000; the simulation uses a few). */
  readonly heldApplySliceEntries?: number;
  readonly onSoftState?: (soft: SoftState) => void;
  /** Called once when the loop dies (a failed write, a broken invariant, a throw while applying): the process must exit. */
  readonly onFatal?: (err: unknown) => void;
  readonly probe?: HostProbe;
}

/** HostStats are counters for /metrics. */
export interface HostStats {
  proposals: number;
  proposalsFailed: number;
  syncs: number;
  syncedEntries: number;
  syncMsTotal: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  lastSyncMs: number;
  /** Times the leader this member knows changed to another known member (a new term's leader, seen or won). */
  leaderChanges: number;
}

/** Readys handled per wake-up before the host yields to the event loop (and to the network). */
const MAX_READIES_PER_WAKE = 64;
/** Rounds of takeCommitted per wake-up; each is bounded by the core's maxApplyBytes. */
const MAX_APPLY_ROUNDS_PER_WAKE = 1000;
/** Committed entries held back (while a snapshot is encoded in slices, then applied in slices); past this they are encoded and applied at once. */
const MAX_HELD_ENTRIES = 50_000;
/** Held-back entries applied per event-loop turn once the snapshot is encoded (RaftHostDeps.heldApplySliceEntries). */
const HELD_APPLY_SLICE_ENTRIES = 2_000;

/** SnapshotEncoding is a snapshot being encoded in slices. */
interface SnapshotEncoding {
  readonly meta: SnapshotMeta;
  readonly encoder: { step(): Uint8Array | null };
}

/**
 * RaftHost is the edge that drives the pure core: it owns the tick timer, the
 * Ready loop and the pending requests, and does the I/O through the store and
 * the transport it is given (host-io.ts). Proposals that arrive while a write
 * is being synced join the next Ready: one batch and one fsync for all of them
 * (group commit). The loop never awaits: every step is a callback from the
 * scheduler, the store or the transport, so the simulation runs this very code.
 */
export class RaftHost {
  readonly id: NodeId;
  private readonly node: RaftNode;
  private readonly store: HostStore;
  private readonly transport: HostTransport;
  private readonly scheduler: HostScheduler;
  private lastSnapshot: Snapshot | null;
  private readonly proposals: PendingProposals;
  private readonly reads: PendingReads;
  private readonly membership: HostMembership;
  private readSeq = 0;
  private tickTimer: TimerHandle | null = null;
  private wakeScheduled = false;
  /** A Ready's write is being synced; the next Ready waits for it (one write in flight, in order). */
  private writing = false;
  private started = false;
  private stopped = false;
  private dead = false;
  private stopping: Promise<void> | null = null;
  private onWriteSettled: (() => void) | null = null;
  private persistedTerm: number;
  private persistedVote: NodeId | null;
  private lastSoft: SoftState;
  /** The newest hard state not yet written: only its commit index differs from what is durable. */
  private unsyncedHardState: HardState | null = null;
  /** A snapshot is being encoded or written; the next is not taken until it is durable. */
  private snapshotInFlight = false;
  /** The snapshot being encoded in slices between event-loop turns, if any: applying waits for it. */
  private encoding: SnapshotEncoding | null = null;
  /**
   * Committed entries not yet applied, in log order: held back while `encoding` runs, then applied a slice per turn
   * (applyHeldSlice). Null when entries apply as they commit. Entries that commit meanwhile join the tail.
   */
  private held: Entry[] | null = null;
  /** The index of the last entry the app applied (the core's applied index runs ahead while entries are held). */
  private appApplied: number;
  readonly stats: HostStats = { proposals: 0, proposalsFailed: 0, syncs: 0, syncedEntries: 0, syncMsTotal: 0, snapshotsTaken: 0, snapshotsInstalled: 0, lastSyncMs: 0, leaderChanges: 0 };
  /** Where in each `snapshotEveryEntries` interval this member snapshots (snapshot-schedule.ts). */
  private readonly snapshotPhase: number;
  /** Observer for fsync latency (ms), set by the metrics layer. */
  onSyncMs: ((ms: number) => void) | null = null;

  constructor(private readonly deps: RaftHostDeps) {
    const node = deps.node;
    this.id = node.id;
    this.node = node;
    this.store = deps.store;
    this.transport = deps.transport;
    this.scheduler = deps.scheduler;
    this.lastSnapshot = deps.snapshot;
    this.appApplied = node.appliedIndex;
    this.proposals = new PendingProposals(deps.scheduler, deps.clock, deps.proposalTimeoutMs);
    this.reads = new PendingReads(deps.scheduler);
    this.persistedTerm = node.term;
    this.persistedVote = node.vote;
    this.lastSoft = { role: node.role, leader: node.leader, term: node.term };
    this.membership = new HostMembership(node, deps.transport, deps.logger);
    this.snapshotPhase = snapshotPhase([...node.voters(), ...node.learners()], node.id, deps.snapshotEveryEntries);
    this.transport.bind({
      onMessage: (m) => this.onPeerMessage(m),
      onUnreachable: (peer) => this.guarded(() => this.node.reportUnreachable(peer)),
      onSnapshotSent: (peer, ok) => this.guarded(() => this.node.reportSnapshot(peer, ok)),
    });
  }

  /** start begins ticking and the Ready loop at once, then listens for peers; resolves with the bound peer port. */
  start(): Promise<{ peerPort: number }> {
    assert(!this.started, 'host started twice');
    this.started = true;
    this.tickTimer = this.scheduler.every(this.deps.tickMs, () => this.guarded(() => this.node.tick()));
    this.membership.syncPeers();
    this.kick();
    return this.transport.open().then(({ port }) => ({ peerPort: port }));
  }

  /** stop ends the loop after the write in flight, closes the transport and the store, and fails what is pending. */
  stop(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopped = true;
    this.cancelTimers();
    this.stopping = (async () => {
      if (this.writing) await new Promise<void>((resolve) => (this.onWriteSettled = resolve));
      await this.transport.close();
      this.proposals.failAll(new OutcomeUnknownError('the node is shutting down'));
      this.reads.failAll(new RaftLockError('shutting_down', 'the node is shutting down'));
      await this.store.close();
    })();
    return this.stopping;
  }

  private cancelTimers(): void {
    if (this.tickTimer !== null) this.scheduler.cancel(this.tickTimer);
    this.tickTimer = null;
  }

  /** fatal stops the loop for good: whatever broke (a write, an invariant, an apply) leaves memory untrustworthy. */
  private fatal(err: unknown): void {
    if (this.dead) return;
    this.dead = true;
    this.deps.logger.error({ err }, 'fatal error in the raft loop');
    this.stopped = true;
    this.cancelTimers();
    this.deps.onFatal?.(err);
  }

  /** guarded steps the core from a callback; a throw is fatal, never a half-applied state that goes on running. */
  private guarded(fn: () => void): void {
    if (this.stopped) return;
    try {
      fn();
    } catch (err) {
      this.fatal(err);
      return;
    }
    this.kick();
  }

  // ---- Views -------------------------------------------------------------------

  get role(): SoftState['role'] {
    return this.node.role;
  }
  get leader(): NodeId | null {
    return this.node.leader;
  }
  get term(): number {
    return this.node.term;
  }
  get commitIndex(): number {
    return this.node.commitIndex;
  }
  get appliedIndex(): number {
    return this.appApplied;
  }
  get firstIndex(): number {
    return this.node.firstIndex;
  }
  get lastIndex(): number {
    return this.node.lastIndex;
  }
  members(): readonly NodeId[] {
    return this.node.voters();
  }
  /** membershipView is the configuration in force here and, on the leader, each member's lag. */
  membershipView(): MembershipView {
    return this.membership.view();
  }

  /**
   * replicationLag is, on the leader, how many log entries each other voter's acknowledged log is behind the
   * leader's (its last index minus the follower's match index); empty on any other member, which does not know.
   */
  replicationLag(): Map<NodeId, number> {
    const lag = new Map<NodeId, number>();
    if (!this.isLeader()) return lag;
    for (const peer of this.members()) {
      const progress = peer === this.id ? null : this.node.progressOf(peer);
      if (progress !== null) lag.set(peer, Math.max(0, this.node.lastIndex - progress.match));
    }
    return lag;
  }
  isLeader(): boolean {
    return this.node.role === 'leader';
  }

  // ---- Requests ----------------------------------------------------------------

  /** submit replicates `data` and calls `done` once: with the app's result when the entry applied here, or the error. */
  submit(data: Uint8Array, done: ProposalDone): void {
    assert(data.length > 0, 'empty entries are reserved for a new leader\'s no-op (Raft §8)');
    this.proposeWith(() => this.node.propose(data), done);
  }

  /**
   * proposeConfChange proposes a single-server membership change (thesis §4.1) and calls `done` once: with the new
   * configuration when its entry applied here, or the error (ConfChangeRefusedError says why the leader refused).
   */
  proposeConfChange(change: ConfChange, done: ProposalDone): void {
    this.proposeWith(() => this.node.proposeConfChange(change), done);
    this.membership.syncPeers(); // a new learner is dialed before the next Ready's appends go out
  }

  /** proposeWith runs one proposal into the core and registers its caller, or answers the refusal. */
  private proposeWith(propose: () => ProposeResult | ConfChangeResult, done: ProposalDone): void {
    if (this.stopped) return this.answerLater(done, new RaftLockError('shutting_down', 'the node is shutting down'));
    if (this.proposals.size >= this.deps.maxPendingProposals) return this.answerLater(done, new OverloadedError('the proposal queue'));
    const r = propose();
    if (!r.ok) {
      this.stats.proposalsFailed++;
      return this.answerLater(done, refusalError(r.reason, r.leader));
    }
    this.stats.proposals++;
    this.proposals.add(r.index, r.term, done);
    this.kick();
  }

  /** propose is submit as a promise. */
  propose(data: Uint8Array): Promise<unknown> {
    return new Promise((resolve, reject) => this.submit(data, (err, result) => (err === null ? resolve(result) : reject(err))));
  }

  /** requestRead calls `done` once this node (the leader) has applied everything committed before the call (thesis §6.4). */
  requestRead(timeoutMs: number, done: ReadDone): void {
    if (this.stopped) return this.answerLater(done, new RaftLockError('shutting_down', 'the node is shutting down'));
    const context = `${this.id}:${++this.readSeq}`;
    this.deps.probe?.onReadRequested(context);
    const r = this.node.readIndex(context);
    if (!r.ok) return this.answerLater(done, r.reason === 'overloaded' ? new OverloadedError('the read queue') : new NotLeaderError(r.leader));
    this.reads.add(context, timeoutMs, () => (this.node.leader === this.id ? null : this.node.leader), done);
    this.kick();
  }

  /** readBarrier is requestRead as a promise. */
  readBarrier(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => this.requestRead(timeoutMs, (err) => (err === null ? resolve() : reject(err))));
  }

  /** transferLeadership asks the core to hand leadership to `to`. */
  transferLeadership(to: NodeId): boolean {
    const ok = this.node.transferLeadership(to);
    this.kick();
    return ok;
  }

  /** answerLater keeps the promise that a callback never runs inside the call that registered it. */
  private answerLater(done: (err: Error) => void, err: Error): void {
    this.scheduler.defer(() => done(err));
  }

  // ---- The loop ----------------------------------------------------------------

  private onPeerMessage(m: Message): void {
    if (this.membership.admits(m)) this.guarded(() => this.node.step(m));
  }

  /** kick wakes the loop at the end of this event-loop turn, so everything that arrived in the turn shares one Ready. */
  private kick(): void {
    // Scheduled even while a write is being synced: committed entries are applied then too.
    if (this.wakeScheduled || this.stopped || !this.started) return;
    this.wakeScheduled = true;
    this.scheduler.defer(() => {
      this.wakeScheduled = false;
      this.wakeUp();
    });
  }

  /** wakeUp applies what committed since the last Ready, then handles Readys until one needs a write. */
  private wakeUp(): void {
    if (this.stopped) return;
    try {
      this.applyCommitted();
      for (let i = 0; !this.writing && !this.stopped && this.node.hasReady(); i++) {
        if (i === MAX_READIES_PER_WAKE) return this.kick(); // yield, and come back next turn
        this.handleReady(this.node.ready());
      }
    } catch (err) {
      this.fatal(err);
    }
  }

  private handleReady(rd: Ready): void {
    this.deps.probe?.onReady(rd);
    this.membership.syncPeers(); // before this Ready's messages: they may go to a member its entries just added
    // The core decided which messages need not wait for this Ready's write (thesis §10.2.1). They leave now, before
    // the write and the applying: the followers' fsyncs, not the leader's, are the longer pole of a commit.
    if (rd.earlyMessages.length > 0) {
      this.send(rd.earlyMessages);
      this.transport.flush();
    }
    // Like etcd's MustSync: entries, a snapshot, a term or a vote must be durable before anything depends on them, but
    // a change of the commit index alone need not be (a restarted node learns it again from the leader). It rides
    // with the next synced write, saving an fsync per commit on every node.
    if (rd.hardState !== null) this.unsyncedHardState = rd.hardState;
    const termOrVoteChanged = rd.hardState !== null && (rd.hardState.term !== this.persistedTerm || rd.hardState.vote !== this.persistedVote);
    if (rd.snapshot === null && rd.entries.length === 0 && !termOrVoteChanged) {
      this.applyEntries(rd.committedEntries);
      this.finishReady(rd);
      return;
    }
    const hardState = this.unsyncedHardState;
    this.unsyncedHardState = null;
    this.writing = true;
    const startedMs = this.deps.clock.monotonicMs();
    this.store.save({ snapshot: rd.snapshot, entries: rd.entries, hardState }, (err) => this.onWritten(rd, hardState, startedMs, err));
    // The write is issued first, then the committed entries (already durable here and on a majority) are applied
    // while it syncs: answers do not wait for an fsync of unrelated newer entries, and the disk does not wait for
    // the answers to be written out.
    this.applyEntries(rd.committedEntries);
  }

  private onWritten(rd: Ready, hardState: HardState | null, startedMs: number, err: unknown): void {
    this.writing = false;
    if (this.onWriteSettled !== null) return this.onWriteSettled();
    if (this.stopped) return;
    if (err !== null) return this.fatal(err);
    try {
      const ms = this.deps.clock.monotonicMs() - startedMs;
      this.stats.syncs++;
      this.stats.syncedEntries += rd.entries.length;
      this.stats.syncMsTotal += ms;
      this.stats.lastSyncMs = ms;
      this.onSyncMs?.(ms);
      if (hardState !== null) {
        this.persistedTerm = hardState.term;
        this.persistedVote = hardState.vote;
      }
      this.finishReady(rd);
      // A follower's append response (or a vote) leaves as soon as its write is durable, not at the turn's end.
      if (rd.messages.length > 0) this.transport.flush();
    } catch (e) {
      this.fatal(e);
    }
  }

  /** finishReady does what a Ready asks once its write is durable: send, install, advance, hand out reads. */
  private finishReady(rd: Ready): void {
    this.send(rd.messages);
    if (rd.snapshot !== null) this.installSnapshot(rd.snapshot);
    this.node.advance(rd);
    for (const read of rd.readStates) this.reads.confirmed(read.context, read.index);
    // What advance() committed (a leader's own write completing a majority) is applied by the kick, after the next
    // Ready's write has been issued, for the same reason as above.
    this.kick();
    this.reads.settle(this.appApplied);
    this.noticeSoftState(rd.softState);
    this.maybeSnapshot();
  }

  private applyEntries(entries: readonly Entry[]): void {
    const held = this.held;
    if (held !== null) {
      // The snapshot being encoded must see the table at exactly its index, and what it held back applies first: these
      // wait, in log order.
      for (const entry of entries) held.push(entry);
      // Stryker disable next-line ConditionalExpression,EqualityOperator: a memory bound: encoding and applying sooner or later applies the same entries in the same order
      if (held.length > MAX_HELD_ENTRIES) {
        if (this.encoding !== null) this.finishEncodingNow();
        this.applyHeldNow();
      }
      return;
    }
    this.applyNow(entries);
  }

  /** applyNow applies committed entries to the app, in order, and answers their proposers. */
  private applyNow(entries: readonly Entry[]): void {
    const probe = this.deps.probe;
    for (const entry of entries) {
      assert(entry.index === this.appApplied + 1, `applying entry ${entry.index} after ${this.appApplied}`);
      this.appApplied = entry.index;
      // A config entry took effect when appended (thesis §4.1); applied, it answers its proposer with the configuration.
      let result: unknown = entry.config;
      if (entry.type === 'normal') {
        if (entry.data.length > 0) result = this.deps.app.applyEntry(entry.data, entry.index);
        else this.deps.app.applyTermStart(entry.term, entry.index); // only a new leader's no-op is empty (submit refuses empty data)
      }
      probe?.onApplied(entry, result);
      if (this.proposals.settle(entry.index, entry.term, result)) probe?.onProposalAcked(entry.index, entry.term);
    }
  }

  /** applyCommitted applies whatever committed since the last Ready, without waiting for a write in flight. */
  private applyCommitted(): void {
    for (let round = 0; round < MAX_APPLY_ROUNDS_PER_WAKE; round++) {
      const entries = this.node.takeCommitted();
      const last = entries[entries.length - 1];
      if (last === undefined) break;
      this.applyEntries(entries);
      this.node.appliedTo(last.index);
    }
    this.reads.settle(this.appApplied);
  }

  private send(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    const out: Message[] = [];
    for (const m of messages) {
      if (m.type === 'snapshot' && m.data === null) {
        // The host may have compacted further since the core queued this message: a newer snapshot serves as well.
        const snap = this.lastSnapshot;
        if (snap === null || snap.meta.index < m.meta.index) {
          this.node.reportSnapshot(m.to, false);
          continue;
        }
        out.push({ ...m, meta: snap.meta, data: snap.data });
      } else {
        out.push(m);
      }
    }
    this.transport.send(out);
  }

  private installSnapshot(snapshot: Snapshot): void {
    // Our own snapshot in slices first: the entries it holds back must apply (and answer) before the table is replaced.
    if (this.encoding !== null) this.finishEncodingNow();
    this.applyHeldNow();
    this.deps.app.restore(snapshot.data);
    this.appApplied = snapshot.meta.index;
    this.lastSnapshot = snapshot;
    this.stats.snapshotsInstalled++;
    this.deps.probe?.onSnapshotInstalled(snapshot);
    // Proposals covered by the snapshot: we cannot tell whether ours or another leader's entry landed there.
    this.proposals.failThrough(snapshot.meta.index, new OutcomeUnknownError());
  }

  private noticeSoftState(soft: SoftState): void {
    const prev = this.lastSoft;
    if (prev.role === soft.role && prev.leader === soft.leader && prev.term === soft.term) return;
    this.lastSoft = soft;
    if (soft.leader !== null && soft.leader !== prev.leader) this.stats.leaderChanges++;
    // Stryker disable next-line ObjectLiteral,StringLiteral: a log line; nothing reads it
    this.deps.logger.info({ role: soft.role, term: soft.term, leader: soft.leader }, 'raft state changed');
    // Reads waiting on a leadership this node no longer has cannot complete here; their callers retry elsewhere.
    if (prev.role === 'leader' && (soft.role !== 'leader' || soft.term !== prev.term)) this.reads.failAll(new NotLeaderError(soft.leader));
    this.deps.onSoftState?.(soft);
  }

  /**
   * maybeSnapshot serializes the state machine every `snapshotEveryEntries` applied entries (at this member's phase)
   * and stores it. The Ready loop does not wait for the store: a snapshot of many thousands of locks takes a synced
   * multi-megabyte write, and on a leader the loop must keep sending appends meanwhile, so that the followers' fsyncs
   * keep committing (a majority without the leader's own copy). Writes stay in call order in the store, so later
   * entries are written after the snapshot; the log is compacted once the snapshot is durable.
   *
   * The serialization runs in slices (the app's snapshotEncoder), one per event-loop turn, so ticks, heartbeats,
   * appends and votes go on while a large table is encoded: one synchronous encode of 1M locks blocked the loop for
   * 2.4 s and a leader lost its leadership. Meanwhile committed entries are not applied but held back in log order
   * (consensus goes on, applying waits): the snapshot is the table at exactly one applied index. A table that fits
   * in one slice is encoded at once, as before.
   */
  private maybeSnapshot(): void {
    if (this.snapshotInFlight || this.held !== null) return;
    const applied = this.node.appliedIndex;
    assert(applied === this.appApplied, `core applied ${applied}, app applied ${this.appApplied}, with no snapshot in slices`);
    const snapIndex = this.lastSnapshot?.meta.index ?? 0;
    if (applied < nextSnapshotIndex(snapIndex, this.snapshotPhase, this.deps.snapshotEveryEntries)) return;
    // A leader's snapshot stepped in since this Ready moved the log past what is applied here; wait for it to install.
    if (applied < this.node.firstIndex - 1 || !this.node.canSnapshotAt(applied)) return; // or a joining member's configuration is unknown there
    const meta = this.node.snapshotMetaAt(applied);
    this.snapshotInFlight = true;
    const encoder = this.deps.app.snapshotEncoder?.();
    if (encoder === undefined) return this.storeSnapshot({ meta, data: this.deps.app.snapshot() });
    const data = encoder.step();
    if (data !== null) return this.storeSnapshot({ meta, data });
    this.encoding = { meta, encoder };
    this.held = [];
    this.scheduler.defer(() => this.encodeSlice());
  }

  /** encodeSlice encodes one more slice of the snapshot in progress, and comes back next turn until it is done. */
  private encodeSlice(): void {
    const encoding = this.encoding;
    if (this.stopped || encoding === null) return;
    try {
      const data = encoding.encoder.step();
      if (data === null) {
        this.scheduler.defer(() => this.encodeSlice());
        return;
      }
      this.finishEncoding(data);
    } catch (err) {
      this.fatal(err);
    }
  }

  /** finishEncodingNow encodes what remains of the snapshot in progress at once (a bound or an install needs it done). */
  private finishEncodingNow(): void {
    const encoding = this.encoding;
    assert(encoding !== null, 'no snapshot in slices to finish');
    let data: Uint8Array | null = null;
    // Bounded: each step encodes at least one record of a table that does not change meanwhile.
    while (data === null) data = encoding.encoder.step();
    this.finishEncoding(data);
  }

  /**
   * finishEncoding stores the encoded snapshot, then applies the entries held back meanwhile, a slice per turn: a
   * follower of the 1M-lock load held back up to 26,000 entries during one encoding, and applying them in one turn
   * held its loop for 100-220 ms on top of the snapshot's store.
   */
  private finishEncoding(data: Uint8Array): void {
    const encoding = this.encoding;
    assert(encoding !== null, 'no snapshot in slices to finish');
    this.encoding = null;
    this.storeSnapshot({ meta: encoding.meta, data });
    this.applyHeldSlice();
  }

  /** applyHeldSlice applies the oldest held-back entries, at most a slice, and comes back next turn while some remain. */
  private applyHeldSlice(): void {
    const held = this.held;
    if (this.stopped || held === null || this.encoding !== null) return;
    try {
      const slice = held.splice(0, this.deps.heldApplySliceEntries ?? HELD_APPLY_SLICE_ENTRIES);
      // Emptied, the queue goes: what commits from now on applies at once, after this slice (nothing runs between).
      if (held.length === 0) this.held = null;
      this.applyNow(slice);
      this.reads.settle(this.appApplied);
      this.kick();
      if (this.held !== null) this.scheduler.defer(() => this.applyHeldSlice());
    } catch (err) {
      this.fatal(err);
    }
  }

  /** applyHeldNow applies every held-back entry at once (an install or the memory bound needs them applied). */
  private applyHeldNow(): void {
    const held = this.held;
    if (held === null) return;
    assert(this.encoding === null, 'held entries applied while a snapshot still needs the table at its index');
    this.held = null;
    this.applyNow(held);
  }

  /** storeSnapshot writes a snapshot taken here (one synced batch) and compacts the log once it is durable. */
  private storeSnapshot(snapshot: Snapshot): void {
    const meta = snapshot.meta;
    this.store.saveSnapshot(snapshot, (err) => {
      this.snapshotInFlight = false;
      if (this.stopped) return;
      if (err !== null) return this.fatal(err);
      // A newer snapshot from the leader may have been installed while this one was written.
      if (meta.index <= (this.lastSnapshot?.meta.index ?? 0)) return;
      this.guarded(() => {
        this.node.compact(meta);
        this.lastSnapshot = snapshot;
        this.stats.snapshotsTaken++;
        // Stryker disable next-line ObjectLiteral,StringLiteral: a log line; nothing reads it
        this.deps.logger.info({ index: meta.index, bytes: snapshot.data.length }, 'snapshot taken, log compacted');
      });
    });
  }
}
