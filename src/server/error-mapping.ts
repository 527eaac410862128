import type { FastifyReply } from 'fastify';
import { RaftLockError } from '../node/errors.js';

/** HTTP status for each stable error code: the one place codes meet statuses. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  bad_request: 400,
  not_found: 404,
  session_not_found: 404,
  lock_held: 409,
  not_holder: 409,
  limit_mismatch: 409,
  wait_ended: 409,
  too_many_waiters: 429,
  no_leader: 503,
  not_leader: 503,
  overloaded: 503,
  proposal_dropped: 503,
  shutting_down: 503,
  outcome_unknown: 504,
};

/** Codes after which a client should retry (with the same requestId) after a short pause. */
const RETRY_AFTER_S: Readonly<Record<string, number>> = { no_leader: 1, not_leader: 1, overloaded: 1, proposal_dropped: 1, shutting_down: 1 };

/** statusForCode maps a stable error code to its HTTP status (500 for an unknown code: a bug). */
export function statusForCode(code: string): number {
  return STATUS_BY_CODE[code] ?? 500;
}

/** sendError writes `{error, message, ...extra}` with the status its code maps to. */
export function sendError(reply: FastifyReply, code: string, message: string, extra: Record<string, unknown> = {}): FastifyReply {
  // A non-leader with no known leader answers no_leader: the contract's name for "no quorum right now".
  const wire = code === 'not_leader' ? 'no_leader' : code;
  const retry = RETRY_AFTER_S[wire];
  if (retry !== undefined) void reply.header('retry-after', String(retry));
  return reply.code(statusForCode(wire)).send({ error: wire, message, ...extra });
}

/** sendFailure maps a thrown error: typed RaftLockErrors to their code, anything else to 500 internal (a bug, logged). */
export function sendFailure(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof RaftLockError) return sendError(reply, err.code, err.message);
  reply.log.error({ err }, 'unexpected error');
  return reply.code(500).send({ error: 'internal', message: 'internal error; see the node log' });
}
