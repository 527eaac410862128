import type { FastifyReply } from 'fastify';
import { ERROR_STATUS, type ErrorCode } from '../api/error-codes.js';
import { RaftLockError } from '../node/errors.js';

/** Codes after which a client should retry (with the same requestId) after a short pause. */
const RETRY_AFTER_S: Readonly<Partial<Record<ErrorCode, number>>> = { no_leader: 1, not_leader: 1, overloaded: 1, proposal_dropped: 1, shutting_down: 1 };

/** sendError writes `{error, message, ...extra}` with the status its code maps to (ERROR_STATUS). */
export function sendError(reply: FastifyReply, code: ErrorCode, message: string, extra: Record<string, unknown> = {}): FastifyReply {
  // A non-leader with no known leader answers no_leader: the contract's name for "no quorum right now".
  const wire = code === 'not_leader' ? 'no_leader' : code;
  const retry = RETRY_AFTER_S[wire];
  if (retry !== undefined) void reply.header('retry-after', String(retry));
  return reply.code(ERROR_STATUS[wire]).send({ error: wire, message, ...extra });
}

/** sendFailure maps a thrown error: typed RaftLockErrors to their code, anything else to 500 internal (a bug, logged). */
export function sendFailure(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof RaftLockError) return sendError(reply, err.code, err.message);
  reply.log.error({ err, reqId: reply.request.id }, 'unexpected error');
  return sendError(reply, 'internal', 'internal error; see the node log');
}
