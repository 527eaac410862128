import type { DurableState, HardState, Message, NodeId, RaftConfig, ReadState, Role, SoftState } from './types.js';
import { RaftLog } from './raft-log.js';
import type { Progress } from './progress.js';
import { ReadIndexQueue } from './read-index.js';
import { assert } from './invariant.js';

/** Upper bound on messages queued between two Readys; beyond it messages are dropped, which Raft tolerates like network loss. */
const MAX_QUEUED_MESSAGES = 65_536;

/**
 * SafetyChecks are the two rules of the paper RaftNode lets a subclass replace (its protected isLogUpToDate and
 * canCommitAt). Only the broken variants in test/sim do, to show the simulation notices when a rule is missing.
 */
export interface SafetyChecks {
  /** Raft §5.4.1: grant a vote only to a candidate whose log is at least as up to date. */
  isLogUpToDate(lastIndex: number, lastTerm: number): boolean;
  /** Raft §5.4.2: commit by counting replicas only at an index this rule allows. */
  canCommitAt(index: number): boolean;
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
  broadcastPending = false;
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

  voters(): readonly NodeId[] {
    return this.raftLog.config().voters;
  }

  isVoter(id: NodeId): boolean {
    return this.voters().includes(id);
  }

  peers(): NodeId[] {
    return this.voters().filter((id) => id !== this.id);
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
