import type { AppendResponseMessage, Message, VoteResponseMessage } from './types.js';
import type { RaftState } from './raft-state.js';

/**
 * stepTerm applies the term rules every message obeys (Raft §5.1: a higher
 * term makes us follow it; a lower one is stale) with the PreVote and
 * CheckQuorum refinements of thesis §9.6 and §4.2.3. Returns whether to go on
 * handling the message.
 */
export function stepTerm(s: RaftState, m: Message): boolean {
  // A campaign from a server that is not a voter of our configuration is answered like any other (thesis §4.1: a
  // server grants its vote to a candidate outside its latest configuration): after a change, a new voter may need the
  // vote of a member that has not received the change yet. A removed server cannot win so (its log lacks the change
  // that removed it, which a majority holds), and the lease below keeps it from disrupting a live leader (§4.2.3).
  if (m.term > s.currentTerm) {
    if (m.type === 'vote' || m.type === 'preVote') {
      // Thesis §4.2.3: while we hear from a live leader, ignore campaigns (unless a transfer caused them),
      // so a node rejoining from a partition cannot depose a healthy leader.
      const inLease = s.cfg.checkQuorum && s.leaderId !== null && s.electionElapsed < s.cfg.electionTicks;
      if (inLease && !m.transfer) return false;
    }
    if (m.type === 'preVote') return true; // answering a pre-vote changes nothing here (thesis §9.6)
    if (m.type === 'preVoteResponse' && !m.reject) return true; // a grant at the term we would campaign at
    // A leader's append, heartbeat or snapshot names its sender as leader in step(), through followLeader, right after.
    s.becomeFollower(m.term, null);
    return true;
  }
  if (m.term < s.currentTerm) {
    if ((s.cfg.checkQuorum || s.cfg.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
      // A stale leader that cannot hear higher-term votes (PreVote or CheckQuorum suppresses them) learns our term from this reply and steps down.
      s.send<AppendResponseMessage>({ type: 'appendResponse', from: s.id, to: m.from, term: s.currentTerm, reject: true, index: 0, hintIndex: 0, hintTerm: 0 });
    } else if (m.type === 'preVote') {
      s.send<VoteResponseMessage>({ type: 'preVoteResponse', from: s.id, to: m.from, term: s.currentTerm, reject: true });
    }
    return false;
  }
  return true;
}
