import type { AppendMessage, AppendResponseMessage, HeartbeatMessage, HeartbeatResponseMessage, NodeId, SnapshotMessage } from './types.js';
import type { RaftState } from './raft-state.js';
import { assert } from './invariant.js';

/**
 * The follower's side of log replication: accepting the current leader (Raft §5.2), AppendEntries with the
 * consistency check and a conflict hint (§5.3), heartbeats, and InstallSnapshot (§7).
 */

/** followLeader records `leader` as this term's leader and restarts the election timer; call it before handling its traffic. */
export function followLeader(s: RaftState, leader: NodeId): void {
  if (s.currentRole === 'leader') {
    // Raft §5.2 election safety: two leaders in one term is a bug, not a case to handle.
    assert(false, () => `${s.id}: leader of term ${s.currentTerm} got leader traffic from ${leader} in the same term`);
  }
  if (s.currentRole !== 'follower') s.becomeFollower(s.currentTerm, leader);
  s.leaderId = leader;
  s.electionElapsed = 0;
}

export function handleAppend(s: RaftState, m: AppendMessage): void {
  const respond = (reject: boolean, index: number, hintIndex = 0, hintTerm = 0): void =>
    s.send<AppendResponseMessage>({ type: 'appendResponse', from: s.id, to: m.from, term: s.currentTerm, reject, index, hintIndex, hintTerm });
  if (m.prevLogIndex < s.raftLog.committed) {
    // Everything up to our commit index matches the leader's log (Leader Completeness); say where we are.
    respond(false, s.raftLog.committed);
    return;
  }
  const lastNew = s.raftLog.maybeAppend(m.prevLogIndex, m.prevLogTerm, m.commit, m.entries);
  if (lastNew !== null) {
    respond(false, lastNew);
    return;
  }
  // Raft §5.3 "optimization": tell the leader where our log may match, skipping a conflicting term at once.
  // findConflictByTerm clamps the index to our last entry, for a log shorter than prevLogIndex.
  const hint = s.raftLog.findConflictByTerm(m.prevLogIndex, m.prevLogTerm);
  respond(true, m.prevLogIndex, hint.index, hint.term);
}

export function handleHeartbeat(s: RaftState, m: HeartbeatMessage): void {
  // The leader sends min(match, commit), so we hold every entry up to m.commit.
  s.raftLog.commitTo(Math.min(m.commit, s.raftLog.lastIndex()));
  s.send<HeartbeatResponseMessage>({ type: 'heartbeatResponse', from: s.id, to: m.from, term: s.currentTerm, context: m.context });
}

export function handleSnapshot(s: RaftState, m: SnapshotMessage): void {
  const meta = m.meta;
  let index: number;
  // Stryker disable next-line EqualityOperator: at meta.index = commit the next branch answers the same (a committed entry matches the leader's, Log Matching)
  if (meta.index <= s.raftLog.committed) {
    index = s.raftLog.committed;
  } else if (s.raftLog.matchTerm(meta.index, meta.term)) {
    // Raft §7: our log already holds the snapshot's last entry; keep what follows and fast-forward the commit.
    s.raftLog.commitTo(meta.index);
    index = meta.index;
  } else {
    assert(m.data !== null, 'a snapshot message must carry data when stepped');
    s.raftLog.restore({ meta, data: m.data });
    s.uncommittedBytes = 0;
    index = meta.index;
  }
  s.send<AppendResponseMessage>({ type: 'appendResponse', from: s.id, to: m.from, term: s.currentTerm, reject: false, index, hintIndex: 0, hintTerm: 0 });
}
