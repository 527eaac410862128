import type {
  ConfChange,
  ConfChangeResult,
  ConfState,
  DurableState,
  Entry,
  MemberProgress,
  Message,
  NodeId,
  ProposeResult,
  RaftConfig,
  ReadIndexResult,
  Ready,
  Role,
  SnapshotMeta,
} from './types.js';
import { RaftState } from './raft-state.js';
import { ReadyCycle } from './ready-cycle.js';
import { stepTerm } from './term-rules.js';
import { tickElection, tickLeader } from './ticks.js';
import { handleTimeoutNow, handleVote, handleVoteResponse } from './elections.js';
import { followLeader, handleAppend, handleHeartbeat, handleSnapshot } from './follower-replication.js';
import {
  appendProposal,
  handleAppendResponse,
  handleHeartbeatResponse,
  handleSnapshotStatus,
  handleUnreachable,
  startLeadershipTransfer,
} from './leader-replication.js';
import { requestReadIndex } from './leader-reads.js';
import { configChangePending, memberProgress, ownTermCommitted, proposeConfChange } from './membership.js';
import { isKnownConfig } from './configuration.js';
import { assert } from './invariant.js';

/**
 * RaftNode is the consensus core: a synchronous, deterministic state machine
 * in the shape of etcd-io/raft. The host feeds it tick(), step() and
 * proposals, takes Ready batches, does the I/O, and calls advance(). It reads
 * no clock and does no I/O; randomness comes from config.random.
 *
 * RaftNode is the public face and owns the state (RaftState); the rules live
 * in one file per concept, as functions over that state: term-rules.ts,
 * ticks.ts, elections.ts, leader-replication.ts, follower-replication.ts,
 * leader-reads.ts, membership.ts (configuration changes, thesis §4), and
 * ready-cycle.ts for the Ready/advance contract.
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly s: RaftState;
  private readonly readyCycle: ReadyCycle;
  /** peerMembers' last answer and what it depended on. */
  private peersCache: { latest: ConfState; committed: ConfState | null; role: Role; tracked: number; ids: readonly NodeId[] } | null = null;

  constructor(config: RaftConfig, durable: DurableState) {
    // The checks call the protected methods, so a subclass's overrides take effect everywhere the rules apply.
    this.s = new RaftState(config, durable, {
      isLogUpToDate: (lastIndex, lastTerm) => this.isLogUpToDate(lastIndex, lastTerm),
      canCommitAt: (index) => this.canCommitAt(index),
      ownTermCommitted: () => this.ownTermCommitted(),
      configChangePending: () => this.configChangePending(),
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

  learners(): readonly NodeId[] {
    return this.s.config().learners;
  }

  /** configuration is the configuration in force here: the latest in the log, committed or not (thesis §4.1). */
  configuration(): ConfState {
    return this.s.config();
  }

  /** configurationIndex is the index of the entry (or snapshot) the configuration in force comes from. */
  get configurationIndex(): number {
    return this.s.raftLog.configIndex();
  }

  /** configurationAt is the configuration in force at `index` (at or after the snapshot: earlier ones are compacted). */
  configurationAt(index: number): ConfState {
    return this.s.raftLog.configAt(index);
  }

  /**
   * peerMembers are the other members this node may need to reach, sorted: those of its configuration (of the
   * committed one too while a change is pending) and, on a leader, the removed members it still replicates to.
   * The same array while unchanged: the host compares it to know when to tell its transport.
   */
  peerMembers(): readonly NodeId[] {
    const s = this.s;
    const log = s.raftLog;
    // Stryker disable next-line EqualityOperator: a cache key: with >= or <= it still differs between a pending change (the committed configuration) and none (null or the latest, never the committed one)
    const committed = log.configIndex() > log.committed ? log.configAt(log.committed) : null;
    const c = this.peersCache;
    // The host asks after every Ready; the answer changes only with one of these.
    if (
      c !== null &&
      c.latest === log.config() &&
      c.committed === committed &&
      // Stryker disable next-line ConditionalExpression: a role change alone never changes the answer (only a leader tracks progress, a superset of its targets, so leading or not changes the tracked count unless both are empty)
      c.role === s.currentRole &&
      c.tracked === s.progress.size
    ) {
      return c.ids;
    }
    const ids = s.replicationTargets();
    for (const id of s.progress.keys()) if (!ids.includes(id)) ids.push(id);
    ids.sort();
    this.peersCache = { latest: log.config(), committed, role: s.currentRole, tracked: s.progress.size, ids };
    return ids;
  }

  /** memberProgress is the leader's view of each member's replication and lag; null when not leading. */
  memberProgress(): MemberProgress[] | null {
    return memberProgress(this.s);
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

  // ---- Rules a broken test variant may override ------------------------------

  /** isLogUpToDate is the Raft §5.4.1 election restriction. Overridden only by broken test variants. */
  protected isLogUpToDate(lastIndex: number, lastTerm: number): boolean {
    return this.s.raftLog.isUpToDate(lastIndex, lastTerm);
  }

  /** canCommitAt is Raft §5.4.2: a leader commits by counting replicas only entries of its own term. Overridden only by broken test variants. */
  protected canCommitAt(index: number): boolean {
    return this.s.raftLog.term(index) === this.s.currentTerm;
  }

  /** ownTermCommitted: no configuration change before an entry of the leader's term committed (raft-dev, 2015). Overridden only by broken test variants. */
  protected ownTermCommitted(): boolean {
    return ownTermCommitted(this.s);
  }

  /** configChangePending: one configuration change at a time (thesis §4.1). Overridden only by broken test variants. */
  protected configChangePending(): boolean {
    return configChangePending(this.s);
  }

  // ---- Inputs ----------------------------------------------------------------

  /** tick advances logical time by one tick. */
  tick(): void {
    if (this.s.currentRole === 'leader') tickLeader(this.s);
    else tickElection(this.s);
  }

  /** step handles one message from a peer. Messages from stale terms or unknown senders are ignored, never thrown on. */
  step(m: Message): void {
    const s = this.s;
    if (m.to !== s.id || m.from === s.id) return;
    if (!stepTerm(s, m)) return;

    switch (m.type) {
      case 'vote':
      case 'preVote':
        handleVote(s, m);
        return;
      case 'voteResponse':
      case 'preVoteResponse':
        handleVoteResponse(s, m);
        return;
      case 'append':
        followLeader(s, m.from);
        handleAppend(s, m);
        return;
      case 'heartbeat':
        followLeader(s, m.from);
        handleHeartbeat(s, m);
        return;
      case 'snapshot':
        followLeader(s, m.from);
        handleSnapshot(s, m);
        return;
      case 'appendResponse':
        handleAppendResponse(s, m);
        return;
      case 'heartbeatResponse':
        handleHeartbeatResponse(s, m);
        return;
      case 'timeoutNow':
        handleTimeoutNow(s, m);
        return;
    }
  }

  // ---- Host requests -----------------------------------------------------------

  /** propose appends a command to the log if this node leads; the answer says where it landed or who leads. */
  propose(data: Uint8Array): ProposeResult {
    return appendProposal(this.s, data);
  }

  /**
   * proposeConfChange appends a single-server configuration change if this node leads and may change the
   * configuration now (membership.ts has the rules); the answer says where it landed or why not. The change takes
   * effect at once, in this log, and commits like any entry.
   */
  proposeConfChange(change: ConfChange): ConfChangeResult {
    return proposeConfChange(this.s, change);
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

  /**
   * canSnapshotAt says whether this node knows the configuration at `index`, which a snapshot must carry. A joining
   * member that replays the log from its start does not, until it reaches a configuration entry.
   */
  canSnapshotAt(index: number): boolean {
    return isKnownConfig(this.s.raftLog.configAt(index));
  }

  /** snapshotMetaAt returns the metadata for a snapshot of the state machine at `index` (which must be applied), with the configuration in force there. */
  snapshotMetaAt(index: number): SnapshotMeta {
    const log = this.s.raftLog;
    assert(index >= log.snapshot.index && index <= log.applied, () => `snapshot at ${index} outside [${log.snapshot.index}, ${log.applied}]`);
    const term = log.term(index);
    assert(term !== null, () => `no term at ${index}`);
    const config = log.configAt(index);
    assert(isKnownConfig(config), () => `snapshot at ${index}, where the configuration is unknown`);
    return { index, term, config };
  }

  /** compact drops log entries covered by a snapshot the host has durably stored. */
  compact(meta: SnapshotMeta): void {
    this.s.raftLog.compact(meta);
  }
}
