import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { FastifyBaseLogger } from 'fastify';
import type { AcquireCommand, CommandResult, HolderView, LockEvent, LockMode } from '../locks/index.js';
import type { NodeId } from '../raft/index.js';
import type { LockService } from '../node/lock-service.js';
import type { RaftHost } from '../node/raft-host.js';
import { RaftLockError } from '../node/errors.js';
import { sendError, sendFailure } from './error-mapping.js';
import { forwardToLeader } from './leader-forwarder.js';
import { NodeMetrics } from './metrics.js';
import * as schema from './schemas.js';

/** HttpServerOptions wires the HTTP API to one node. */
export interface HttpServerOptions {
  readonly host: RaftHost;
  readonly locks: LockService;
  /** Each member's HTTP base URL, for forwarding to the leader. */
  readonly peerHttp: Readonly<Record<NodeId, string>>;
  readonly logger: FastifyBaseLogger;
  /** How long a linearizable read waits for the leader to confirm itself. */
  readonly readTimeoutMs: number;
}

/** Extra time a queued acquire waits for its grant event beyond waitMs (the expire entry may lag a tick). */
const WAIT_GRACE_MS = 2_000;
const BODY_LIMIT_BYTES = 64 * 1024;

type Params = { name: string };

/**
 * buildHttpServer creates the fastify app of one node: the lock API, sessions,
 * status and metrics. Every route is served by every node: writes and
 * linearizable reads on a follower are forwarded to the leader.
 */
export function buildHttpServer(opts: HttpServerOptions): FastifyInstance {
  const { host, locks } = opts;
  const app = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: BODY_LIMIT_BYTES,
    // Long names must reach the schema (and get its 400), not the router's 414; 256 characters percent-encoded fit.
    routerOptions: { maxParamLength: 1024 },
    // Errors the framework raises before routing (bad URL encoding, oversized parameters) are bad input too.
    frameworkErrors: (err, request, reply) => {
      void sendError(reply, 'bad_request', err.message);
    },
    // Per-request logs would dominate at thousands of requests per second; latency goes to /metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  const metrics = new NodeMetrics(host, locks);

  app.addHook('onResponse', async (request, reply) => {
    metrics.requestSeconds.observe(
      { route: request.routeOptions.url ?? 'unknown', method: request.method, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  // Every client error fastify raises (bad JSON, schema mismatch, wrong content type, body too large) is a 400.
  app.setErrorHandler((err: { statusCode?: number; validation?: unknown; message: string }, request, reply) => {
    if (err.validation !== undefined || (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)) {
      return sendError(reply, 'bad_request', err.message);
    }
    return sendFailure(reply, err);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, 'not_found', `no route ${request.method} ${request.url}`));

  // Table time, not this machine's wall clock: deadlines are in table time (src/node/lease-clock.ts).
  const nowMs = (): number => locks.tableNowMs();
  const holderJson = (h: HolderView): Record<string, unknown> => ({
    owner: h.owner,
    token: h.token,
    mode: h.mode,
    expiresInMs: Math.max(0, h.expiresAtMs - nowMs()),
    holdCount: h.holdCount,
    ...(h.sessionId !== undefined ? { sessionId: h.sessionId } : {}),
  });

  /** Runs `handler` here when this node leads; otherwise relays the request to the leader. */
  const onLeader = (write: boolean, waitMsOf: (req: FastifyRequest) => number, handler: (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>) =>
    async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      if (!host.isLeader()) {
        const leader = host.leader;
        return forwardToLeader(request, reply, leader, leader === null ? undefined : opts.peerHttp[leader], { write, waitMs: waitMsOf(request) });
      }
      try {
        return await handler(request, reply);
      } catch (err) {
        // Leadership may have moved between the check and the proposal: relay once if another node leads now.
        if (err instanceof RaftLockError && err.code === 'not_leader' && host.leader !== null && host.leader !== host.id) {
          return forwardToLeader(request, reply, host.leader, opts.peerHttp[host.leader], { write, waitMs: waitMsOf(request) });
        }
        return sendFailure(reply, err);
      }
    };
  const noWait = (): number => 0;

  /** Answers a failed lock command with its code; `lock_held` carries the holders. */
  const sendLockError = (reply: FastifyReply, result: CommandResult & { ok: false }): FastifyReply => {
    switch (result.error) {
      case 'lock_held':
        return sendError(reply, 'lock_held', `lock ${result.name} is held`, { holders: result.holders.map(holderJson) });
      case 'wait_ended':
        return sendError(reply, 'lock_held', `lock ${result.name} was not granted (${result.reason})`, { reason: result.reason });
      case 'bad_request':
        return sendError(reply, 'bad_request', result.message);
      case 'session_not_found':
        return sendError(reply, 'session_not_found', `session ${result.sessionId} does not exist or has expired`);
      case 'limit_mismatch':
        return sendError(reply, 'limit_mismatch', `lock ${result.name} is held with limit ${result.limit}`, { limit: result.limit });
      default:
        return sendError(reply, result.error, `${result.error} for lock ${result.name}`);
    }
  };

  const grantedJson = (g: { name: string; owner: string; token: number; mode: LockMode; expiresAtMs: number; holdCount: number; sessionId?: string }) => ({
    name: g.name,
    owner: g.owner,
    token: g.token,
    mode: g.mode,
    expiresInMs: Math.max(0, g.expiresAtMs - nowMs()),
    holdCount: g.holdCount,
    ...(g.sessionId !== undefined ? { sessionId: g.sessionId } : {}),
  });

  // ---- Locks -----------------------------------------------------------------------------

  type AcquireBody = { owner: string; ttlMs?: number; sessionId?: string; mode?: LockMode; limit?: number; waitMs?: number; lockDelayMs?: number; requestId?: string };
  app.post<{ Params: Params; Body: AcquireBody }>(
    '/v1/locks/:name/acquire',
    { schema: { params: schema.nameParams, body: schema.acquireBody } },
    onLeader(true, (req) => (req.body as AcquireBody).waitMs ?? 0, async (request, reply) => {
      const { name } = request.params as Params;
      const body = request.body as AcquireBody;
      if ((body.ttlMs === undefined) === (body.sessionId === undefined)) return sendError(reply, 'bad_request', 'give exactly one of ttlMs and sessionId');
      const waitMs = body.waitMs ?? 0;
      // A queued acquire needs an id known before it is proposed (its waiter id); otherwise only a client's own id is
      // worth remembering for retries, and a generated one would only fill the bounded dedupe table.
      const requestId = body.requestId ?? (waitMs > 0 ? randomUUID() : undefined);
      const command: AcquireCommand = {
        type: 'acquire',
        name,
        owner: body.owner,
        mode: body.mode ?? 'exclusive',
        waitMs,
        ...(requestId !== undefined ? { requestId } : {}),
        ...(body.ttlMs !== undefined ? { ttlMs: body.ttlMs } : {}),
        ...(body.sessionId !== undefined ? { sessionId: body.sessionId } : {}),
        ...(body.limit !== undefined ? { limit: body.limit } : {}),
        ...(body.lockDelayMs !== undefined ? { lockDelayMs: body.lockDelayMs } : {}),
      };
      if (waitMs === 0) {
        const result = await locks.execute(command);
        if (!result.ok) return sendLockError(reply, result);
        if ('token' in result) return reply.send(grantedJson(result as typeof result & { mode: LockMode; expiresAtMs: number; holdCount: number; owner: string }));
        return sendFailure(reply, new Error(`unexpected acquire result ${JSON.stringify(result)}`));
      }
      return acquireWaiting(request, reply, name, command, requestId!, waitMs);
    }),
  );

  /** A queued acquire is a long-poll: subscribe first, propose, then wait for this waiter's event, the deadline, or the client leaving. */
  const acquireWaiting = async (request: FastifyRequest, reply: FastifyReply, name: string, command: AcquireCommand, waiterId: string, waitMs: number): Promise<FastifyReply> => {
    let onEvent: (event: LockEvent | 'timeout' | 'gone') => void = () => {};
    const done = new Promise<LockEvent | 'timeout' | 'gone'>((resolve) => {
      onEvent = resolve;
    });
    const unsubscribe = locks.registerWaiter(waiterId, (event) => onEvent(event));
    if (unsubscribe === null) return sendError(reply, 'overloaded', 'too many waiting acquires on this node, or this requestId is already waiting');
    const timer = setTimeout(() => onEvent('timeout'), waitMs + WAIT_GRACE_MS);
    const onClose = (): void => {
      if (!reply.raw.writableFinished) onEvent('gone');
    };
    reply.raw.on('close', onClose);
    try {
      const result = await locks.execute(command);
      if (!result.ok) return sendLockError(reply, result);
      if ('token' in result) return reply.send(grantedJson(result as typeof result & { mode: LockMode; expiresAtMs: number; holdCount: number; owner: string }));
      const event = await done;
      if (event === 'gone' || event === 'timeout') {
        // Take the waiter out of the queue; if it was granted meanwhile, report the grant (or, if the client left, let the lease run out).
        const cancelled = await cancelWait(name, waiterId);
        const held = locks.lockTable.get(name)?.holders.find((h) => h.owner === command.owner);
        if (!cancelled && held !== undefined) return reply.send(grantedJson({ name, ...held }));
        return sendError(reply, 'lock_held', `lock ${name} was not granted within ${waitMs} ms`, { holders: (locks.lockTable.get(name)?.holders ?? []).map(holderJson) });
      }
      if (event.kind === 'granted') return reply.send(grantedJson(event));
      return sendError(reply, 'lock_held', `lock ${name} was not granted (${event.reason})`, {
        reason: event.reason,
        holders: (locks.lockTable.get(name)?.holders ?? []).map(holderJson),
      });
    } finally {
      clearTimeout(timer);
      reply.raw.off('close', onClose);
      unsubscribe();
    }
  };

  /** cancelWait removes a waiter, through the leader wherever it is; returns whether it was still queued. */
  const cancelWait = async (name: string, waiterId: string): Promise<boolean> => {
    try {
      if (host.isLeader()) {
        const result = await locks.execute({ type: 'cancelWait', name, waiterId });
        return result.ok && 'cancelled' in result && result.cancelled;
      }
      const leader = host.leader;
      const base = leader === null ? undefined : opts.peerHttp[leader];
      if (base === undefined) return false;
      const res = await fetch(new URL(`/v1/locks/${encodeURIComponent(name)}/cancel-wait`, base), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ waiterId }),
        signal: AbortSignal.timeout(5_000),
      });
      const body = (await res.json()) as { cancelled?: boolean };
      return body.cancelled === true;
    } catch {
      return false; // the waiter's own deadline removes it
    }
  };

  app.post<{ Params: Params; Body: { waiterId: string } }>(
    '/v1/locks/:name/cancel-wait',
    { schema: { params: schema.nameParams, body: schema.cancelWaitBody } },
    onLeader(true, noWait, async (request, reply) => {
      const { name } = request.params as Params;
      const { waiterId } = request.body as { waiterId: string };
      const result = await locks.execute({ type: 'cancelWait', name, waiterId });
      return reply.send({ cancelled: result.ok && 'cancelled' in result && result.cancelled });
    }),
  );

  type ReleaseBody = { owner: string; token: number; requestId?: string };
  app.post<{ Params: Params; Body: ReleaseBody }>(
    '/v1/locks/:name/release',
    { schema: { params: schema.nameParams, body: schema.releaseBody } },
    onLeader(true, noWait, async (request, reply) => {
      const { name } = request.params as Params;
      const body = request.body as ReleaseBody;
      const result = await locks.execute({ type: 'release', name, owner: body.owner, token: body.token, ...(body.requestId !== undefined ? { requestId: body.requestId } : {}) });
      if (!result.ok) return sendLockError(reply, result);
      return reply.send({ released: true, holdCount: 'holdCount' in result ? result.holdCount : 0 });
    }),
  );

  type RenewBody = { owner: string; token: number; ttlMs?: number; requestId?: string };
  app.post<{ Params: Params; Body: RenewBody }>(
    '/v1/locks/:name/renew',
    { schema: { params: schema.nameParams, body: schema.renewBody } },
    onLeader(true, noWait, async (request, reply) => {
      const { name } = request.params as Params;
      const body = request.body as RenewBody;
      const result = await locks.execute({
        type: 'renew',
        name,
        owner: body.owner,
        token: body.token,
        ...(body.ttlMs !== undefined ? { ttlMs: body.ttlMs } : {}),
        ...(body.requestId !== undefined ? { requestId: body.requestId } : {}),
      });
      if (!result.ok) return sendLockError(reply, result);
      return reply.send({ expiresInMs: 'expiresAtMs' in result ? Math.max(0, result.expiresAtMs - nowMs()) : 0 });
    }),
  );

  app.get<{ Params: Params }>(
    '/v1/locks/:name',
    { schema: { params: schema.nameParams } },
    onLeader(false, noWait, async (request, reply) => {
      const { name } = request.params as Params;
      await host.readBarrier(opts.readTimeoutMs);
      const view = locks.lockTable.get(name);
      return reply.send({
        name,
        holders: (view?.holders ?? []).map(holderJson),
        waiters: view?.waiters ?? 0,
        lastToken: view?.lastToken ?? 0,
        ...(view?.limit !== undefined ? { limit: view.limit } : {}),
      });
    }),
  );

  app.get<{ Querystring: { prefix?: string; limit?: string; after?: string } }>(
    '/v1/locks',
    { schema: { querystring: schema.listQuery } },
    onLeader(false, noWait, async (request, reply) => {
      const query = request.query as { prefix?: string; limit?: string; after?: string };
      const limit = Math.min(Number(query.limit ?? '100'), schema.LIMITS.listLimitMax);
      if (limit < 1) return sendError(reply, 'bad_request', 'limit must be at least 1');
      await host.readBarrier(opts.readTimeoutMs);
      const views = locks.lockTable.list(query.prefix ?? '', limit, query.after);
      return reply.send({
        locks: views.map((v) => ({ name: v.name, holders: v.holders.map(holderJson), waiters: v.waiters, lastToken: v.lastToken })),
      });
    }),
  );

  app.post<{ Params: Params; Body: { token: number } }>(
    '/v1/locks/:name/check',
    { schema: { params: schema.nameParams, body: schema.checkBody } },
    onLeader(false, noWait, async (request, reply) => {
      const { name } = request.params as Params;
      const { token } = request.body as { token: number };
      await host.readBarrier(opts.readTimeoutMs);
      const check = locks.lockTable.checkToken(name, token);
      return reply.send({ valid: check.valid, currentToken: check.currentToken });
    }),
  );

  app.delete<{ Params: Params; Querystring: { requestId?: string } }>(
    '/v1/locks/:name',
    { schema: { params: schema.nameParams, querystring: schema.forceReleaseQuery } },
    onLeader(true, noWait, async (request, reply) => {
      const { name } = request.params as Params;
      const { requestId } = request.query as { requestId?: string };
      const result = await locks.execute({ type: 'forceRelease', name, ...(requestId !== undefined ? { requestId } : {}) });
      if (!result.ok) return sendLockError(reply, result);
      return reply.send({ released: true, ...('holdersRemoved' in result ? { holdersRemoved: result.holdersRemoved, waitersRemoved: result.waitersRemoved } : {}) });
    }),
  );

  // ---- Sessions --------------------------------------------------------------------------

  app.post<{ Body: { ttlMs: number; owner?: string; requestId?: string } }>(
    '/v1/sessions',
    { schema: { body: schema.createSessionBody } },
    onLeader(true, noWait, async (request, reply) => {
      const body = request.body as { ttlMs: number; owner?: string; requestId?: string };
      const result = await locks.execute({
        type: 'createSession',
        sessionId: randomUUID(),
        ttlMs: body.ttlMs,
        ...(body.owner !== undefined ? { owner: body.owner } : {}),
        ...(body.requestId !== undefined ? { requestId: body.requestId } : {}),
      });
      if (!result.ok) return sendLockError(reply, result);
      return reply.send({ sessionId: 'sessionId' in result ? result.sessionId : '', ttlMs: 'ttlMs' in result ? result.ttlMs : body.ttlMs });
    }),
  );

  type SessionParams = { id: string };
  app.post<{ Params: SessionParams; Body: { requestId?: string } }>(
    '/v1/sessions/:id/keepalive',
    { schema: { params: schema.sessionParams } },
    onLeader(true, noWait, async (request, reply) => {
      const { id } = request.params as SessionParams;
      const result = await locks.execute({ type: 'keepalive', sessionId: id });
      if (!result.ok) return sendLockError(reply, result);
      return reply.send({ ttlMs: 'ttlMs' in result ? result.ttlMs : 0 });
    }),
  );

  app.get<{ Params: SessionParams }>(
    '/v1/sessions/:id',
    { schema: { params: schema.sessionParams } },
    onLeader(false, noWait, async (request, reply) => {
      const { id } = request.params as SessionParams;
      await host.readBarrier(opts.readTimeoutMs);
      const view = locks.lockTable.session(id);
      if (view === null) return sendError(reply, 'session_not_found', `session ${id} does not exist or has expired`);
      return reply.send({ sessionId: view.sessionId, ttlMs: view.ttlMs, expiresInMs: Math.max(0, view.expiresAtMs - nowMs()), locks: view.locks });
    }),
  );

  app.delete<{ Params: SessionParams }>(
    '/v1/sessions/:id',
    { schema: { params: schema.sessionParams } },
    onLeader(true, noWait, async (request, reply) => {
      const { id } = request.params as SessionParams;
      const result = await locks.execute({ type: 'deleteSession', sessionId: id });
      if (!result.ok) return sendLockError(reply, result);
      return reply.send({ deleted: true, locksReleased: 'locksReleased' in result ? result.locksReleased : 0 });
    }),
  );

  // ---- Status ----------------------------------------------------------------------------

  const status = () => ({
    id: host.id,
    role: host.role,
    term: host.term,
    leader: host.leader,
    commitIndex: host.commitIndex,
    appliedIndex: host.appliedIndex,
    members: [...host.members()],
  });
  app.get('/v1/status', async () => status());
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (request, reply) => {
    const s = status();
    if (s.leader === null) return sendError(reply, 'no_leader', 'no leader is known');
    if (!s.members.includes(s.id)) return sendError(reply, 'no_leader', 'this node is not a member of the cluster');
    return reply.send({ ready: true, leader: s.leader });
  });
  app.get('/metrics', async (request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  return app;
}
