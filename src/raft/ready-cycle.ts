import type { HardState, Message, Ready, SoftState } from './types.js';
import type { RaftState } from './raft-state.js';
import { broadcastAppend, broadcastHeartbeat, maybeCommit } from './leader-replication.js';
import { assert } from './invariant.js';

/**
 * ReadyCycle assembles the Ready batches RaftNode hands its host and takes their advance() back. It owns what
 * only this cycle needs: the hard and soft state last handed out (a Ready carries only changes) and whether a
 * Ready is outstanding (one at a time, so Readys are persisted in order).
 */
export class ReadyCycle {
  private lastHandedHardState: HardState;
  private lastHandedSoftState: SoftState;
  private readyOutstanding = false;

  constructor(private readonly s: RaftState) {
    this.lastHandedHardState = s.hardState();
    this.lastHandedSoftState = s.softState();
  }

  /** hasReady says whether ready() would return any work. */
  hasReady(): boolean {
    const s = this.s;
    if (this.readyOutstanding) return false;
    if (s.currentRole === 'leader' && (s.broadcastPending || s.readHeartbeatPending)) return true;
    const soft = s.softState();
    return (
      s.messages.length > 0 ||
      s.readStates.length > 0 ||
      s.raftLog.hasUnsentEntries() ||
      // Stryker disable next-line ConditionalExpression: restore() sets it in the step that raises the commit (asserted) and queues the appendResponse, all three taken by one ready()
      s.raftLog.pendingSnapshot !== null ||
      s.raftLog.hasNextCommitted() ||
      !sameHardState(s.hardState(), this.lastHandedHardState) ||
      soft.role !== this.lastHandedSoftState.role ||
      // Stryker disable next-line ConditionalExpression: the leader changes with the role, the term, or in followLeader, whose caller (step) queues a response in the same step
      soft.leader !== this.lastHandedSoftState.leader ||
      // Stryker disable next-line ConditionalExpression: the soft term is the hard term (currentTerm), so a term change is a hard-state change, tested above
      soft.term !== this.lastHandedSoftState.term
    );
  }

  /** ready collects the next batch of work; advance(rd) must come before the next ready(). */
  ready(): Ready {
    const s = this.s;
    assert(!this.readyOutstanding, 'ready() called again before advance()');
    this.flushBatched();
    const hardState = s.hardState();
    const snapshot = s.raftLog.pendingSnapshot;
    const { early, afterDurable } = this.splitMessages(hardState);
    const rd: Ready = {
      softState: s.softState(),
      hardState: sameHardState(hardState, this.lastHandedHardState) ? null : hardState,
      snapshot,
      entries: s.raftLog.takeUnsentEntries(),
      earlyMessages: early,
      messages: afterDurable,
      // Stryker disable next-line ConditionalExpression: takeNextCommitted itself hands out nothing while a snapshot is pending (hasNextCommitted); the check only spells the rule out here
      committedEntries: snapshot === null ? s.raftLog.takeNextCommitted(s.cfg.maxApplyBytes) : [],
      readStates: s.readStates,
    };
    s.messages = [];
    s.readStates = [];
    this.lastHandedHardState = hardState;
    this.lastHandedSoftState = rd.softState;
    this.readyOutstanding = true;
    return rd;
  }

  /** advance records that the host has done everything `rd` asked. */
  advance(rd: Ready): void {
    const s = this.s;
    assert(this.readyOutstanding, 'advance() without an outstanding ready()');
    this.readyOutstanding = false;
    if (rd.snapshot !== null) {
      if (s.raftLog.pendingSnapshot === rd.snapshot) s.raftLog.pendingSnapshot = null;
      s.raftLog.appliedTo(Math.min(rd.snapshot.meta.index, s.raftLog.committed));
    }
    const last = rd.entries[rd.entries.length - 1];
    if (last !== undefined) {
      s.raftLog.stableTo(last.index, last.term);
      if (s.currentRole === 'leader' && maybeCommit(s)) s.broadcastPending = true;
    }
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied !== undefined) s.raftLog.appliedTo(lastApplied.index);
  }

  /** flushBatched sends the AppendEntries round and the read heartbeat that proposals and reads asked for since the last Ready. */
  private flushBatched(): void {
    const s = this.s;
    if (s.currentRole !== 'leader') return;
    if (s.broadcastPending) {
      s.broadcastPending = false;
      broadcastAppend(s);
    }
    if (s.readHeartbeatPending) {
      s.readHeartbeatPending = false;
      broadcastHeartbeat(s, s.reads.latestContext());
    }
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
    const s = this.s;
    const last = this.lastHandedHardState;
    const termAndVoteDurable =
      hardState.term === last.term &&
      // Stryker disable next-line ConditionalExpression: a leader's vote is itself, set with the term when it campaigned, so at a leader an unchanged term means an unchanged vote; kept as the rule's statement
      hardState.vote === last.vote;
    if (!termAndVoteDurable || s.currentRole !== 'leader') return { early: [], afterDurable: s.messages };
    const early: Message[] = [];
    const afterDurable: Message[] = [];
    for (const m of s.messages) {
      if (isLeaderReplication(m)) early.push(m);
      else afterDurable.push(m);
    }
    return { early, afterDurable };
  }
}

/** isLeaderReplication: messages a leader sends about its log, which never acknowledge anything of the receiver's. */
function isLeaderReplication(m: Message): boolean {
  return m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot' || m.type === 'timeoutNow';
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
