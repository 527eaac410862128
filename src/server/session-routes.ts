import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { READ, WRITE, onLeader } from './leader-forwarder.js';
import type { BackendPluginOptions } from './lock-backend.js';
import { sendLockFailure, sendResult, sessionJson, sessionLeaseJson } from './response-views.js';
import * as schema from './schemas.js';

type SessionParams = { id: string };

/**
 * sessionRoutes is the fastify plugin of `/v1/sessions`: create, keep alive,
 * read and delete a session (deleting releases its locks). Every route runs
 * on the leader; other nodes relay it.
 */
export async function sessionRoutes(app: FastifyInstance, { backend }: BackendPluginOptions): Promise<void> {
  app.post<{ Body: { ttlMs: number; owner?: string; requestId?: string } }>(
    '/v1/sessions',
    { schema: { body: schema.createSessionBody } },
    onLeader(backend, WRITE, async (request, reply) => {
      const { ttlMs, owner, requestId } = request.body;
      const result = await backend.execute({
        type: 'createSession',
        sessionId: randomUUID(),
        ttlMs,
        ...(owner !== undefined ? { owner } : {}),
        ...(requestId !== undefined ? { requestId } : {}),
      });
      return sendResult(reply, result, backend.nowMs(), (r) => ({ sessionId: 'sessionId' in r ? r.sessionId : '', ...sessionLeaseJson(r, backend.nowMs()) }));
    }),
  );

  app.post<{ Params: SessionParams }>(
    '/v1/sessions/:id/keepalive',
    { schema: { params: schema.sessionParams } },
    onLeader(backend, WRITE, async (request, reply) => {
      const result = await backend.execute({ type: 'keepalive', sessionId: request.params.id });
      return sendResult(reply, result, backend.nowMs(), (r) => sessionLeaseJson(r, backend.nowMs()));
    }),
  );

  app.get<{ Params: SessionParams }>(
    '/v1/sessions/:id',
    { schema: { params: schema.sessionParams } },
    onLeader(backend, READ, async (request, reply) => {
      const { id } = request.params;
      await backend.readBarrier();
      const view = backend.table().session(id);
      if (view === null) return sendLockFailure(reply, { ok: false, error: 'session_not_found', sessionId: id }, backend.nowMs());
      return reply.send(sessionJson(view, backend.nowMs()));
    }),
  );

  app.delete<{ Params: SessionParams }>(
    '/v1/sessions/:id',
    { schema: { params: schema.sessionParams } },
    onLeader(backend, WRITE, async (request, reply) => {
      const result = await backend.execute({ type: 'deleteSession', sessionId: request.params.id });
      return sendResult(reply, result, backend.nowMs(), (r) => ({ deleted: true, locksReleased: 'locksReleased' in r ? r.locksReleased : 0 }));
    }),
  );
}
