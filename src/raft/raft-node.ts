import type {
  AppendMessage,
  AppendResponseMessage,
  DurableState,
  Entry,
  HardState,
  HeartbeatMessage,
  HeartbeatResponseMessage,
  Message,
  NodeId,
  ProposeResult,
  RaftConfig,
  ReadIndexResult,
  ReadState,
  Ready,
  Role,
  SnapshotMessage,
  SnapshotMeta,
  SoftState,
  VoteMessage,
  VoteResponseMessage,
} from './types.js';
import { RaftLog } from './raft-log.js';
import { Progress } from './progress.js';
import { committedIndex, hasQuorum, tallyVotes } from './quorum.js';
import { ReadIndexQueue } from './read-index.js';
import { assert } from './invariant.js';

/** Upper bound on messages queued between two Readys; beyond it messages are dropped, which Raft tolerates like network loss. */
const MAX_QUEUED_MESSAGES = 65_536;

const EMPTY = new Uint8Array(0);

/**
 * RaftNode is the consensus core: a synchronous, deterministic state machine
 * in the shape of etcd-io/raft. The host feeds it tick(), step() and
 * proposals, takes Ready batches, does the I/O, and calls advance(). It reads
 * no clock and does no I/O; randomness comes from config.random.
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly cfg: RaftConfig;
  private readonly raftLog: RaftLog;

  private currentTerm: number;
  private votedFor: NodeId | null;
  private currentRole: Role = 'follower';
  private leaderId: NodeId | null = null;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTicks = 0;

  private readonly votes = new Map<NodeId, boolean>();
  private readonly progress = new Map<NodeId, Progress>();
  private leadTransferee: NodeId | null = null;
  private uncommittedBytes = 0;
  private readonly reads = new ReadIndexQueue();
  /** Set when proposals or a commit advance call for an AppendEntries round; flushed once per Ready (batching). */
  private broadcastPending = false;
  private readHeartbeatPending = false;

  private messages: Message[] = [];
  private readStates: ReadState[] = [];
  private lastHandedHardState: HardState;
  private lastHandedSoftState: SoftState;
  private readyOutstanding = false;

  constructor(config: RaftConfig, durable: DurableState) {
    assert(config.electionTicks > config.heartbeatTicks && config.heartbeatTicks > 0, 'need electionTicks > heartbeatTicks > 0');
    assert(config.maxInflightAppends > 0 && config.maxAppendBytes > 0, 'replication bounds must be positive');
    this.id = config.id;
    this.cfg = config;
    this.raftLog = new RaftLog(durable.snapshotMeta, durable.entries, durable.hardState.commit);
    this.currentTerm = durable.hardState.term;
    this.votedFor = durable.hardState.vote;
    assert(this.raftLog.lastTerm() <= this.currentTerm, 'log holds an entry from a future term');
    this.lastHandedHardState = this.hardState();
    this.becomeFollower(this.currentTerm, null);
    this.lastHandedSoftState = this.softState();
  }

  // ---- Read-only views -------------------------------------------------------

  get role(): Role {
    return this.currentRole;
  }
  get term(): number {
    return this.currentTerm;
  }
  get leader(): NodeId | null {
    return this.leaderId;
  }
  get vote(): NodeId | null {
    return this.votedFor;
  }
  get commitIndex(): number {
    return this.raftLog.committed;
  }
  get appliedIndex(): number {
    return this.raftLog.applied;
  }
  get firstIndex(): number {
    return this.raftLog.firstIndex();
  }
  get lastIndex(): number {
    return this.raftLog.lastIndex();
  }
  get transferee(): NodeId | null {
    return this.leadTransferee;
  }

  voters(): readonly NodeId[] {
    return this.raftLog.config().voters;
  }

  termAt(index: number): number | null {
    return this.raftLog.term(index);
  }

  entries(lo: number, hiInclusive: number): Entry[] {
    if (hiInclusive < lo) return [];
    return this.raftLog.slice(lo, hiInclusive, Number.MAX_SAFE_INTEGER);
  }

  /** progressOf exposes the leader's view of a follower, for metrics and tests. */
  progressOf(peer: NodeId): { match: number; next: number; state: string; inflight: number } | null {
    const pr = this.progress.get(peer);
    return pr === undefined ? null : { match: pr.match, next: pr.next, state: pr.state, inflight: pr.inflightCount() };
  }

  private hardState(): HardState {
    return { term: this.currentTerm, vote: this.votedFor, commit: this.raftLog.committed };
  }

  private softState(): SoftState {
    return { role: this.currentRole, leader: this.leaderId, term: this.currentTerm };
  }

  private isVoter(id: NodeId): boolean {
    return this.voters().includes(id);
  }

  private peers(): NodeId[] {
    return this.voters().filter((id) => id !== this.id);
  }

  // ---- Role changes ----------------------------------------------------------

  private reset(term: number): void {
    if (this.currentTerm !== term) {
      assert(term > this.currentTerm, () => `term must not go back (${this.currentTerm} -> ${term})`);
      this.currentTerm = term;
      this.votedFor = null;
    }
    this.leaderId = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    // Raft §5.2: randomized election timeouts in [electionTicks, 2 * electionTicks) make split votes rare.
    this.randomizedElectionTicks = this.cfg.electionTicks + this.cfg.random.nextInt(this.cfg.electionTicks);
    this.votes.clear();
    this.leadTransferee = null;
    this.broadcastPending = false;
    this.readHeartbeatPending = false;
    this.reads.clear();
    this.progress.clear();
  }

  private becomeFollower(term: number, leader: NodeId | null): void {
    this.reset(term);
    this.currentRole = 'follower';
    this.leaderId = leader;
  }

  private becomePreCandidate(): void {
    assert(this.currentRole !== 'leader', 'a leader does not become pre-candidate');
    // Thesis §9.6: a pre-candidate changes neither its term nor its vote.
    this.votes.clear();
    this.currentRole = 'preCandidate';
    this.leaderId = null;
    // A fresh random timeout for each pre-campaign, so two pre-candidates do not keep colliding (Raft §5.2).
    this.randomizedElectionTicks = this.cfg.electionTicks + this.cfg.random.nextInt(this.cfg.electionTicks);
  }

  private becomeCandidate(): void {
    assert(this.currentRole !== 'leader', 'a leader does not become candidate');
    // Raft §5.2: increment currentTerm and vote for self.
    this.reset(this.currentTerm + 1);
    this.votedFor = this.id;
    this.currentRole = 'candidate';
  }

  private becomeLeader(): void {
    assert(this.currentRole === 'candidate', 'only a candidate becomes leader');
    this.currentRole = 'leader';
    this.leaderId = this.id;
    this.uncommittedBytes = 0;
    const next = this.raftLog.lastIndex() + 1;
    for (const peer of this.peers()) {
      const pr = new Progress(next, this.cfg.maxInflightAppends);
      this.progress.set(peer, pr);
    }
    // Raft §8: a new leader commits a no-op of its own term, which also commits earlier-term entries (§5.4.2).
    this.appendEntry({ index: next, term: this.currentTerm, type: 'normal', data: EMPTY });
    this.broadcastPending = true;
  }

  // ---- Ticks ------------------------------------------------------------------

  /** tick advances logical time by one tick. */
  tick(): void {
    if (this.currentRole === 'leader') this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTicks && this.isVoter(this.id)) {
      this.electionElapsed = 0;
      this.campaign(this.cfg.preVote ? 'preVote' : 'vote', false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      // CheckQuorum (thesis §6.2): a leader that has not heard from a majority within an election timeout steps down.
      if (this.cfg.checkQuorum && !this.checkQuorumActive()) {
        this.becomeFollower(this.currentTerm, null);
        return;
      }
      // Thesis §3.10: a transfer that has not completed within an election timeout is aborted.
      this.leadTransferee = null;
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat(this.reads.latestContext());
    }
  }

  private checkQuorumActive(): boolean {
    const active = new Set<NodeId>([this.id]);
    for (const [peer, pr] of this.progress) {
      if (pr.recentActive) active.add(peer);
      pr.recentActive = false;
    }
    return hasQuorum(this.voters(), active);
  }

  // ---- Elections -----------------------------------------------------------------

  private campaign(kind: 'preVote' | 'vote', transfer: boolean): void {
    let term: number;
    if (kind === 'preVote') {
      this.becomePreCandidate();
      term = this.currentTerm + 1; // the term we would campaign at; ours is unchanged
    } else {
      this.becomeCandidate();
      term = this.currentTerm;
    }
    this.votes.set(this.id, true);
    if (this.poll() !== 'pending') return; // a single-voter cluster wins at once
    for (const peer of this.peers()) {
      this.send<VoteMessage>({
        type: kind,
        from: this.id,
        to: peer,
        term,
        lastLogIndex: this.raftLog.lastIndex(),
        lastLogTerm: this.raftLog.lastTerm(),
        transfer,
      });
    }
  }

  /** poll tallies the votes so far and acts on a decided election. */
  private poll(): 'won' | 'lost' | 'pending' {
    const result = tallyVotes(this.voters(), this.votes);
    if (result === 'won') {
      if (this.currentRole === 'preCandidate') this.campaign('vote', false);
      else this.becomeLeader();
    } else if (result === 'lost') {
      this.becomeFollower(this.currentTerm, null);
    }
    return result;
  }

  /** isLogUpToDate is the Raft §5.4.1 election restriction. Overridden only by broken test variants. */
  protected isLogUpToDate(lastIndex: number, lastTerm: number): boolean {
    return this.raftLog.isUpToDate(lastIndex, lastTerm);
  }

  private handleVote(m: VoteMessage): void {
    const isPreVote = m.type === 'preVote';
    // Raft Figure 2, RequestVote receiver rule 2: vote if not yet voted for another (in this term) and the log is up to date.
    const canVote =
      this.votedFor === m.from ||
      (this.votedFor === null && this.leaderId === null) ||
      (isPreVote && m.term > this.currentTerm);
    const grant = canVote && this.isLogUpToDate(m.lastLogIndex, m.lastLogTerm);
    if (grant && !isPreVote) {
      this.electionElapsed = 0;
      this.votedFor = m.from;
    }
    this.send<VoteResponseMessage>({
      type: isPreVote ? 'preVoteResponse' : 'voteResponse',
      from: this.id,
      to: m.from,
      // A granted pre-vote answers at the proposed term so the pre-candidate counts it; a rejection carries ours.
      term: grant ? m.term : this.currentTerm,
      reject: !grant,
    });
  }

  // ---- Step --------------------------------------------------------------------

  /** step handles one message from a peer. Messages from stale terms or unknown senders are ignored, never thrown on. */
  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id) return;
    if (!this.stepTerm(m)) return;

    switch (m.type) {
      case 'vote':
      case 'preVote':
        this.handleVote(m);
        return;
      case 'voteResponse':
      case 'preVoteResponse':
        this.handleVoteResponse(m);
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
        this.handleAppendResponse(m);
        return;
      case 'heartbeatResponse':
        this.handleHeartbeatResponse(m);
        return;
      case 'timeoutNow':
        this.handleTimeoutNow(m);
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
    if ((m.type === 'vote' || m.type === 'preVote') && !this.isVoter(m.from)) return false;
    if (m.term > this.currentTerm) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // Thesis §4.2.3: while we hear from a live leader, ignore campaigns (unless a transfer caused them),
        // so a node rejoining from a partition cannot depose a healthy leader.
        const inLease = this.cfg.checkQuorum && this.leaderId !== null && this.electionElapsed < this.cfg.electionTicks;
        if (inLease && !m.transfer) return false;
      }
      if (m.type === 'preVote') return true; // answering a pre-vote changes nothing here (thesis §9.6)
      if (m.type === 'preVoteResponse' && !m.reject) return true; // a grant at the term we would campaign at
      const isFromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
      this.becomeFollower(m.term, isFromLeader ? m.from : null);
      return true;
    }
    if (m.term < this.currentTerm) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
        // A stale leader that cannot hear higher-term votes (PreVote or CheckQuorum suppresses them) learns our term from this reply and steps down.
        this.send<AppendResponseMessage>({ type: 'appendResponse', from: this.id, to: m.from, term: this.currentTerm, reject: true, index: 0, hintIndex: 0, hintTerm: 0 });
      } else if (m.type === 'preVote') {
        this.send<VoteResponseMessage>({ type: 'preVoteResponse', from: this.id, to: m.from, term: this.currentTerm, reject: true });
      }
      return false;
    }
    return true;
  }

  private followLeader(leader: NodeId): void {
    if (this.currentRole === 'leader') {
      // Raft §5.2 election safety: two leaders in one term is a bug, not a case to handle.
      assert(false, () => `${this.id}: leader of term ${this.currentTerm} got leader traffic from ${leader} in the same term`);
    }
    if (this.currentRole !== 'follower') this.becomeFollower(this.currentTerm, leader);
    this.leaderId = leader;
    this.electionElapsed = 0;
  }

  private handleVoteResponse(m: VoteResponseMessage): void {
    const expected = this.currentRole === 'preCandidate' ? 'preVoteResponse' : this.currentRole === 'candidate' ? 'voteResponse' : null;
    if (m.type !== expected) return;
    if (!this.votes.has(m.from)) this.votes.set(m.from, !m.reject);
    this.poll();
  }

  private handleTimeoutNow(m: Message): void {
    if (this.currentRole !== 'follower' || m.from !== this.leaderId || !this.isVoter(this.id)) return;
    // Thesis §3.10: the transferee campaigns at once, skipping PreVote, and its votes bypass the leader lease.
    this.campaign('vote', true);
  }

  // ---- Follower side of replication ------------------------------------------

  private handleAppend(m: AppendMessage): void {
    const respond = (reject: boolean, index: number, hintIndex = 0, hintTerm = 0): void =>
      this.send<AppendResponseMessage>({ type: 'appendResponse', from: this.id, to: m.from, term: this.currentTerm, reject, index, hintIndex, hintTerm });
    if (m.prevLogIndex < this.raftLog.committed) {
      // Everything up to our commit index matches the leader's log (Leader Completeness); say where we are.
      respond(false, this.raftLog.committed);
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.prevLogIndex, m.prevLogTerm, m.commit, m.entries);
    if (lastNew !== null) {
      respond(false, lastNew);
      return;
    }
    // Raft §5.3 "optimization": tell the leader where our log may match, skipping a conflicting term at once.
    const hint = this.raftLog.findConflictByTerm(Math.min(m.prevLogIndex, this.raftLog.lastIndex()), m.prevLogTerm);
    respond(true, m.prevLogIndex, hint.index, hint.term);
  }

  private handleHeartbeat(m: HeartbeatMessage): void {
    // The leader sends min(match, commit), so we hold every entry up to m.commit.
    this.raftLog.commitTo(Math.min(m.commit, this.raftLog.lastIndex()));
    this.send<HeartbeatResponseMessage>({ type: 'heartbeatResponse', from: this.id, to: m.from, term: this.currentTerm, context: m.context });
  }

  private handleSnapshot(m: SnapshotMessage): void {
    const meta = m.meta;
    let index: number;
    if (meta.index <= this.raftLog.committed) {
      index = this.raftLog.committed;
    } else if (this.raftLog.matchTerm(meta.index, meta.term)) {
      // Raft §7: our log already holds the snapshot's last entry; keep what follows and fast-forward the commit.
      this.raftLog.commitTo(meta.index);
      index = meta.index;
    } else {
      assert(m.data !== null, 'a snapshot message must carry data when stepped');
      this.raftLog.restore({ meta, data: m.data });
      this.uncommittedBytes = 0;
      index = meta.index;
    }
    this.send<AppendResponseMessage>({ type: 'appendResponse', from: this.id, to: m.from, term: this.currentTerm, reject: false, index, hintIndex: 0, hintTerm: 0 });
  }

  // ---- Leader side of replication ----------------------------------------------

  private handleAppendResponse(m: AppendResponseMessage): void {
    if (this.currentRole !== 'leader') return;
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.reject) {
      // Skip the follower's conflicting term using its hint (thesis §5 / etcd's findConflictByTerm).
      const probeFrom = m.hintTerm > 0 ? this.raftLog.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
      if (pr.maybeDecrTo(m.index, probeFrom)) this.sendAppend(m.from, true);
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) {
      if (wasPaused && !pr.isPaused()) this.sendAppend(m.from, false);
      return;
    }
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeProbe();
    if (this.maybeCommit()) this.broadcastPending = true;
    // Keep the pipeline full: send what the window now allows.
    this.sendAppend(m.from, false);
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResponse(m: HeartbeatResponseMessage): void {
    if (this.currentRole !== 'leader') return;
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.probeSent = false;
    // Raft §5.3 "the leader retries AppendEntries indefinitely": a follower that is behind gets an AppendEntries on
    // every heartbeat response, even an empty one, so a lost message shows up as a rejection and is repaired.
    if (pr.state === 'replicate' && pr.isPaused()) pr.freeFirstInflight();
    if (pr.match < this.raftLog.lastIndex()) this.sendAppend(m.from, true);
    if (m.context !== null) {
      for (const read of this.reads.ack(m.context, m.from, this.voters())) this.readStates.push(read);
    }
  }

  /** canCommitAt is Raft §5.4.2: a leader commits by counting replicas only entries of its own term. Overridden only by broken test variants. */
  protected canCommitAt(index: number): boolean {
    return this.raftLog.term(index) === this.currentTerm;
  }

  private maybeCommit(): boolean {
    const index = committedIndex(this.voters(), (id) => (id === this.id ? this.raftLog.stableIndex : this.progress.get(id)?.match ?? 0));
    if (index <= this.raftLog.committed || !this.canCommitAt(index)) return false;
    const before = this.raftLog.committed;
    this.raftLog.commitTo(index);
    for (const entry of this.raftLog.slice(before + 1, index, Number.MAX_SAFE_INTEGER)) this.uncommittedBytes -= entry.data.length;
    if (this.uncommittedBytes < 0) this.uncommittedBytes = 0;
    if (before < index && this.raftLog.term(index) === this.currentTerm) this.releaseDeferredReads();
    return true;
  }

  private sendAppend(to: NodeId, sendIfEmpty: boolean): void {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isPaused()) return;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.term(prevIndex);
    if (prevTerm === null) {
      // Raft §7: the entries this follower needs are compacted; send the snapshot instead.
      const meta = this.raftLog.snapshot;
      pr.becomeSnapshot(meta.index);
      this.send<SnapshotMessage>({ type: 'snapshot', from: this.id, to, term: this.currentTerm, meta, data: null });
      return;
    }
    const entries = pr.next <= this.raftLog.lastIndex() ? this.raftLog.slice(pr.next, this.raftLog.lastIndex(), this.cfg.maxAppendBytes) : [];
    if (entries.length === 0 && !sendIfEmpty) return;
    this.send<AppendMessage>({
      type: 'append',
      from: this.id,
      to,
      term: this.currentTerm,
      prevLogIndex: prevIndex,
      prevLogTerm: prevTerm,
      entries,
      commit: this.raftLog.committed,
    });
    pr.sentAppend(entries.length > 0 ? entries[entries.length - 1]!.index : prevIndex, entries.length);
  }

  private broadcastAppend(): void {
    for (const peer of this.progress.keys()) this.sendAppend(peer, true);
  }

  private broadcastHeartbeat(context: string | null): void {
    for (const [peer, pr] of this.progress) {
      this.send<HeartbeatMessage>({
        type: 'heartbeat',
        from: this.id,
        to: peer,
        term: this.currentTerm,
        commit: Math.min(pr.match, this.raftLog.committed),
        context,
      });
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'timeoutNow', from: this.id, to, term: this.currentTerm });
  }

  private appendEntry(entry: Entry): void {
    this.raftLog.append([entry]);
    this.uncommittedBytes += entry.data.length;
    // The leader's own entry counts toward commit only once durable (advance), which is what lets a host send AppendEntries
    // before its own fsync (thesis §10.2.1).
  }

  // ---- Host requests -----------------------------------------------------------

  /** propose appends a command to the log if this node leads; the answer says where it landed or who leads. */
  propose(data: Uint8Array): ProposeResult {
    if (this.currentRole !== 'leader') return { ok: false, reason: 'not_leader', leader: this.leaderId };
    if (this.leadTransferee !== null) return { ok: false, reason: 'transferring', leader: this.leaderId };
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + data.length > this.cfg.maxUncommittedBytes) {
      return { ok: false, reason: 'overloaded', leader: this.leaderId };
    }
    const index = this.raftLog.lastIndex() + 1;
    this.appendEntry({ index, term: this.currentTerm, type: 'normal', data });
    this.broadcastPending = true;
    return { ok: true, index, term: this.currentTerm };
  }

  /** readIndex asks for a linearizable read point (thesis §6.4); a ReadState with `context` arrives in a later Ready. */
  readIndex(context: string): ReadIndexResult {
    if (this.currentRole !== 'leader') return { ok: false, reason: 'not_leader', leader: this.leaderId };
    if (this.reads.size() >= this.cfg.maxPendingReads) return { ok: false, reason: 'overloaded', leader: this.leaderId };
    if (this.raftLog.term(this.raftLog.committed) !== this.currentTerm) {
      // Thesis §6.4 step 1: until the leader commits an entry of its term it does not know the latest commit index.
      this.reads.deferUntilCommit(context);
      return { ok: true };
    }
    this.registerRead(context);
    return { ok: true };
  }

  private registerRead(context: string): void {
    if (this.peers().length === 0) {
      this.readStates.push({ index: this.raftLog.committed, context });
      return;
    }
    this.reads.add(context, this.raftLog.committed, this.id);
    this.readHeartbeatPending = true;
  }

  private releaseDeferredReads(): void {
    for (const context of this.reads.takeDeferred()) this.registerRead(context);
  }

  /** transferLeadership starts handing leadership to `to` (thesis §3.10); returns false when that is not possible now. */
  transferLeadership(to: NodeId): boolean {
    if (this.currentRole !== 'leader' || to === this.id || !this.isVoter(to)) return false;
    const pr = this.progress.get(to);
    if (pr === undefined) return false;
    if (this.leadTransferee === to) return true;
    this.leadTransferee = to;
    this.electionElapsed = 0;
    if (pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, true);
    return true;
  }

  /** reportUnreachable tells the core a send to `peer` failed; replication falls back to probing. */
  reportUnreachable(peer: NodeId): void {
    const pr = this.progress.get(peer);
    if (this.currentRole === 'leader' && pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  /** reportSnapshot tells the core whether sending a snapshot to `peer` finished. */
  reportSnapshot(peer: NodeId, ok: boolean): void {
    const pr = this.progress.get(peer);
    if (this.currentRole !== 'leader' || pr === undefined || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    // Wait for the follower's reply (or the next heartbeat) before sending more.
    pr.becomeProbe();
    pr.probeSent = true;
  }

  // ---- Ready / advance -------------------------------------------------------------

  private send<M extends Message>(m: M): void {
    if (this.messages.length >= MAX_QUEUED_MESSAGES) return;
    this.messages.push(m);
  }

  private flushBatched(): void {
    if (this.currentRole !== 'leader') return;
    if (this.broadcastPending) {
      this.broadcastPending = false;
      this.broadcastAppend();
    }
    if (this.readHeartbeatPending) {
      this.readHeartbeatPending = false;
      this.broadcastHeartbeat(this.reads.latestContext());
    }
  }

  /** hasReady says whether ready() would return any work. */
  hasReady(): boolean {
    if (this.readyOutstanding) return false;
    if (this.currentRole === 'leader' && (this.broadcastPending || this.readHeartbeatPending)) return true;
    const soft = this.softState();
    return (
      this.messages.length > 0 ||
      this.readStates.length > 0 ||
      this.raftLog.hasUnsentEntries() ||
      this.raftLog.pendingSnapshot !== null ||
      this.raftLog.hasNextCommitted() ||
      !sameHardState(this.hardState(), this.lastHandedHardState) ||
      soft.role !== this.lastHandedSoftState.role ||
      soft.leader !== this.lastHandedSoftState.leader ||
      soft.term !== this.lastHandedSoftState.term
    );
  }

  /** ready collects the next batch of work; call advance(rd) before asking again. */
  ready(): Ready {
    assert(!this.readyOutstanding, 'ready() called again before advance()');
    this.flushBatched();
    const hardState = this.hardState();
    const snapshot = this.raftLog.pendingSnapshot;
    const { early, afterDurable } = this.splitMessages(hardState);
    const rd: Ready = {
      softState: this.softState(),
      hardState: sameHardState(hardState, this.lastHandedHardState) ? null : hardState,
      snapshot,
      entries: this.raftLog.takeUnsentEntries(),
      earlyMessages: early,
      messages: afterDurable,
      committedEntries: snapshot === null ? this.raftLog.takeNextCommitted(this.cfg.maxApplyBytes) : [],
      readStates: this.readStates,
    };
    this.messages = [];
    this.readStates = [];
    this.lastHandedHardState = hardState;
    this.lastHandedSoftState = rd.softState;
    this.readyOutstanding = true;
    return rd;
  }

  /**
   * splitMessages sorts the queued messages into those that may leave before this Ready's write is durable and
   * those that must wait for it. Early: a leader's replication traffic while its term and vote are what the previous
   * Ready handed out (and so durable, since Readys are persisted in order). Thesis §10.2.1: a leader may send
   * AppendEntries before its own log write completes, because its own copy counts toward commit only once advance()
   * reports it stable. Everything else (votes, every response, anything after a term or vote change) waits: Raft
   * Figure 2 requires persistent state to be durable "before responding to RPCs".
   */
  private splitMessages(hardState: HardState): { early: Message[]; afterDurable: Message[] } {
    const last = this.lastHandedHardState;
    const termAndVoteDurable = hardState.term === last.term && hardState.vote === last.vote;
    if (!termAndVoteDurable || this.currentRole !== 'leader') return { early: [], afterDurable: this.messages };
    const early: Message[] = [];
    const afterDurable: Message[] = [];
    for (const m of this.messages) {
      if (isLeaderReplication(m)) early.push(m);
      else afterDurable.push(m);
    }
    return { early, afterDurable };
  }

  /** advance tells the core the host has done everything `rd` asked. */
  advance(rd: Ready): void {
    assert(this.readyOutstanding, 'advance() without an outstanding ready()');
    this.readyOutstanding = false;
    if (rd.snapshot !== null) {
      if (this.raftLog.pendingSnapshot === rd.snapshot) this.raftLog.pendingSnapshot = null;
      this.raftLog.appliedTo(Math.min(rd.snapshot.meta.index, this.raftLog.committed));
    }
    const last = rd.entries[rd.entries.length - 1];
    if (last !== undefined) {
      this.raftLog.stableTo(last.index, last.term);
      if (this.currentRole === 'leader' && this.maybeCommit()) this.broadcastPending = true;
    }
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied !== undefined) this.raftLog.appliedTo(lastApplied.index);
  }

  /**
   * takeCommitted hands out committed entries that are durable here, outside
   * the Ready cycle, so a host can apply them while a write is still syncing
   * (applying needs no write of its own). It shares the cursor with ready(), so
   * no entry is handed out twice; the host must apply what ready() handed out
   * before anything taken here, and report with appliedTo().
   */
  takeCommitted(): Entry[] {
    return this.raftLog.takeNextCommitted(this.cfg.maxApplyBytes);
  }

  /** appliedTo records that the host applied every entry up to `index`. */
  appliedTo(index: number): void {
    this.raftLog.appliedTo(index);
  }

  // ---- Snapshots -----------------------------------------------------------------

  /** snapshotMetaAt returns the metadata for a snapshot of the state machine at `index` (which must be applied). */
  snapshotMetaAt(index: number): SnapshotMeta {
    assert(index >= this.raftLog.snapshot.index && index <= this.raftLog.applied, () => `snapshot at ${index} outside [${this.raftLog.snapshot.index}, ${this.raftLog.applied}]`);
    const term = this.raftLog.term(index);
    assert(term !== null, () => `no term at ${index}`);
    return { index, term, config: this.raftLog.configAt(index) };
  }

  /** compact drops log entries covered by a snapshot the host has durably stored. */
  compact(meta: SnapshotMeta): void {
    this.raftLog.compact(meta);
  }
}

/** isLeaderReplication: messages a leader sends about its log, which never acknowledge anything of the receiver's. */
function isLeaderReplication(m: Message): boolean {
  return m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot' || m.type === 'timeoutNow';
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

