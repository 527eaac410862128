import type { ErrorCode } from '../api/error-codes.js';
import type { NodeId } from '../raft/index.js';

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
