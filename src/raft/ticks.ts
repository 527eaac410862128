import type { NodeId } from './types.js';
import type { RaftState } from './raft-state.js';
import { hasQuorum } from './quorum.js';
import { campaign } from './elections.js';
import { broadcastHeartbeat } from './leader-replication.js';
import { syncProgress } from './membership.js';

/**
 * What one tick of logical time does: followers and candidates count toward an election timeout (Raft §5.2);
 * a leader counts toward its heartbeat interval and, once per election timeout, checks it still leads.
 */

export function tickElection(s: RaftState): void {
  s.electionElapsed++;
  if (s.electionElapsed >= s.randomizedElectionTicks && s.mayCampaign()) {
    s.electionElapsed = 0;
    campaign(s, s.cfg.preVote ? 'preVote' : 'vote', false);
  }
}

export function tickLeader(s: RaftState): void {
  s.heartbeatElapsed++;
  s.electionElapsed++;
  if (s.electionElapsed >= s.cfg.electionTicks) {
    s.electionElapsed = 0;
    // CheckQuorum (thesis §6.2): a leader that has not heard from a majority within an election timeout steps down.
    if (s.cfg.checkQuorum && !checkQuorumActive(s)) {
      s.becomeFollower(s.currentTerm, null);
      return;
    }
    // Thesis §3.10: a transfer that has not completed within an election timeout is aborted.
    s.leadTransferee = null;
    // Members removed by a committed configuration got heartbeats telling them so since; now stop replicating to them.
    syncProgress(s);
  }
  if (s.heartbeatElapsed >= s.cfg.heartbeatTicks) {
    s.heartbeatElapsed = 0;
    broadcastHeartbeat(s, s.reads.latestContext());
  }
}

/** checkQuorumActive says whether a majority was heard from since the last check, and starts a new period. */
function checkQuorumActive(s: RaftState): boolean {
  const active = new Set<NodeId>([s.id]);
  for (const [peer, pr] of s.progress) {
    if (pr.recentActive) active.add(peer);
    pr.recentActive = false;
  }
  return hasQuorum(s.voters(), active);
}
