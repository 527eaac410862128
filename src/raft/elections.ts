import type { Message, VoteMessage, VoteResponseMessage } from './types.js';
import type { RaftState } from './raft-state.js';
import { tallyVotes } from './quorum.js';
import { appendEntry } from './leader-replication.js';
import { syncProgress } from './membership.js';
import { assert } from './invariant.js';

/**
 * Leader election (Raft §5.2) with PreVote (thesis §9.6): campaigning, granting votes under the §5.4.1
 * up-to-date check (RaftState.checks), counting them, and the role changes an election causes.
 */

const EMPTY = new Uint8Array(0);

/** campaign starts a pre-vote or a real election; `transfer` marks one caused by TimeoutNow (thesis §3.10). */
export function campaign(s: RaftState, kind: 'preVote' | 'vote', transfer: boolean): void {
  // Learners, members whose removal committed and joining members never campaign (RaftState.mayCampaign).
  assert(s.mayCampaign(), () => `${s.id} campaigns but may not (configuration ${JSON.stringify(s.config().voters)})`);
  let term: number;
  if (kind === 'preVote') {
    becomePreCandidate(s);
    term = s.currentTerm + 1; // the term we would campaign at; ours is unchanged
  } else {
    becomeCandidate(s);
    term = s.currentTerm;
  }
  s.votes.set(s.id, true);
  if (poll(s) !== 'pending') return; // a single-voter cluster wins at once
  for (const peer of s.votingPeers()) {
    s.send<VoteMessage>({
      type: kind,
      from: s.id,
      to: peer,
      term,
      lastLogIndex: s.raftLog.lastIndex(),
      lastLogTerm: s.raftLog.lastTerm(),
      transfer,
    });
  }
}

export function handleVote(s: RaftState, m: VoteMessage): void {
  const isPreVote = m.type === 'preVote';
  // Raft Figure 2, RequestVote receiver rule 2: vote if not yet voted for another (in this term) and the log is up to date.
  const canVote = s.votedFor === m.from || (s.votedFor === null && s.leaderId === null) || (isPreVote && m.term > s.currentTerm);
  const grant = canVote && s.checks.isLogUpToDate(m.lastLogIndex, m.lastLogTerm);
  if (grant && !isPreVote) {
    s.electionElapsed = 0;
    s.votedFor = m.from;
  }
  s.send<VoteResponseMessage>({
    type: isPreVote ? 'preVoteResponse' : 'voteResponse',
    from: s.id,
    to: m.from,
    // A granted pre-vote answers at the proposed term so the pre-candidate counts it; a rejection carries ours.
    term: grant ? m.term : s.currentTerm,
    reject: !grant,
  });
}

export function handleVoteResponse(s: RaftState, m: VoteResponseMessage): void {
  const expected = s.currentRole === 'preCandidate' ? 'preVoteResponse' : s.currentRole === 'candidate' ? 'voteResponse' : null;
  if (m.type !== expected) return;
  if (!s.votes.has(m.from)) s.votes.set(m.from, !m.reject);
  poll(s);
}

export function handleTimeoutNow(s: RaftState, m: Message): void {
  if (m.from !== s.leaderId || !s.isVoter(s.id)) return;
  // Only a follower knows a leader other than itself: (pre-)candidates know none, a leader's is itself and step() drops our own messages.
  assert(s.currentRole === 'follower', () => `${s.id}: TimeoutNow from leader ${m.from} reached a ${s.currentRole}`);
  // Thesis §3.10: the transferee campaigns at once, skipping PreVote, and its votes bypass the leader lease.
  campaign(s, 'vote', true);
}

/** poll tallies the votes so far and acts on a decided election. */
function poll(s: RaftState): 'won' | 'lost' | 'pending' {
  const result = tallyVotes(s.voters(), s.votes);
  if (result === 'won') {
    if (s.currentRole === 'preCandidate') campaign(s, 'vote', false);
    else becomeLeader(s);
  } else if (result === 'lost') {
    s.becomeFollower(s.currentTerm, null);
  }
  return result;
}

function becomePreCandidate(s: RaftState): void {
  assert(s.currentRole !== 'leader', 'a leader does not become pre-candidate');
  // Thesis §9.6: a pre-candidate changes neither its term nor its vote.
  s.votes.clear();
  s.currentRole = 'preCandidate';
  s.leaderId = null;
  // A fresh random timeout for each pre-campaign, so two pre-candidates do not keep colliding (Raft §5.2).
  s.randomizedElectionTicks = s.cfg.electionTicks + s.cfg.random.nextInt(s.cfg.electionTicks);
}

function becomeCandidate(s: RaftState): void {
  assert(s.currentRole !== 'leader', 'a leader does not become candidate');
  // Raft §5.2: increment currentTerm and vote for self.
  s.reset(s.currentTerm + 1);
  s.votedFor = s.id;
  s.currentRole = 'candidate';
}

function becomeLeader(s: RaftState): void {
  assert(s.currentRole === 'candidate', 'only a candidate becomes leader');
  s.currentRole = 'leader';
  s.leaderId = s.id;
  s.uncommittedBytes = 0;
  const next = s.raftLog.lastIndex() + 1;
  syncProgress(s);
  // Raft §8: a new leader commits a no-op of its own term, which also commits earlier-term entries (§5.4.2).
  appendEntry(s, { index: next, term: s.currentTerm, type: 'normal', data: EMPTY });
  s.broadcastPending = true;
}
