import type { FastifyReply, FastifyRequest, RouteGenericInterface } from 'fastify';
import { RaftLockError } from '../node/errors.js';
import { sendError, sendFailure } from './error-mapping.js';
import type { LockBackend } from './lock-backend.js';
import { isCertificateRefusal, neverSent } from './peer-http.js';

/** Header marking a request forwarded by a peer: it is never forwarded again (no loops). */
export const FORWARDED_HEADER = 'x-raftlock-forwarded';

/** The headers of the leader's answer a relay passes on (the index is watch.ts's INDEX_HEADER). */
const RELAYED_HEADERS = ['retry-after', 'x-raftlock-index'] as const;

/** Extra time a forwarded request may take beyond its own wait. */
const FORWARD_TIMEOUT_MS = 15_000;

/** LeaderRoute says how a route that must run on the leader is relayed from another node. */
export interface LeaderRoute<R extends RouteGenericInterface> {
  /** A write whose relay breaks after sending may have taken effect: it answers 504 outcome_unknown. */
  readonly write: boolean;
  /** How long the leader may hold the request open (a queued acquire's waitMs); 0 when absent. */
  readonly waitMsOf?: (request: FastifyRequest<R>) => number;
}

/** WRITE is a route that changes the lease table and answers at once. */
export const WRITE: LeaderRoute<RouteGenericInterface> = { write: true };
/** READ is a linearizable read: it runs on the leader after a read barrier. */
export const READ: LeaderRoute<RouteGenericInterface> = { write: false };

/**
 * onLeader makes a route handler that runs `handler` when this node leads and
 * otherwise relays the request to the leader. Leadership can move between the
 * check and the proposal: a handler failing with not_leader is relayed once
 * if another node leads by then. Any other failure is answered by its code.
 */
export function onLeader<R extends RouteGenericInterface>(
  backend: LockBackend,
  route: LeaderRoute<NoInfer<R>>,
  handler: (request: FastifyRequest<R>, reply: FastifyReply) => Promise<FastifyReply>,
): (request: FastifyRequest<R>, reply: FastifyReply) => Promise<FastifyReply> {
  // No closure per request: the relay's arguments are built only when a request is relayed.
  const relay = (request: FastifyRequest<R>, reply: FastifyReply): Promise<FastifyReply> =>
    forwardToLeader(request, reply, backend, { write: route.write, waitMs: route.waitMsOf?.(request) ?? 0 });
  return async (request, reply) => {
    if (!backend.isLeader()) return relay(request, reply);
    try {
      return await handler(request, reply);
    } catch (err) {
      const leader = backend.leader();
      if (err instanceof RaftLockError && err.code === 'not_leader' && leader !== null && leader !== backend.id) return relay(request, reply);
      return sendFailure(reply, err);
    }
  };
}

/**
 * forwardToLeader relays a request to the leader's HTTP address and streams
 * back its status and body, speaking for the caller this node authenticated
 * (peer-http.ts signs its identity). A write whose connection broke after it
 * was sent answers 504 outcome_unknown: it may have been applied. A client
 * that goes away aborts the relay, which the leader sees as a disconnect (a
 * queued waiter then leaves the queue).
 */
async function forwardToLeader(request: FastifyRequest, reply: FastifyReply, backend: LockBackend, opts: { write: boolean; waitMs: number }): Promise<FastifyReply> {
  const leader = backend.leader();
  if (leader === null) return sendError(reply, 'no_leader', 'no leader is known; the cluster may have lost quorum');
  const leaderHttp = backend.httpUrlOf(leader);
  if (leaderHttp === undefined) return sendError(reply, 'no_leader', `the leader is ${leader}, whose HTTP address this node does not know (--peer-http)`);
  if (request.headers[FORWARDED_HEADER] !== undefined) return sendError(reply, 'no_leader', `this node is not the leader; it believes ${leader} is`);
  const body = relayedBody(request);
  if (body instanceof Error) return sendError(reply, 'bad_request', body.message);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.waitMs + FORWARD_TIMEOUT_MS);
  const onClose = (): void => {
    if (!reply.raw.writableFinished) controller.abort();
  };
  reply.raw.on('close', onClose);
  let sent = false;
  try {
    sent = true;
    const res = await backend.peers.send(leaderHttp, {
      method: request.method,
      path: request.url,
      headers: { [FORWARDED_HEADER]: '1' },
      ...(body !== undefined ? { body } : {}),
      // The caller this node authenticated; a member's own internal call stays the member's.
      caller: request.identity ?? (request.member !== null ? 'member' : null),
      signal: controller.signal,
    });
    // The leader's headers that mean something to the caller: when to retry, and a blocking read's index (watch.ts).
    for (const header of RELAYED_HEADERS) {
      const value = res.headers[header];
      if (typeof value === 'string') void reply.header(header, value);
    }
    return reply.code(res.status).type('application/json; charset=utf-8').send(res.text);
  } catch (err) {
    if (isCertificateRefusal(err)) request.log.warn({ err, leader, reqId: request.id }, 'relay to the leader refused: its HTTPS certificate is not trusted here');
    if (opts.write && sent && !neverSent(err)) {
      return sendError(reply, 'outcome_unknown', `the leader ${leader} did not answer; the write may or may not have taken effect — retry with the same requestId`);
    }
    return sendError(reply, 'no_leader', `the leader ${leader} is unreachable${describeFailure(err)}`);
  } finally {
    clearTimeout(timer);
    reply.raw.off('close', onClose);
  }
}

/**
 * relayedBody is the body to relay: none for a route that declares no body (the leader would ignore it, so a
 * follower must not fail on it either), else the parsed body serialized again; an Error when it cannot be (nested
 * too deeply for JSON.stringify: the caller's mistake, a 400, not an unreachable leader).
 */
function relayedBody(request: FastifyRequest): string | undefined | Error {
  if (request.routeOptions.schema?.body === undefined || request.body === undefined) return undefined;
  try {
    return JSON.stringify(request.body);
  } catch (err) {
    return new Error(`the request body cannot be relayed to the leader: ${(err as Error).message}`);
  }
}

/** describeFailure names a relay's failure when an operator must fix it (a certificate), else nothing. */
function describeFailure(err: unknown): string {
  if (!isCertificateRefusal(err)) return '';
  return ` (${(err as { code: string }).code}: its HTTPS certificate is not trusted here; see --http-ca)`;
}
