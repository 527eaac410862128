import type { ConfChange, ConfChangeRefusal, ConfChangeResult, MemberProgress, NodeId } from './types.js';
import type { RaftState } from './raft-state.js';
import { Progress } from './progress.js';
import { changedConfig, isLearnerIn, memberIds, votersMoved } from './configuration.js';
import { appendEntry, sendTimeoutNow } from './leader-replication.js';
import { assert } from './invariant.js';

/**
 * Membership change, one server at a time (thesis §4.1), with learners. A configuration takes effect on every server
 * as soon as its entry is in the log, committed or not, and a truncated entry reverts it (raft-log.ts keeps the config
 * entries). This file holds the leader's side: when a change may be proposed, whom the leader replicates to, and the
 * removed leader's step-down (thesis §4.2.2).
 */

const EMPTY = new Uint8Array(0);

/**
 * proposeConfChange appends the configuration `change` makes, if this leader may change the configuration now. Rules,
 * in order: only a leader, not while transferring leadership; only once an entry of its own term committed (the fix
 * for the single-server bug, raft-dev 2015: otherwise a change of this term and an uncommitted change of an earlier
 * term can have disjoint majorities); one change at a time; the change must fit the configuration; a learner is
 * promoted only when caught up (promotionReady).
 */
export function proposeConfChange(s: RaftState, change: ConfChange): ConfChangeResult {
  const refuse = (reason: ConfChangeRefusal): ConfChangeResult => ({ ok: false, reason, leader: s.leaderId });
  if (s.currentRole !== 'leader') return refuse('not_leader');
  if (s.leadTransferee !== null) return refuse('transferring');
  if (!s.checks.ownTermCommitted()) return refuse('own_term_not_committed');
  if (s.checks.configChangePending()) return refuse('change_in_progress');
  const current = s.config();
  const next = changedConfig(current, change);
  if (typeof next === 'string') return refuse(next);
  if (change.type === 'promote' && !promotionReady(s, change.id)) return refuse('not_caught_up');
  // Thesis §4.1: a single-server change, so every majority of the old configuration overlaps every majority of the new.
  assert(votersMoved(current, next) <= 1, () => `a configuration change moves ${votersMoved(current, next)} voters`);
  const index = s.raftLog.lastIndex() + 1;
  appendEntry(s, { index, term: s.currentTerm, type: 'config', data: EMPTY, config: next });
  // An added member is new, whatever the leader still remembers of an earlier membership under its id (a removed
  // member's progress lives until the next CheckQuorum round): its disk may have been wiped since, and a stale match
  // would make every rejection it sends look stale (Progress.maybeDecrTo), so it would never catch up.
  if (change.type === 'addLearner') s.progress.delete(change.id);
  syncProgress(s);
  s.broadcastPending = true;
  return { ok: true, index, term: s.currentTerm, config: next };
}

/** ownTermCommitted: some entry of the leader's term (its no-op, Raft §8) is committed. */
export function ownTermCommitted(s: RaftState): boolean {
  return s.raftLog.term(s.raftLog.committed) === s.currentTerm;
}

/** configChangePending: the latest configuration entry in the log is not committed yet. */
export function configChangePending(s: RaftState): boolean {
  return s.raftLog.configIndex() > s.raftLog.committed;
}

/**
 * promotionReady: the learner is within maxPromoteLagEntries of the leader's last index (etcd's learner readiness,
 * hashicorp's staging), so becoming a voter does not make it a slow member of every majority; and every member holds
 * the current configuration entry, so every member knows the learner (and its address) before it can ever lead or
 * campaign: a member that missed the entry adding it could not answer it.
 */
function promotionReady(s: RaftState, id: NodeId): boolean {
  const configIndex = s.raftLog.configIndex();
  const learner = s.progress.get(id);
  if (learner === undefined || s.raftLog.lastIndex() - learner.match > s.cfg.maxPromoteLagEntries) return false;
  for (const member of memberIds(s.config())) {
    // Stryker disable next-line OptionalChaining: a leader tracks every other member (syncProgress makes them replication targets), so the lookup never misses
    if (member !== s.id && (s.progress.get(member)?.match ?? 0) < configIndex) return false;
  }
  return true;
}

/**
 * syncProgress makes the leader's per-member progress match its replication targets (RaftState.replicationTargets):
 * a new member is probed from the end of the log (Raft §5.3 walks it back), a member no longer targeted is forgotten,
 * and a transfer to a server that is no longer a voter is aborted.
 */
export function syncProgress(s: RaftState): void {
  assert(s.currentRole === 'leader', 'only a leader tracks progress');
  const targets = s.replicationTargets();
  for (const id of [...s.progress.keys()]) if (!targets.includes(id)) s.progress.delete(id);
  for (const id of targets) if (!s.progress.has(id)) s.progress.set(id, new Progress(s.raftLog.lastIndex() + 1, s.cfg.maxInflightAppends));
  // Stryker disable next-line all: no caller has a transfer under way (becomeLeader runs after reset, proposeConfChange refuses while transferring, tickLeader ends the transfer first); kept for any future caller
  if (s.leadTransferee !== null && !s.isVoter(s.leadTransferee)) s.leadTransferee = null;
}

/**
 * onCommitted runs when a leader's commit index moves past `before`. If that committed the latest configuration entry
 * and it removes the leader, the leader steps down (thesis §4.2.2: a leader not in C_new manages the cluster until
 * C_new commits), after sending TimeoutNow to a caught-up voter (thesis §3.10) so the cluster need not wait out an
 * election timeout. Members it removes are still sent heartbeats until the next CheckQuorum round (ticks.ts), which
 * tell them their removal committed, so they stop campaigning (RaftState.mayCampaign).
 */
export function onCommitted(s: RaftState, before: number): void {
  const configIndex = s.raftLog.configIndex();
  if (configIndex <= before || configIndex > s.raftLog.committed) return;
  if (s.isVoter(s.id)) return;
  // Stryker disable next-line OptionalChaining: every voting peer is a member, whose progress the leader tracks (syncProgress)
  const successor = s.votingPeers().find((id) => s.progress.get(id)?.match === s.raftLog.lastIndex());
  if (successor !== undefined) sendTimeoutNow(s, successor);
  s.becomeFollower(s.currentTerm, null);
}

/** memberProgress is the leader's view of every member's replication (null when not leading). */
export function memberProgress(s: RaftState): MemberProgress[] | null {
  if (s.currentRole !== 'leader') return null;
  const config = s.config();
  const last = s.raftLog.lastIndex();
  return memberIds(config).map((id): MemberProgress => {
    const suffrage = isLearnerIn(config, id) ? 'learner' : 'voter';
    if (id === s.id) return { id, suffrage, match: s.raftLog.stableIndex, lag: last - s.raftLog.stableIndex, state: 'self' };
    const pr = s.progress.get(id);
    // Stryker disable next-line OptionalChaining: a leader tracks every other member's progress (syncProgress), so pr is never undefined here
    const match = pr?.match ?? 0;
    // Stryker disable next-line OptionalChaining,StringLiteral: as above, pr is always defined, so the 'probe' fallback is never used
    return { id, suffrage, match, lag: last - match, state: pr?.state ?? 'probe' };
  });
}
