import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NodeId } from '../raft/index.js';
import { sendError } from './error-mapping.js';

/** Header marking a request forwarded by a peer: it is never forwarded again (no loops). */
export const FORWARDED_HEADER = 'x-raftlock-forwarded';

/** Extra time a forwarded request may take beyond its own wait. */
const FORWARD_TIMEOUT_MS = 15_000;

/**
 * forwardToLeader relays a request to the leader's HTTP address and streams
 * back its status and body. A write whose connection broke after it was sent
 * answers 504 outcome_unknown: it may have been applied. A client that goes
 * away aborts the relay, which the leader sees as a disconnect (a queued
 * waiter then leaves the queue).
 */
export async function forwardToLeader(
  request: FastifyRequest,
  reply: FastifyReply,
  leader: NodeId | null,
  leaderHttp: string | undefined,
  opts: { write: boolean; waitMs: number },
): Promise<FastifyReply> {
  if (leader === null) return sendError(reply, 'no_leader', 'no leader is known; the cluster may have lost quorum');
  if (leaderHttp === undefined) return sendError(reply, 'no_leader', `the leader is ${leader}, whose HTTP address this node does not know (--peer-http)`);
  if (request.headers[FORWARDED_HEADER] !== undefined) return sendError(reply, 'no_leader', `this node is not the leader; it believes ${leader} is`);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.waitMs + FORWARD_TIMEOUT_MS);
  const onClose = (): void => {
    if (!reply.raw.writableFinished) controller.abort();
  };
  reply.raw.on('close', onClose);
  let sent = false;
  try {
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD' && request.body !== undefined;
    const init: RequestInit = {
      method: request.method,
      headers: { [FORWARDED_HEADER]: '1', ...(hasBody ? { 'content-type': 'application/json' } : {}) },
      signal: controller.signal,
      ...(hasBody ? { body: JSON.stringify(request.body) } : {}),
    };
    sent = true;
    const res = await fetch(new URL(request.url, leaderHttp), init);
    const text = await res.text();
    const retryAfter = res.headers.get('retry-after');
    if (retryAfter !== null) void reply.header('retry-after', retryAfter);
    return reply.code(res.status).type('application/json; charset=utf-8').send(text);
  } catch (err) {
    const refused = isConnectionRefused(err);
    if (opts.write && sent && !refused) {
      return sendError(reply, 'outcome_unknown', `the leader ${leader} did not answer; the write may or may not have taken effect — retry with the same requestId`);
    }
    return sendError(reply, 'no_leader', `the leader ${leader} is unreachable`);
  } finally {
    clearTimeout(timer);
    reply.raw.off('close', onClose);
  }
}

function isConnectionRefused(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } } | null)?.cause;
  return cause?.code === 'ECONNREFUSED';
}
