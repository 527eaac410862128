import type { ConfState, DurableState, HardState, Message, NodeId, RaftConfig, ReadState, Role, SoftState } from './types.js';
import { memberIds } from './configuration.js';
import { RaftLog } from './raft-log.js';
import type { Progress } from './progress.js';
import { ReadIndexQueue } from './read-index.js';
import { assert } from './invariant.js';

/** Upper bound on messages queued between two Readys; beyond it messages are dropped, which Raft tolerates like network loss. */
const MAX_QUEUED_MESSAGES = 65_536;

/**
 * SafetyChecks are the rules of the paper RaftNode lets a subclass replace (its protected isLogUpToDate, canCommitAt,
 * ownTermCommitted and configChangePending). Only the broken variants in test/sim do, to show the simulation notices
 * when a rule is missing.
 */
export interface SafetyChecks {
  /** Raft §5.4.1: grant a vote only to a candidate whose log is at least as up to date. */
  isLogUpToDate(lastIndex: number, lastTerm: number): boolean;
  /** Raft §5.4.2: commit by counting replicas only at an index this rule allows. */
  canCommitAt(index: number): boolean;
  /** The raft-dev fix (2015) to thesis §4.1: a leader changes the configuration only once an entry of its term committed. */
  ownTermCommitted(): boolean;
  /** Thesis §4.1: one change at a time; true while the latest configuration entry is not committed. */
  configChangePending(): boolean;
}

/**
 * RaftState is everything one RaftNode knows, in one place, so the concept modules (elections, leader and
 * follower replication, reads, ticks, the Ready cycle) can be plain functions over it. Internal to src/raft:
 * RaftNode owns the only instance and is the public face; nothing outside this folder sees it. Fields are
 * mutable because the modules are the node's own code, split for reading, not separate owners.
 */
export class RaftState {
  readonly id: NodeId;
  readonly cfg: RaftConfig;
  readonly raftLog: RaftLog;
  readonly checks: SafetyChecks;

  currentTerm: number;
  votedFor: NodeId | null;
  // Stryker disable next-line StringLiteral: RaftNode's constructor calls becomeFollower, which sets the role before anything reads it
  currentRole: Role = 'follower';
  leaderId: NodeId | null = null;

  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTicks = 0;

  readonly votes = new Map<NodeId, boolean>();
  readonly progress = new Map<NodeId, Progress>();
  leadTransferee: NodeId | null = null;
  uncommittedBytes = 0;
  readonly reads = new ReadIndexQueue();
  /** Set when proposals or a commit advance call for an AppendEntries round; flushed once per Ready (batching). */
  // Stryker disable next-line BooleanLiteral: read only by a leader, and reset() clears it (at construction and whenever a node becomes candidate) before any node leads
  broadcastPending = false;
  // Stryker disable next-line BooleanLiteral: as broadcastPending: reset() clears it before this node can ever lead
  readHeartbeatPending = false;

  /** Outbound messages and completed reads, handed out by the next Ready. */
  messages: Message[] = [];
  readStates: ReadState[] = [];

  constructor(config: RaftConfig, durable: DurableState, checks: SafetyChecks) {
    assert(config.electionTicks > config.heartbeatTicks && config.heartbeatTicks > 0, 'need electionTicks > heartbeatTicks > 0');
    assert(config.maxInflightAppends > 0 && config.maxAppendBytes > 0, 'replication bounds must be positive');
    this.id = config.id;
    this.cfg = config;
    this.checks = checks;
    this.raftLog = new RaftLog(durable.snapshotMeta, durable.entries, durable.hardState.commit);
    this.currentTerm = durable.hardState.term;
    this.votedFor = durable.hardState.vote;
    assert(this.raftLog.lastTerm() <= this.currentTerm, 'log holds an entry from a future term');
  }

  hardState(): HardState {
    return { term: this.currentTerm, vote: this.votedFor, commit: this.raftLog.committed };
  }

  softState(): SoftState {
    return { role: this.currentRole, leader: this.leaderId, term: this.currentTerm };
  }

  /** config is the configuration in force: the latest in the log, committed or not (thesis §4.1). */
  config(): ConfState {
    return this.raftLog.config();
  }

  voters(): readonly NodeId[] {
    return this.raftLog.config().voters;
  }

  isVoter(id: NodeId): boolean {
    return this.voters().includes(id);
  }

  /**
   * mayCampaign: a voter of the latest configuration campaigns; so does a server that the latest configuration removes
   * while that configuration is not committed (thesis §4.2.2: it may still be needed until C_new commits, e.g. it holds
   * the only copy of C_new). It then does not count its own vote (tallies count voters of the latest configuration).
   * Learners, joining members and members whose removal committed never campaign.
   */
  mayCampaign(): boolean {
    if (this.isVoter(this.id)) return true;
    const log = this.raftLog;
    return log.configIndex() > log.committed && log.configAt(log.configIndex() - 1).voters.includes(this.id);
  }

  /** votingPeers are the other voters: who a candidate asks for votes. */
  votingPeers(): NodeId[] {
    return this.voters().filter((id) => id !== this.id);
  }

  /**
   * replicationTargets are who a leader replicates to: every other member of the latest configuration and, while a
   * change is uncommitted, of the committed one too, so a member being removed receives the entry that removes it
   * (and stops campaigning) unless the removal commits first (hashicorp/raft does the same).
   */
  replicationTargets(): NodeId[] {
    const targets = new Set(memberIds(this.raftLog.config()));
    if (this.raftLog.configIndex() > this.raftLog.committed) {
      for (const id of memberIds(this.raftLog.configAt(this.raftLog.committed))) targets.add(id);
    }
    targets.delete(this.id);
    // Stryker disable next-line MethodExpression: the order only interleaves sends to different peers (each peer's own messages keep their order); peerMembers sorts its own copy
    return [...targets].sort();
  }

  /** send queues `m` for the next Ready. */
  send<M extends Message>(m: M): void {
    if (this.messages.length >= MAX_QUEUED_MESSAGES) return;
    this.messages.push(m);
  }

  /** reset starts `term` (or restarts the current one) with fresh timers and no per-role state. */
  reset(term: number): void {
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
    // Stryker disable next-line BooleanLiteral: only a leader reads it, and becomeLeader sets it anyway (its no-op must go out) right after the reset of its election
    this.broadcastPending = false;
    this.readHeartbeatPending = false;
    this.reads.clear();
    this.progress.clear();
  }

  /** becomeFollower is the role change every module may cause: a higher term, a lost election, a lost quorum. */
  becomeFollower(term: number, leader: NodeId | null): void {
    this.reset(term);
    this.currentRole = 'follower';
    this.leaderId = leader;
  }
}
