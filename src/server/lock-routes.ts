import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { API_BOUNDS } from '../api/contract.js';
import type { AcquireCommand, CommandResult, LockMode, ReleaseOk, RenewOk } from '../locks/index.js';
import { sendError } from './error-mapping.js';
import { READ, WRITE, onLeader } from './leader-forwarder.js';
import type { BackendPluginOptions, LockBackend } from './lock-backend.js';
import { acquireWaiting, executeCancelWait, otherKindMessage } from './long-poll.js';
import { scopeOf, type PrincipalScope } from './principal-scope.js';
import { expiresInMs, grantedJson, isGranted, lockJson, lockListJson, lockShape, sendLockFailure, sendResult, viewContext, type ViewContext } from './response-views.js';
import * as answers from './response-schemas.js';
import { withErrors } from './response-schemas.js';
import * as schema from './schemas.js';
import { blockUntilChanged, sendIndexed, watchWaitMs, type WatchQuery } from './watch.js';

/** How many locks a list returns when the caller gives no limit. */
const LIST_LIMIT_DEFAULT = 100;

/** NameParams is the `:name` of a lock or election route. */
export type NameParams = { name: string };
/** AcquireBody is an acquire's body; `value` comes only through an election's campaign (election-routes.ts). */
export type AcquireBody = {
  owner: string;
  ttlMs?: number;
  sessionId?: string;
  mode?: LockMode;
  limit?: number;
  waitMs?: number;
  lockDelayMs?: number;
  value?: string;
  requestId?: string;
};
/** HoldBody names a hold (owner and token) for a release or renew. */
export type HoldBody = { owner: string; token: number; ttlMs?: number; requestId?: string };
type ListQuery = { prefix?: string; limit?: string; after?: string } & WatchQuery;

/**
 * lockRoutes is the fastify plugin of `/v1/locks`: acquire (at once or as a
 * long-poll), release, renew, read one lock, list, check a fencing token, and
 * force-release. Writes and reads run on the leader; other nodes relay them.
 * Each route declares the role it needs (auth.ts); owners and requestIds are
 * the caller's principal's (principal-scope.ts).
 */
export async function lockRoutes(app: FastifyInstance, { backend }: BackendPluginOptions): Promise<void> {
  const at = (request: FastifyRequest): ViewContext => viewContext(backend.nowMs(), scopeOf(request).shownOwner);

  app.post<{ Params: NameParams; Body: AcquireBody }>(
    '/v1/locks/:name/acquire',
    { schema: { summary: 'Acquire a lock, at once or waiting up to waitMs (a long-poll)', tags: ['locks'], params: schema.nameParams, body: schema.acquireBody, response: withErrors({ 200: answers.grantedAnswer }) }, config: { role: 'locker', waitMsOf: (request) => (request.body as AcquireBody).waitMs ?? 0 } },
    onLeader(backend, { write: true, waitMsOf: (request) => request.body.waitMs ?? 0 }, (request, reply) =>
      acquire(backend, reply, scopeOf(request), request.params.name, request.body),
    ),
  );

  // Internal: a node whose long-poll ended after leadership moved asks the leader to take its waiter out of the queue.
  // The waiter id and owner are the stored (already scoped) ones, so they are used as they come.
  app.post<{ Params: NameParams; Body: { waiterId: string; owner?: string } }>(
    '/v1/locks/:name/cancel-wait',
    { schema: { hide: true, params: schema.nameParams, body: schema.cancelWaitBody, response: withErrors({ 200: answers.cancelWaitAnswer }) }, config: { role: 'member' } },
    onLeader(backend, WRITE, async (request, reply) =>
      reply.send({ cancelled: await executeCancelWait(backend, request.params.name, request.body.waiterId, request.body.owner) }),
    ),
  );

  app.post<{ Params: NameParams; Body: HoldBody }>(
    '/v1/locks/:name/release',
    { schema: { summary: 'Release a hold', tags: ['locks'], params: schema.nameParams, body: schema.releaseBody, response: withErrors({ 200: answers.releaseAnswer }) }, config: { role: 'locker' } },
    onLeader(backend, WRITE, async (request, reply) => {
      const result = await backend.execute({ type: 'release', ...scopedHold(request) });
      if (!result.ok) return sendLockFailure(reply, result, at(request));
      if (!isReleaseOk(result)) return sendError(reply, 'bad_request', otherKindMessage('release', request.body.requestId));
      return reply.send({ released: true, holdCount: result.holdCount });
    }),
  );

  app.post<{ Params: NameParams; Body: HoldBody }>(
    '/v1/locks/:name/renew',
    { schema: { summary: 'Renew a TTL hold', tags: ['locks'], params: schema.nameParams, body: schema.renewBody, response: withErrors({ 200: answers.renewAnswer }) }, config: { role: 'locker' } },
    onLeader(backend, WRITE, async (request, reply) => {
      const { ttlMs } = request.body;
      const result = await backend.execute({ type: 'renew', ...scopedHold(request), ...(ttlMs !== undefined ? { ttlMs } : {}) });
      const view = at(request);
      if (!result.ok) return sendLockFailure(reply, result, view);
      if (!isRenewOk(result)) return sendError(reply, 'bad_request', otherKindMessage('renew', request.body.requestId));
      return reply.send({ expiresInMs: expiresInMs(result.expiresAtMs, view.nowMs) });
    }),
  );

  // With ?index=N it blocks until the lock changes after index N (watch.ts).
  app.get<{ Params: NameParams; Querystring: WatchQuery }>(
    '/v1/locks/:name',
    { schema: { summary: 'Read one lock (linearizable); with ?index=N&wait=, a blocking read', tags: ['locks'], params: schema.nameParams, querystring: schema.watchQuery, response: withErrors({ 200: answers.lockAnswer }) }, config: { role: 'reader', waitMsOf: (request) => watchWaitMs(request.query as WatchQuery) } },
    onLeader(backend, { write: false, waitMsOf: (request) => watchWaitMs(request.query) }, async (request, reply) => {
      await backend.readBarrier();
      const { name } = request.params;
      const index = await blockUntilChanged(backend, reply, request.query, { target: { name }, shape: () => lockShape(backend.table().get(name)) });
      if (index === null) return reply;
      return sendIndexed(reply, index, lockJson(name, backend.table().get(name), at(request)));
    }),
  );

  // Listing every lock (every holder's owner, token and session) is an operator's view.
  // With ?index=N it blocks until a lock with the prefix changes after index N (watch.ts).
  app.get<{ Querystring: ListQuery }>(
    '/v1/locks',
    { schema: { summary: 'List locks by prefix, in name order; with ?index=N&wait=, a blocking read', tags: ['locks'], querystring: schema.listQuery, response: withErrors({ 200: answers.lockListAnswer }) }, config: { role: 'admin', waitMsOf: (request) => watchWaitMs(request.query as ListQuery) } },
    onLeader(backend, { write: false, waitMsOf: (request) => watchWaitMs(request.query) }, async (request, reply) => {
      const { prefix, limit, after } = request.query;
      const count = Math.min(limit === undefined ? LIST_LIMIT_DEFAULT : Number(limit), API_BOUNDS.listLimitMax);
      if (count < 1) return sendError(reply, 'bad_request', 'limit must be at least 1');
      await backend.readBarrier();
      const index = await blockUntilChanged(backend, reply, request.query, { target: { prefix: prefix ?? '' } });
      if (index === null) return reply;
      return sendIndexed(reply, index, lockListJson(backend.table().list(prefix ?? '', count, after), at(request)));
    }),
  );

  app.post<{ Params: NameParams; Body: { token: number } }>(
    '/v1/locks/:name/check',
    { schema: { summary: 'Check a fencing token', tags: ['locks'], params: schema.nameParams, body: schema.checkBody, response: withErrors({ 200: answers.checkAnswer }) }, config: { role: 'locker' } },
    onLeader(backend, READ, async (request, reply) => {
      await backend.readBarrier();
      const check = backend.table().checkToken(request.params.name, request.body.token);
      return reply.send({ valid: check.valid, currentToken: check.currentToken });
    }),
  );

  app.delete<{ Params: NameParams; Querystring: { requestId?: string } }>(
    '/v1/locks/:name',
    { schema: { summary: 'Force-release a lock (every holder and waiter)', tags: ['locks'], params: schema.nameParams, querystring: schema.forceReleaseQuery, response: withErrors({ 200: answers.forceReleaseAnswer }) }, config: { role: 'admin' } },
    onLeader(backend, WRITE, async (request, reply) => {
      const { requestId } = request.query;
      const scope = scopeOf(request);
      const result = await backend.execute({ type: 'forceRelease', name: request.params.name, ...(requestId !== undefined ? { requestId: scope.requestId(requestId) } : {}) });
      return sendResult(reply, result, at(request), (r) => ({
        released: true,
        ...('holdersRemoved' in r ? { holdersRemoved: r.holdersRemoved, waitersRemoved: r.waitersRemoved } : {}),
      }));
    }),
  );
}

/** scopedHold names the hold a release or renew is about: the lock, the caller's owner and requestId (scoped), the token. */
export function scopedHold(request: FastifyRequest<{ Params: NameParams; Body: HoldBody }>): { name: string; owner: string; token: number; requestId?: string } {
  const { owner, token, requestId } = request.body;
  const scope = scopeOf(request);
  return { name: request.params.name, owner: scope.owner(owner), token, ...(requestId !== undefined ? { requestId: scope.requestId(requestId) } : {}) };
}

/** acquire answers an acquire at once (waitMs 0: granted or lock_held) or as a long-poll; a campaign is one too. */
/** isReleaseOk and isRenewOk tell a release's or renew's own success from the first result of another kind (otherKindMessage). */
function isReleaseOk(result: CommandResult): result is ReleaseOk {
  return result.ok && 'holdCount' in result && !('token' in result);
}

function isRenewOk(result: CommandResult): result is RenewOk {
  return result.ok && 'expiresAtMs' in result && !('holdCount' in result);
}

export async function acquire(backend: LockBackend, reply: FastifyReply, scope: PrincipalScope, name: string, body: AcquireBody): Promise<FastifyReply> {
  if ((body.ttlMs === undefined) === (body.sessionId === undefined)) return sendError(reply, 'bad_request', 'give exactly one of ttlMs and sessionId');
  const at = viewContext(backend.nowMs(), scope.shownOwner);
  // Another principal's session is as good as absent: the caller may not know whether it exists.
  if (body.sessionId !== undefined && !scope.ownsSession(body.sessionId)) return sendLockFailure(reply, { ok: false, error: 'session_not_found', sessionId: body.sessionId }, at);
  const waitMs = body.waitMs ?? 0;
  // A queued acquire needs an id known before it is proposed (its waiter id); otherwise only a client's own id is
  // worth remembering for retries, and a generated one would only fill the bounded dedupe table.
  const requestId = body.requestId !== undefined ? scope.requestId(body.requestId) : waitMs > 0 ? scope.requestId(randomUUID()) : undefined;
  const command: AcquireCommand = {
    type: 'acquire',
    name,
    owner: scope.owner(body.owner),
    mode: body.mode ?? 'exclusive',
    waitMs,
    ...(requestId !== undefined ? { requestId } : {}),
    ...(body.ttlMs !== undefined ? { ttlMs: body.ttlMs } : {}),
    ...(body.sessionId !== undefined ? { sessionId: body.sessionId } : {}),
    ...(body.limit !== undefined ? { limit: body.limit } : {}),
    ...(body.lockDelayMs !== undefined ? { lockDelayMs: body.lockDelayMs } : {}),
    ...(body.value !== undefined ? { value: body.value } : {}),
  };
  if (waitMs > 0 && requestId !== undefined) return acquireWaiting(backend, reply, { ...command, requestId }, scope.shownOwner);
  const result = await backend.execute(command);
  const done = viewContext(backend.nowMs(), scope.shownOwner);
  if (!result.ok) return sendLockFailure(reply, result, done);
  if (isGranted(result)) return reply.send(grantedJson(result, done));
  // The requestId names an acquire that waits (a retry must resend the same body): the caller's mistake, not ours.
  if ('queued' in result) return sendError(reply, 'bad_request', `requestId ${body.requestId ?? ''} names a waiting acquire of ${name}; retry it with its waitMs`);
  // Any other success is the table's first answer to an earlier command of another kind with this requestId.
  return sendError(reply, 'bad_request', otherKindMessage('acquire', body.requestId));
}
