import type { ErrorCode } from '../api/error-codes.js';
import type { ConfChangeRefusal, NodeId, ProposeResult } from '../raft/index.js';

/**
 * RaftLockError is an expected failure with a stable `code`; the HTTP layer
 * maps codes to statuses in one place (src/server/error-mapping.ts). The code
 * is an ErrorCode, so every code thrown has a status.
 */
export class RaftLockError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RaftLockError';
  }
}

/** NotLeaderError: this node cannot serve the request; `leader` is the known leader, if any. */
export class NotLeaderError extends RaftLockError {
  constructor(leader: NodeId | null) {
    super('not_leader', leader === null ? 'no leader is known' : `not leader; the leader is ${leader}`);
  }
}

/** OutcomeUnknownError: a write was proposed but its fate was not learned in time; it may or may not commit. */
export class OutcomeUnknownError extends RaftLockError {
  constructor(message = 'the outcome of the write is unknown; retry with the same requestId') {
    super('outcome_unknown', message);
  }
}

/** ProposalDroppedError: the entry was overwritten by another leader's; it definitely did not commit. */
export class ProposalDroppedError extends RaftLockError {
  constructor() {
    super('proposal_dropped', 'the write was lost in a leader change and did not take effect; retry');
  }
}

/** OverloadedError: a bounded queue is full; back off and retry. */
export class OverloadedError extends RaftLockError {
  constructor(what: string) {
    super('overloaded', `${what} is full; retry later`);
  }
}

/**
 * ConfChangeRefusedError: the leader refused a membership change; `reason` says why (ConfChangeRefusal). Only
 * `own_term_not_committed`, `change_in_progress` and `not_caught_up` may pass with time; retry those.
 */
export class ConfChangeRefusedError extends RaftLockError {
  constructor(readonly reason: Exclude<ConfChangeRefusal, 'not_leader' | 'transferring'>) {
    super('membership_change_refused', `the membership change was refused (${reason}): ${CONF_CHANGE_ADVICE[reason]}`);
  }
}

/** What each refusal means to the operator, and whether waiting helps. */
const CONF_CHANGE_ADVICE: Readonly<Record<Exclude<ConfChangeRefusal, 'not_leader' | 'transferring'>, string>> = {
  own_term_not_committed: 'a new leader first commits an entry of its own term; retry in a moment',
  change_in_progress: 'the previous membership change has not committed yet (one change at a time); retry in a moment',
  not_caught_up: 'the learner is not yet close behind the leader, or some member does not hold the current configuration yet; retry once it has caught up (raftlock member list shows the lag)',
  unknown_member: 'no such member in the configuration',
  already_member: 'that id is already a member (a removed id cannot be reused while it is still listed)',
  not_learner: 'only a learner can be promoted',
  last_voter: 'the cluster must keep at least one voter',
};

/** refusalError is the error that answers the core's refusal of a proposal or of a membership change. */
export function refusalError(reason: Extract<ProposeResult, { ok: false }>['reason'] | ConfChangeRefusal, leader: NodeId | null): RaftLockError {
  if (reason === 'overloaded') return new OverloadedError('the replication backlog');
  if (reason === 'not_leader' || reason === 'transferring') return new NotLeaderError(leader);
  return new ConfChangeRefusedError(reason);
}
