import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { READ, WRITE, onLeader } from './leader-forwarder.js';
import type { BackendPluginOptions } from './lock-backend.js';
import { scopeOf } from './principal-scope.js';
import { sendLockFailure, sendResult, sessionJson, sessionLeaseJson, viewContext, type ViewContext } from './response-views.js';
import * as answers from './response-schemas.js';
import { withErrors } from './response-schemas.js';
import * as schema from './schemas.js';

type SessionParams = { id: string };

/**
 * sessionRoutes is the fastify plugin of `/v1/sessions`: create, keep alive,
 * read and delete a session (deleting releases its locks). Every route runs
 * on the leader; other nodes relay it. A session belongs to the principal
 * that created it (principal-scope.ts): to anyone else it does not exist.
 */
export async function sessionRoutes(app: FastifyInstance, { backend }: BackendPluginOptions): Promise<void> {
  const at = (request: FastifyRequest): ViewContext => viewContext(backend.nowMs(), scopeOf(request).shownOwner);

  app.post<{ Body: { ttlMs: number; owner?: string; requestId?: string } }>(
    '/v1/sessions',
    { schema: { summary: 'Open a session', tags: ['sessions'], body: schema.createSessionBody, response: withErrors({ 200: answers.sessionCreatedAnswer }) }, config: { role: 'locker' } },
    onLeader(backend, WRITE, async (request, reply) => {
      const { ttlMs, owner, requestId } = request.body;
      const scope = scopeOf(request);
      const result = await backend.execute({
        type: 'createSession',
        sessionId: scope.newSessionId(),
        ttlMs,
        ...(owner !== undefined ? { owner: scope.owner(owner) } : {}),
        ...(requestId !== undefined ? { requestId: scope.requestId(requestId) } : {}),
      });
      return sendResult(reply, result, at(request), (r) => ({ sessionId: 'sessionId' in r ? r.sessionId : '', ...sessionLeaseJson(r, backend.nowMs()) }));
    }),
  );

  app.post<{ Params: SessionParams }>(
    '/v1/sessions/:id/keepalive',
    { schema: { summary: 'Keep a session alive', tags: ['sessions'], params: schema.sessionParams, response: withErrors({ 200: answers.keepaliveAnswer }) }, config: { role: 'locker' } },
    onLeader(backend, WRITE, async (request, reply) => {
      const { id } = request.params;
      if (!scopeOf(request).ownsSession(id)) return sessionNotFound(reply, id, at(request));
      const result = await backend.execute({ type: 'keepalive', sessionId: id });
      return sendResult(reply, result, at(request), (r) => sessionLeaseJson(r, backend.nowMs()));
    }),
  );

  app.get<{ Params: SessionParams }>(
    '/v1/sessions/:id',
    { schema: { summary: 'Read a session', tags: ['sessions'], params: schema.sessionParams, response: withErrors({ 200: answers.sessionAnswer }) }, config: { role: 'locker' } },
    onLeader(backend, READ, async (request, reply) => {
      const { id } = request.params;
      if (!scopeOf(request).ownsSession(id)) return sessionNotFound(reply, id, at(request));
      await backend.readBarrier();
      const view = backend.table().session(id);
      if (view === null) return sessionNotFound(reply, id, at(request));
      return reply.send(sessionJson(view, backend.nowMs()));
    }),
  );

  app.delete<{ Params: SessionParams }>(
    '/v1/sessions/:id',
    { schema: { summary: 'End a session, releasing its locks', tags: ['sessions'], params: schema.sessionParams, response: withErrors({ 200: answers.sessionDeletedAnswer }) }, config: { role: 'locker' } },
    onLeader(backend, WRITE, async (request, reply) => {
      const { id } = request.params;
      if (!scopeOf(request).ownsSession(id)) return sessionNotFound(reply, id, at(request));
      const result = await backend.execute({ type: 'deleteSession', sessionId: id });
      return sendResult(reply, result, at(request), (r) => ({ deleted: true, locksReleased: 'locksReleased' in r ? r.locksReleased : 0 }));
    }),
  );
}

/** sessionNotFound answers 404 session_not_found: the session does not exist, or is not the caller's. */
function sessionNotFound(reply: FastifyReply, id: string, at: ViewContext): FastifyReply {
  return sendLockFailure(reply, { ok: false, error: 'session_not_found', sessionId: id }, at);
}
