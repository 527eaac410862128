import type { ReadIndexResult } from './types.js';
import type { RaftState } from './raft-state.js';

/**
 * The leader's side of ReadIndex (thesis §6.4): a read records the commit index at arrival and completes once a
 * heartbeat round confirms this node still leads (ReadIndexQueue counts the acks; leader-replication.ts feeds it).
 */

/** requestReadIndex asks for a linearizable read point; a ReadState with `context` arrives in a later Ready. */
export function requestReadIndex(s: RaftState, context: string): ReadIndexResult {
  if (s.currentRole !== 'leader') return { ok: false, reason: 'not_leader', leader: s.leaderId };
  if (s.reads.size() >= s.cfg.maxPendingReads) return { ok: false, reason: 'overloaded', leader: s.leaderId };
  if (s.raftLog.term(s.raftLog.committed) !== s.currentTerm) {
    // Thesis §6.4 step 1: until the leader commits an entry of its term it does not know the latest commit index.
    s.reads.deferUntilCommit(context);
    return { ok: true };
  }
  registerRead(s, context);
  return { ok: true };
}

/** releaseDeferredReads registers the reads that waited for the leader's first commit of its term. */
export function releaseDeferredReads(s: RaftState): void {
  for (const context of s.reads.takeDeferred()) registerRead(s, context);
}

function registerRead(s: RaftState, context: string): void {
  if (s.votingPeers().length === 0 && s.isVoter(s.id)) {
    // The only voter: no one else can have been elected, so the commit index is current (thesis §6.4).
    s.readStates.push({ index: s.raftLog.committed, context });
    return;
  }
  s.reads.add(context, s.raftLog.committed, s.id);
  s.readHeartbeatPending = true;
}
