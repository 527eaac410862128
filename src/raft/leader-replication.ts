import type {
  AppendMessage,
  AppendResponseMessage,
  Entry,
  HeartbeatMessage,
  HeartbeatResponseMessage,
  NodeId,
  ProposeResult,
  SnapshotMessage,
} from './types.js';
import type { RaftState } from './raft-state.js';
import { committedIndex } from './quorum.js';
import { releaseDeferredReads } from './leader-reads.js';
import { onCommitted } from './membership.js';

/**
 * The leader's side of log replication (Raft §5.3): admitting proposals, sending AppendEntries, heartbeats and
 * snapshots within each follower's flow-control window (progress.ts), handling the answers, and advancing the
 * commit index (§5.4.2). Leadership transfer (thesis §3.10) lives here too, because it is driven by replication:
 * the transferee gets TimeoutNow once its log matches ours.
 */

/** appendProposal appends a command to the log if this node leads; the answer says where it landed or who leads. */
export function appendProposal(s: RaftState, data: Uint8Array): ProposeResult {
  if (s.currentRole !== 'leader') return { ok: false, reason: 'not_leader', leader: s.leaderId };
  if (s.leadTransferee !== null) return { ok: false, reason: 'transferring', leader: s.leaderId };
  if (s.uncommittedBytes > 0 && s.uncommittedBytes + data.length > s.cfg.maxUncommittedBytes) {
    return { ok: false, reason: 'overloaded', leader: s.leaderId };
  }
  const index = s.raftLog.lastIndex() + 1;
  appendEntry(s, { index, term: s.currentTerm, type: 'normal', data });
  s.broadcastPending = true;
  return { ok: true, index, term: s.currentTerm };
}

/** appendEntry adds a leader's entry to its own log, counting its bytes against maxUncommittedBytes. */
export function appendEntry(s: RaftState, entry: Entry): void {
  s.raftLog.append([entry]);
  s.uncommittedBytes += entry.data.length;
  // The leader's own entry counts toward commit only once durable (advance), which is what lets a host send AppendEntries
  // before its own fsync (thesis §10.2.1).
}

export function handleAppendResponse(s: RaftState, m: AppendResponseMessage): void {
  if (s.currentRole !== 'leader') return;
  const pr = s.progress.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  if (m.reject) {
    // Skip the follower's conflicting term using its hint (thesis §5 / etcd's findConflictByTerm).
    const probeFrom = m.hintTerm > 0 ? s.raftLog.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
    if (pr.maybeDecrTo(m.index, probeFrom)) sendAppend(s, m.from, true);
    return;
  }
  const wasPaused = pr.isPaused();
  if (!pr.maybeUpdate(m.index)) {
    // Stryker disable next-line BooleanLiteral: unreachable in practice (a stale answer frees no in-flight slot: each is above match) and sendAppend re-checks isPaused
    if (wasPaused && !pr.isPaused()) sendAppend(s, m.from, false);
    return;
  }
  if (pr.state === 'probe') pr.becomeReplicate();
  else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeProbe();
  if (maybeCommit(s)) s.broadcastPending = true;
  // Keep the pipeline full: send what the window now allows.
  sendAppend(s, m.from, false);
  if (m.from === s.leadTransferee && pr.match === s.raftLog.lastIndex()) sendTimeoutNow(s, m.from);
}

export function handleHeartbeatResponse(s: RaftState, m: HeartbeatResponseMessage): void {
  if (s.currentRole !== 'leader') return;
  const pr = s.progress.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  pr.probeSent = false;
  // Raft §5.3 "the leader retries AppendEntries indefinitely": a follower that is behind gets an AppendEntries on
  // every heartbeat response, even an empty one, so a lost message shows up as a rejection and is repaired.
  if (pr.state === 'replicate' && pr.isPaused()) pr.freeFirstInflight();
  if (pr.match < s.raftLog.lastIndex()) sendAppend(s, m.from, true);
  // Stryker disable next-line ConditionalExpression: contexts are strings, so ack(null) finds no read and releases nothing
  if (m.context !== null) {
    for (const read of s.reads.ack(m.context, m.from, s.voters())) s.readStates.push(read);
  }
}

/**
 * maybeCommit advances the commit index to what a majority of the voters holds (Raft §5.3, §5.4.2); returns whether
 * it moved. Learners never count, nor does a leader that its own latest configuration removed (thesis §4.2.2).
 */
export function maybeCommit(s: RaftState): boolean {
  const index = committedIndex(s.voters(), (id) => (id === s.id ? s.raftLog.stableIndex : s.progress.get(id)?.match ?? 0));
  if (index <= s.raftLog.committed || !s.checks.canCommitAt(index)) return false;
  const before = s.raftLog.committed;
  s.raftLog.commitTo(index);
  for (const entry of s.raftLog.slice(before + 1, index, Number.MAX_SAFE_INTEGER)) s.uncommittedBytes -= entry.data.length;
  // Stryker disable next-line EqualityOperator: at exactly 0 setting it to 0 changes nothing
  if (s.uncommittedBytes < 0) s.uncommittedBytes = 0;
  // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: here index > before and (canCommitAt, Raft §5.4.2) the entry is of this term; the check guards only broken test variants
  if (before < index && s.raftLog.term(index) === s.currentTerm) releaseDeferredReads(s);
  onCommitted(s, before);
  return true;
}

/** sendAppend sends `to` what its window allows: entries from its next index, or a snapshot if those are compacted. */
export function sendAppend(s: RaftState, to: NodeId, sendIfEmpty: boolean): void {
  const pr = s.progress.get(to);
  if (pr === undefined || pr.isPaused()) return;
  const prevIndex = pr.next - 1;
  const prevTerm = s.raftLog.term(prevIndex);
  if (prevTerm === null) {
    // Raft §7: the entries this follower needs are compacted; send the snapshot instead.
    const meta = s.raftLog.snapshot;
    pr.becomeSnapshot(meta.index);
    s.send<SnapshotMessage>({ type: 'snapshot', from: s.id, to, term: s.currentTerm, meta, data: null });
    return;
  }
  // Stryker disable next-line ConditionalExpression: slice from past the last index returns [] anyway
  const entries = pr.next <= s.raftLog.lastIndex() ? s.raftLog.slice(pr.next, s.raftLog.lastIndex(), s.cfg.maxAppendBytes) : [];
  if (entries.length === 0 && !sendIfEmpty) return;
  s.send<AppendMessage>({
    type: 'append',
    from: s.id,
    to,
    term: s.currentTerm,
    prevLogIndex: prevIndex,
    prevLogTerm: prevTerm,
    entries,
    commit: s.raftLog.committed,
  });
  pr.sentAppend(entries.length > 0 ? entries[entries.length - 1]!.index : prevIndex, entries.length);
}

export function broadcastAppend(s: RaftState): void {
  for (const peer of s.progress.keys()) sendAppend(s, peer, true);
}

export function broadcastHeartbeat(s: RaftState, context: string | null): void {
  for (const [peer, pr] of s.progress) {
    s.send<HeartbeatMessage>({
      type: 'heartbeat',
      from: s.id,
      to: peer,
      term: s.currentTerm,
      commit: Math.min(pr.match, s.raftLog.committed),
      context,
    });
  }
}

/** startLeadershipTransfer starts handing leadership to `to` (thesis §3.10); returns false when that is not possible now. */
export function startLeadershipTransfer(s: RaftState, to: NodeId): boolean {
  // Only a leader has progress entries, and only for its peers: a missing entry refuses a follower and `to` = self.
  const pr = s.progress.get(to);
  if (pr === undefined || !s.isVoter(to)) return false;
  if (s.leadTransferee === to) return true;
  s.leadTransferee = to;
  s.electionElapsed = 0;
  if (pr.match === s.raftLog.lastIndex()) sendTimeoutNow(s, to);
  else sendAppend(s, to, true);
  return true;
}

/** sendTimeoutNow tells `to` to campaign at once (thesis §3.10). */
export function sendTimeoutNow(s: RaftState, to: NodeId): void {
  s.send({ type: 'timeoutNow', from: s.id, to, term: s.currentTerm });
}

/** handleUnreachable: a send to `peer` failed, so replication falls back to probing. */
export function handleUnreachable(s: RaftState, peer: NodeId): void {
  // Only a leader has progress entries, so a follower's host reporting a failed send changes nothing (etcd: MsgUnreachable).
  const pr = s.progress.get(peer);
  if (pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
}

/** handleSnapshotStatus: sending a snapshot to `peer` finished, successfully or not. */
export function handleSnapshotStatus(s: RaftState, peer: NodeId, ok: boolean): void {
  // Only a leader has progress entries; a report about a peer not in snapshot state is stale (etcd: MsgSnapStatus).
  const pr = s.progress.get(peer);
  if (pr === undefined || pr.state !== 'snapshot') return;
  if (!ok) pr.pendingSnapshot = 0;
  // Wait for the follower's reply (or the next heartbeat) before sending more.
  pr.becomeProbe();
  pr.probeSent = true;
}
