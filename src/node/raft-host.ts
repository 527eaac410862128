import { randomInt } from 'node:crypto';
import {
  DEFAULT_LIMITS,
  RaftNode,
  SeededRandom,
  assert,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type Ready,
  type SoftState,
  type Snapshot,
} from '../raft/index.js';
import { RaftStorage } from '../storage/index.js';
import { PeerTransport } from '../transport/index.js';
import { NotLeaderError, OutcomeUnknownError, OverloadedError, ProposalDroppedError, RaftLockError } from './errors.js';

/** ReplicatedApp is the state machine a RaftHost drives: pure apply, snapshot and restore. */
export interface ReplicatedApp {
  /** applyEntry applies one committed command; the return value answers the proposer. */
  applyEntry(data: Uint8Array, index: number): unknown;
  snapshot(): Uint8Array;
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

/** RaftHostOptions configures one member. */
export interface RaftHostOptions {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly dataDir: string;
  /** Every voting member's peer address as this node should dial it (this node's own included). */
  readonly peers: Readonly<Record<NodeId, HostAddress>>;
  readonly listen: HostAddress;
  readonly secret?: string;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly snapshotEveryEntries: number;
  /** How long a proposer waits for its entry to apply before answering outcome_unknown. */
  readonly proposalTimeoutMs: number;
  readonly maxPendingProposals: number;
  readonly logger: Logger;
  readonly app: ReplicatedApp;
  readonly onSoftState?: (soft: SoftState) => void;
  readonly onFatal?: (err: unknown) => void;
}

interface PendingProposal {
  readonly term: number;
  readonly resolve: (result: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface PendingRead {
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
  index: number | null;
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
}

/**
 * RaftHost is the edge that drives the pure core: it owns the tick timer, the
 * LevelDB store, the peer transport and the Ready loop. Proposals that arrive
 * while a write is being synced join the next Ready: one batch and one fsync
 * for all of them (group commit).
 */
export class RaftHost {
  readonly id: NodeId;
  private readonly node: RaftNode;
  private readonly transport: PeerTransport;
  private lastSnapshot: Snapshot | null;
  private readonly proposals = new Map<number, PendingProposal>();
  private readonly reads = new Map<string, PendingRead>();
  private readSeq = 0;
  private tickTimer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private wakeScheduled = false;
  private loopDone: Promise<void> | null = null;
  private stopped = false;
  private persistedTerm: number;
  private persistedVote: NodeId | null;
  private lastSoft: SoftState;
  /** The newest hard state not yet written: only its commit index differs from what is durable. */
  private unsyncedHardState: HardState | null = null;
  /** A snapshot is being written; the next is not taken until it is durable. */
  private snapshotInFlight = false;
  readonly stats: HostStats = { proposals: 0, proposalsFailed: 0, syncs: 0, syncedEntries: 0, syncMsTotal: 0, snapshotsTaken: 0, snapshotsInstalled: 0, lastSyncMs: 0 };
  /**
   * Where in each `snapshotEveryEntries` interval this member snapshots: member k of n (in sorted id order) at k/n of
   * it, so no two members serialize and write their table at the same time. When a majority did, every commit
   * stalled (the old offset, a hash of the id, put n1, n2 and n3 one entry apart).
   */
  private readonly snapshotPhase: number;
  /** Observer for fsync latency (ms), set by the metrics layer. */
  onSyncMs: ((ms: number) => void) | null = null;

  private constructor(
    private readonly opts: RaftHostOptions,
    private readonly storage: RaftStorage,
    node: RaftNode,
    snapshot: Snapshot | null,
  ) {
    this.id = opts.id;
    this.node = node;
    this.lastSnapshot = snapshot;
    this.persistedTerm = node.term;
    this.persistedVote = node.vote;
    this.lastSoft = { role: node.role, leader: node.leader, term: node.term };
    const members = Object.keys(opts.peers).sort();
    this.snapshotPhase = Math.floor((members.indexOf(opts.id) * opts.snapshotEveryEntries) / members.length);
    const peerAddrs: Record<NodeId, HostAddress> = {};
    for (const [peer, addr] of Object.entries(opts.peers)) if (peer !== opts.id) peerAddrs[peer] = addr;
    this.transport = new PeerTransport({
      id: opts.id,
      listen: opts.listen,
      peers: peerAddrs,
      clusterId: opts.clusterId,
      ...(opts.secret !== undefined ? { secret: opts.secret } : {}),
      logger: opts.logger,
      onMessage: (m) => this.onPeerMessage(m),
      onUnreachable: (peer) => {
        this.node.reportUnreachable(peer);
        this.kick();
      },
      onSnapshotSent: (peer, ok) => {
        this.node.reportSnapshot(peer, ok);
        this.kick();
      },
    });
  }

  /**
   * open loads (or creates) the member's store and restores the state machine.
   * A damaged store or one that belongs to another node throws, and the node must not start.
   */
  static async open(opts: RaftHostOptions): Promise<RaftHost> {
    const voters = Object.keys(opts.peers).sort();
    assert(voters.includes(opts.id), `--peers must list this node (${opts.id})`);
    const { storage, durable, snapshot } = await RaftStorage.open(opts.dataDir, { nodeId: opts.id, clusterId: opts.clusterId, voters });
    if (snapshot !== null && snapshot.meta.index > 0) opts.app.restore(snapshot.data);
    const node = new RaftNode(
      { ...DEFAULT_LIMITS, id: opts.id, electionTicks: opts.electionTicks, random: new SeededRandom(randomInt(0, 2 ** 31)) },
      durable,
    );
    return new RaftHost(opts, storage, node, snapshot);
  }

  async start(): Promise<{ peerPort: number }> {
    const { port } = await this.transport.start();
    this.tickTimer = setInterval(() => {
      this.node.tick();
      this.kick();
    }, this.opts.tickMs);
    this.loopDone = this.loop().catch((err: unknown) => this.fatal(err));
    this.kick();
    return { peerPort: port };
  }

  /** stop ends the loop after the current write, closes the transport and the store. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    this.wake?.();
    await this.loopDone;
    await this.transport.stop();
    for (const [index, p] of this.proposals) {
      clearTimeout(p.timer);
      p.reject(new OutcomeUnknownError('the node is shutting down'));
      this.proposals.delete(index);
    }
    this.failReads(new RaftLockError('shutting_down', 'the node is shutting down'));
    await this.storage.close();
  }

  private fatal(err: unknown): void {
    this.opts.logger.error({ err }, 'fatal error in the raft loop');
    this.stopped = true;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    this.opts.onFatal?.(err);
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
    return this.node.appliedIndex;
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
  isLeader(): boolean {
    return this.node.role === 'leader';
  }

  // ---- Requests ----------------------------------------------------------------

  /** propose replicates `data` and resolves with the app's result once it is applied here. */
  propose(data: Uint8Array): Promise<unknown> {
    if (this.stopped) return Promise.reject(new RaftLockError('shutting_down', 'the node is shutting down'));
    if (this.proposals.size >= this.opts.maxPendingProposals) return Promise.reject(new OverloadedError('the proposal queue'));
    const r = this.node.propose(data);
    if (!r.ok) {
      this.stats.proposalsFailed++;
      if (r.reason === 'overloaded') return Promise.reject(new OverloadedError('the replication backlog'));
      return Promise.reject(new NotLeaderError(r.leader));
    }
    this.stats.proposals++;
    this.kick();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.proposals.delete(r.index);
        reject(new OutcomeUnknownError());
      }, this.opts.proposalTimeoutMs);
      this.proposals.set(r.index, { term: r.term, resolve, reject, timer });
    });
  }

  /** readBarrier resolves once this node (the leader) has applied everything committed before the call (thesis §6.4). */
  readBarrier(timeoutMs: number): Promise<void> {
    const context = `${this.id}:${++this.readSeq}`;
    const r = this.node.readIndex(context);
    if (!r.ok) return Promise.reject(r.reason === 'overloaded' ? new OverloadedError('the read queue') : new NotLeaderError(r.leader));
    this.kick();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(context);
        reject(new NotLeaderError(this.node.leader === this.id ? null : this.node.leader));
      }, timeoutMs);
      this.reads.set(context, { resolve, reject, timer, index: null });
    });
  }

  /** transferLeadership asks the core to hand leadership to `to`. */
  transferLeadership(to: NodeId): boolean {
    const ok = this.node.transferLeadership(to);
    this.kick();
    return ok;
  }

  // ---- The loop ----------------------------------------------------------------

  private onPeerMessage(m: Message): void {
    if (this.stopped) return;
    this.node.step(m);
    this.kick();
  }

  /** kick wakes the loop at the end of this event-loop turn, so everything that arrived in the turn shares one Ready. */
  private kick(): void {
    // Scheduled even while the loop is awaiting a write: committed entries are applied then too.
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      if (!this.stopped) this.applyCommitted();
      const wake = this.wake;
      this.wake = null;
      wake?.();
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      if (!this.node.hasReady()) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      await this.handleReady(this.node.ready());
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    // Thesis §10.2.1: a leader may send AppendEntries before its own write is durable, since it counts itself
    // toward commit only after advance(). Not when this Ready also changes term or vote: those must be durable first.
    const sendEarly =
      rd.softState.role === 'leader' && (rd.hardState === null || (rd.hardState.term === this.persistedTerm && rd.hardState.vote === this.persistedVote));
    if (sendEarly) this.send(rd.messages);
    // Like etcd's MustSync: entries, a snapshot, a term or a vote must be durable before anything depends on them, but
    // a change of the commit index alone need not be (a restarted node learns it again from the leader). It rides
    // with the next synced write, saving an fsync per commit on every node.
    if (rd.hardState !== null) this.unsyncedHardState = rd.hardState;
    const termOrVoteChanged = rd.hardState !== null && (rd.hardState.term !== this.persistedTerm || rd.hardState.vote !== this.persistedVote);
    const hardState = this.unsyncedHardState;
    let write: Promise<void> | null = null;
    const started = performance.now();
    if (rd.snapshot !== null || rd.entries.length > 0 || termOrVoteChanged) {
      this.unsyncedHardState = null;
      write = this.storage.save({ snapshot: rd.snapshot, entries: rd.entries, hardState });
    }
    // The write is issued first, then the committed entries (already durable here and on a majority) are applied
    // while it syncs: answers do not wait for an fsync of unrelated newer entries, and the disk does not wait for
    // the answers to be written out.
    this.applyEntries(rd.committedEntries);
    if (write !== null) {
      await write;
      const ms = performance.now() - started;
      this.stats.syncs++;
      this.stats.syncedEntries += rd.entries.length;
      this.stats.syncMsTotal += ms;
      this.stats.lastSyncMs = ms;
      this.onSyncMs?.(ms);
      if (hardState !== null) {
        this.persistedTerm = hardState.term;
        this.persistedVote = hardState.vote;
      }
    }
    if (!sendEarly) this.send(rd.messages);
    if (rd.snapshot !== null) this.installSnapshot(rd.snapshot);
    this.node.advance(rd);
    for (const read of rd.readStates) {
      const pending = this.reads.get(read.context);
      if (pending !== undefined) pending.index = read.index;
    }
    // What advance() committed (a leader's own write completing a majority) is applied by the kick, after the next
    // Ready's write has been issued, for the same reason.
    this.kick();
    this.settleReads();
    this.noticeSoftState(rd.softState);
    this.maybeSnapshot();
  }

  private applyEntries(entries: readonly Entry[]): void {
    for (const entry of entries) {
      let result: unknown = undefined;
      if (entry.type === 'normal' && entry.data.length > 0) result = this.opts.app.applyEntry(entry.data, entry.index);
      this.settleProposal(entry.index, entry.term, result);
    }
  }

  /** applyCommitted applies whatever committed since the last Ready, without waiting for a write in flight. */
  private applyCommitted(): void {
    for (let round = 0; round < 1000; round++) {
      const entries = this.node.takeCommitted();
      const last = entries[entries.length - 1];
      if (last === undefined) break;
      this.applyEntries(entries);
      this.node.appliedTo(last.index);
    }
    this.settleReads();
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

  private settleProposal(index: number, term: number, result: unknown): void {
    const p = this.proposals.get(index);
    if (p === undefined) return;
    this.proposals.delete(index);
    clearTimeout(p.timer);
    // Raft §5.3 log matching: the same index with the same term is the same entry; another term means ours was overwritten.
    if (p.term === term) p.resolve(result);
    else p.reject(new ProposalDroppedError());
  }

  private installSnapshot(snapshot: Snapshot): void {
    this.opts.app.restore(snapshot.data);
    this.lastSnapshot = snapshot;
    this.stats.snapshotsInstalled++;
    // Proposals covered by the snapshot: we cannot tell whether ours or another leader's entry landed there.
    for (const [index, p] of this.proposals) {
      if (index > snapshot.meta.index) continue;
      this.proposals.delete(index);
      clearTimeout(p.timer);
      p.reject(new OutcomeUnknownError());
    }
  }

  private settleReads(): void {
    const applied = this.node.appliedIndex;
    for (const [context, read] of this.reads) {
      if (read.index === null || read.index > applied) continue;
      this.reads.delete(context);
      clearTimeout(read.timer);
      read.resolve();
    }
  }

  private failReads(err: Error): void {
    for (const [context, read] of this.reads) {
      this.reads.delete(context);
      clearTimeout(read.timer);
      read.reject(err);
    }
  }

  private noticeSoftState(soft: SoftState): void {
    const prev = this.lastSoft;
    if (prev.role === soft.role && prev.leader === soft.leader && prev.term === soft.term) return;
    this.lastSoft = soft;
    this.opts.logger.info({ role: soft.role, term: soft.term, leader: soft.leader }, 'raft state changed');
    // Reads waiting on a leadership this node no longer has cannot complete here; their callers retry elsewhere.
    if (prev.role === 'leader' && (soft.role !== 'leader' || soft.term !== prev.term)) this.failReads(new NotLeaderError(soft.leader));
    this.opts.onSoftState?.(soft);
  }

  /**
   * maybeSnapshot serializes the state machine every `snapshotEveryEntries` applied entries (at this member's phase)
   * and stores it. The Ready loop does not wait for the store: a snapshot of many thousands of locks takes a synced
   * multi-megabyte write, and on a leader the loop must keep sending appends meanwhile, so that the followers' fsyncs
   * keep committing (a majority without the leader's own copy). Writes stay in call order in the store, so later
   * entries are written after the snapshot; the log is compacted once the snapshot is durable. The serialization
   * itself is synchronous: a 1M-lock table blocks this member for about 2.4 s (a leader then loses leadership).
   */
  private maybeSnapshot(): void {
    if (this.snapshotInFlight) return;
    const applied = this.node.appliedIndex;
    const snapIndex = this.lastSnapshot?.meta.index ?? 0;
    if (applied < nextSnapshotIndex(snapIndex, this.snapshotPhase, this.opts.snapshotEveryEntries)) return;
    // A leader's snapshot stepped in since this Ready moved the log past what is applied here; wait for it to install.
    if (applied < this.node.firstIndex - 1) return;
    const meta = this.node.snapshotMetaAt(applied);
    const snapshot: Snapshot = { meta, data: this.opts.app.snapshot() };
    this.snapshotInFlight = true;
    this.storage.saveSnapshot(snapshot).then(
      () => {
        this.snapshotInFlight = false;
        if (this.stopped) return;
        // A newer snapshot from the leader may have been installed while this one was written.
        if (meta.index <= (this.lastSnapshot?.meta.index ?? 0)) return;
        this.node.compact(meta);
        this.lastSnapshot = snapshot;
        this.stats.snapshotsTaken++;
        this.opts.logger.info({ index: meta.index, bytes: snapshot.data.length }, 'snapshot taken, log compacted');
      },
      (err: unknown) => {
        this.snapshotInFlight = false;
        if (!this.stopped) this.fatal(err);
      },
    );
  }
}

/** nextSnapshotIndex is the first index after `snapIndex` on this member's grid: `phase` plus a multiple of `every`. */
export function nextSnapshotIndex(snapIndex: number, phase: number, every: number): number {
  assert(every >= 1 && phase >= 0 && phase < every, `snapshot phase ${phase} must be within [0, ${every})`);
  const sincePhase = (((snapIndex - phase) % every) + every) % every;
  return snapIndex - sincePhase + every;
}
