import type {
  AppendMessage,
  AppendResponseMessage,
  DurableState,
  Entry,
  HeartbeatMessage,
  HeartbeatResponseMessage,
  Message,
  NodeId,
  ProposeResult,
  RaftConfig,
  ReadIndexResult,
  Ready,
  Role,
  SnapshotMessage,
  SnapshotMeta,
  VoteResponseMessage,
} from './types.js';
import { RaftState } from './raft-state.js';
import { hasQuorum } from './quorum.js';
import {
  appendProposal,
  broadcastHeartbeat,
  handleAppendResponse,
  handleHeartbeatResponse,
  handleSnapshotStatus,
  handleUnreachable,
  startLeadershipTransfer,
} from './leader-replication.js';
import { requestReadIndex } from './leader-reads.js';
import { ReadyCycle } from './ready-cycle.js';
import { campaign, handleTimeoutNow, handleVote, handleVoteResponse } from './elections.js';
import { assert } from './invariant.js';

/**
 * RaftNode is the consensus core: a synchronous, deterministic state machine
 * in the shape of etcd-io/raft. The host feeds it tick(), step() and
 * proposals, takes Ready batches, does the I/O, and calls advance(). It reads
 * no clock and does no I/O; randomness comes from config.random.
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly s: RaftState;
  private readonly readyCycle: ReadyCycle;

  constructor(config: RaftConfig, durable: DurableState) {
    // The checks call the protected methods, so a subclass's overrides take effect everywhere the rules apply.
    this.s = new RaftState(config, durable, {
      isLogUpToDate: (lastIndex, lastTerm) => this.isLogUpToDate(lastIndex, lastTerm),
      canCommitAt: (index) => this.canCommitAt(index),
    });
    this.id = this.s.id;
    this.s.becomeFollower(this.s.currentTerm, null);
    this.readyCycle = new ReadyCycle(this.s);
  }

  // ---- Read-only views -------------------------------------------------------

  get role(): Role {
    return this.s.currentRole;
  }
  get term(): number {
    return this.s.currentTerm;
  }
  get leader(): NodeId | null {
    return this.s.leaderId;
  }
  get vote(): NodeId | null {
    return this.s.votedFor;
  }
  get commitIndex(): number {
    return this.s.raftLog.committed;
  }
  get appliedIndex(): number {
    return this.s.raftLog.applied;
  }
  get firstIndex(): number {
    return this.s.raftLog.firstIndex();
  }
  get lastIndex(): number {
    return this.s.raftLog.lastIndex();
  }
  get transferee(): NodeId | null {
    return this.s.leadTransferee;
  }

  voters(): readonly NodeId[] {
    return this.s.voters();
  }

  termAt(index: number): number | null {
    return this.s.raftLog.term(index);
  }

  entries(lo: number, hiInclusive: number): Entry[] {
    if (hiInclusive < lo) return [];
    return this.s.raftLog.slice(lo, hiInclusive, Number.MAX_SAFE_INTEGER);
  }

  /** progressOf exposes the leader's view of a follower, for metrics and tests. */
  progressOf(peer: NodeId): { match: number; next: number; state: string; inflight: number } | null {
    const pr = this.s.progress.get(peer);
    return pr === undefined ? null : { match: pr.match, next: pr.next, state: pr.state, inflight: pr.inflightCount() };
  }

  // ---- Ticks ------------------------------------------------------------------

  /** tick advances logical time by one tick. */
  tick(): void {
    if (this.s.currentRole === 'leader') this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.s.electionElapsed++;
    if (this.s.electionElapsed >= this.s.randomizedElectionTicks && this.s.isVoter(this.id)) {
      this.s.electionElapsed = 0;
      campaign(this.s, this.s.cfg.preVote ? 'preVote' : 'vote', false);
    }
  }

  private tickLeader(): void {
    this.s.heartbeatElapsed++;
    this.s.electionElapsed++;
    if (this.s.electionElapsed >= this.s.cfg.electionTicks) {
      this.s.electionElapsed = 0;
      // CheckQuorum (thesis §6.2): a leader that has not heard from a majority within an election timeout steps down.
      if (this.s.cfg.checkQuorum && !this.checkQuorumActive()) {
        this.s.becomeFollower(this.s.currentTerm, null);
        return;
      }
      // Thesis §3.10: a transfer that has not completed within an election timeout is aborted.
      this.s.leadTransferee = null;
    }
    if (this.s.heartbeatElapsed >= this.s.cfg.heartbeatTicks) {
      this.s.heartbeatElapsed = 0;
      broadcastHeartbeat(this.s, this.s.reads.latestContext());
    }
  }

  private checkQuorumActive(): boolean {
    const active = new Set<NodeId>([this.id]);
    for (const [peer, pr] of this.s.progress) {
      if (pr.recentActive) active.add(peer);
      pr.recentActive = false;
    }
    return hasQuorum(this.voters(), active);
  }

  // ---- Election restriction (elections.ts applies it) ------------------------

  /** isLogUpToDate is the Raft §5.4.1 election restriction. Overridden only by broken test variants. */
  protected isLogUpToDate(lastIndex: number, lastTerm: number): boolean {
    return this.s.raftLog.isUpToDate(lastIndex, lastTerm);
  }

  // ---- Step --------------------------------------------------------------------

  /** step handles one message from a peer. Messages from stale terms or unknown senders are ignored, never thrown on. */
  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id) return;
    if (!this.stepTerm(m)) return;

    switch (m.type) {
      case 'vote':
      case 'preVote':
        handleVote(this.s, m);
        return;
      case 'voteResponse':
      case 'preVoteResponse':
        handleVoteResponse(this.s, m);
        return;
      case 'append':
        this.followLeader(m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.followLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case 'snapshot':
        this.followLeader(m.from);
        this.handleSnapshot(m);
        return;
      case 'appendResponse':
        handleAppendResponse(this.s, m);
        return;
      case 'heartbeatResponse':
        handleHeartbeatResponse(this.s, m);
        return;
      case 'timeoutNow':
        handleTimeoutNow(this.s, m);
        return;
    }
  }

  /**
   * stepTerm applies the term rules every message obeys (Raft §5.1: a higher
   * term makes us follow it; a lower one is stale) with the PreVote and
   * CheckQuorum refinements of thesis §9.6 and §4.2.3. Returns whether to go on
   * handling the message.
   */
  private stepTerm(m: Message): boolean {
    // A campaign from outside the configuration must not raise our term or win our vote.
    if ((m.type === 'vote' || m.type === 'preVote') && !this.s.isVoter(m.from)) return false;
    if (m.term > this.s.currentTerm) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // Thesis §4.2.3: while we hear from a live leader, ignore campaigns (unless a transfer caused them),
        // so a node rejoining from a partition cannot depose a healthy leader.
        const inLease = this.s.cfg.checkQuorum && this.s.leaderId !== null && this.s.electionElapsed < this.s.cfg.electionTicks;
        if (inLease && !m.transfer) return false;
      }
      if (m.type === 'preVote') return true; // answering a pre-vote changes nothing here (thesis §9.6)
      if (m.type === 'preVoteResponse' && !m.reject) return true; // a grant at the term we would campaign at
      const isFromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
      this.s.becomeFollower(m.term, isFromLeader ? m.from : null);
      return true;
    }
    if (m.term < this.s.currentTerm) {
      if ((this.s.cfg.checkQuorum || this.s.cfg.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
        // A stale leader that cannot hear higher-term votes (PreVote or CheckQuorum suppresses them) learns our term from this reply and steps down.
        this.s.send<AppendResponseMessage>({ type: 'appendResponse', from: this.id, to: m.from, term: this.s.currentTerm, reject: true, index: 0, hintIndex: 0, hintTerm: 0 });
      } else if (m.type === 'preVote') {
        this.s.send<VoteResponseMessage>({ type: 'preVoteResponse', from: this.id, to: m.from, term: this.s.currentTerm, reject: true });
      }
      return false;
    }
    return true;
  }

  private followLeader(leader: NodeId): void {
    if (this.s.currentRole === 'leader') {
      // Raft §5.2 election safety: two leaders in one term is a bug, not a case to handle.
      assert(false, () => `${this.id}: leader of term ${this.s.currentTerm} got leader traffic from ${leader} in the same term`);
    }
    if (this.s.currentRole !== 'follower') this.s.becomeFollower(this.s.currentTerm, leader);
    this.s.leaderId = leader;
    this.s.electionElapsed = 0;
  }

  // ---- Follower side of replication ------------------------------------------

  private handleAppend(m: AppendMessage): void {
    const respond = (reject: boolean, index: number, hintIndex = 0, hintTerm = 0): void =>
      this.s.send<AppendResponseMessage>({ type: 'appendResponse', from: this.id, to: m.from, term: this.s.currentTerm, reject, index, hintIndex, hintTerm });
    if (m.prevLogIndex < this.s.raftLog.committed) {
      // Everything up to our commit index matches the leader's log (Leader Completeness); say where we are.
      respond(false, this.s.raftLog.committed);
      return;
    }
    const lastNew = this.s.raftLog.maybeAppend(m.prevLogIndex, m.prevLogTerm, m.commit, m.entries);
    if (lastNew !== null) {
      respond(false, lastNew);
      return;
    }
    // Raft §5.3 "optimization": tell the leader where our log may match, skipping a conflicting term at once.
    const hint = this.s.raftLog.findConflictByTerm(Math.min(m.prevLogIndex, this.s.raftLog.lastIndex()), m.prevLogTerm);
    respond(true, m.prevLogIndex, hint.index, hint.term);
  }

  private handleHeartbeat(m: HeartbeatMessage): void {
    // The leader sends min(match, commit), so we hold every entry up to m.commit.
    this.s.raftLog.commitTo(Math.min(m.commit, this.s.raftLog.lastIndex()));
    this.s.send<HeartbeatResponseMessage>({ type: 'heartbeatResponse', from: this.id, to: m.from, term: this.s.currentTerm, context: m.context });
  }

  private handleSnapshot(m: SnapshotMessage): void {
    const meta = m.meta;
    let index: number;
    if (meta.index <= this.s.raftLog.committed) {
      index = this.s.raftLog.committed;
    } else if (this.s.raftLog.matchTerm(meta.index, meta.term)) {
      // Raft §7: our log already holds the snapshot's last entry; keep what follows and fast-forward the commit.
      this.s.raftLog.commitTo(meta.index);
      index = meta.index;
    } else {
      assert(m.data !== null, 'a snapshot message must carry data when stepped');
      this.s.raftLog.restore({ meta, data: m.data });
      this.s.uncommittedBytes = 0;
      index = meta.index;
    }
    this.s.send<AppendResponseMessage>({ type: 'appendResponse', from: this.id, to: m.from, term: this.s.currentTerm, reject: false, index, hintIndex: 0, hintTerm: 0 });
  }

  // ---- Commit rule (leader-replication.ts applies it) ---------------------------

  /** canCommitAt is Raft §5.4.2: a leader commits by counting replicas only entries of its own term. Overridden only by broken test variants. */
  protected canCommitAt(index: number): boolean {
    return this.s.raftLog.term(index) === this.s.currentTerm;
  }

  // ---- Host requests -----------------------------------------------------------

  /** propose appends a command to the log if this node leads; the answer says where it landed or who leads. */
  propose(data: Uint8Array): ProposeResult {
    return appendProposal(this.s, data);
  }

  /** readIndex asks for a linearizable read point (thesis §6.4); a ReadState with `context` arrives in a later Ready. */
  readIndex(context: string): ReadIndexResult {
    return requestReadIndex(this.s, context);
  }

  /** transferLeadership starts handing leadership to `to` (thesis §3.10); returns false when that is not possible now. */
  transferLeadership(to: NodeId): boolean {
    return startLeadershipTransfer(this.s, to);
  }

  /** reportUnreachable tells the core a send to `peer` failed; replication falls back to probing. */
  reportUnreachable(peer: NodeId): void {
    handleUnreachable(this.s, peer);
  }

  /** reportSnapshot tells the core whether sending a snapshot to `peer` finished. */
  reportSnapshot(peer: NodeId, ok: boolean): void {
    handleSnapshotStatus(this.s, peer, ok);
  }

  // ---- Ready / advance -------------------------------------------------------------

  /** hasReady says whether ready() would return any work. */
  hasReady(): boolean {
    return this.readyCycle.hasReady();
  }

  /** ready collects the next batch of work; call advance(rd) before asking again. */
  ready(): Ready {
    return this.readyCycle.ready();
  }

  /** advance tells the core the host has done everything `rd` asked. */
  advance(rd: Ready): void {
    this.readyCycle.advance(rd);
  }

  /**
   * takeCommitted hands out committed entries that are durable here, outside
   * the Ready cycle, so a host can apply them while a write is still syncing
   * (applying needs no write of its own). It shares the cursor with ready(), so
   * no entry is handed out twice; the host must apply what ready() handed out
   * before anything taken here, and report with appliedTo().
   */
  takeCommitted(): Entry[] {
    return this.s.raftLog.takeNextCommitted(this.s.cfg.maxApplyBytes);
  }

  /** appliedTo records that the host applied every entry up to `index`. */
  appliedTo(index: number): void {
    this.s.raftLog.appliedTo(index);
  }

  // ---- Snapshots -----------------------------------------------------------------

  /** snapshotMetaAt returns the metadata for a snapshot of the state machine at `index` (which must be applied). */
  snapshotMetaAt(index: number): SnapshotMeta {
    assert(index >= this.s.raftLog.snapshot.index && index <= this.s.raftLog.applied, () => `snapshot at ${index} outside [${this.s.raftLog.snapshot.index}, ${this.s.raftLog.applied}]`);
    const term = this.s.raftLog.term(index);
    assert(term !== null, () => `no term at ${index}`);
    return { index, term, config: this.s.raftLog.configAt(index) };
  }

  /** compact drops log entries covered by a snapshot the host has durably stored. */
  compact(meta: SnapshotMeta): void {
    this.s.raftLog.compact(meta);
  }
}

