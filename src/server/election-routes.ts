import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { HolderView, LockView } from '../locks/index.js';
import { WRITE, onLeader } from './leader-forwarder.js';
import type { BackendPluginOptions } from './lock-backend.js';
import { acquire, scopedHold, type HoldBody, type NameParams } from './lock-routes.js';
import { scopeOf } from './principal-scope.js';
import { expiresInMs, sendResult, viewContext, type ViewContext } from './response-views.js';
import * as schema from './schemas.js';
import { blockUntilChanged, sendIndexed, watchWaitMs, type WatchQuery } from './watch.js';

type CampaignBody = { owner: string; value: string; ttlMs?: number; sessionId?: string; waitMs?: number; requestId?: string };
type ProclaimBody = HoldBody & { value: string };

/**
 * electionRoutes is the fastify plugin of `/v1/elections`: leader election
 * (etcd's concurrency.Election, Curator's LeaderLatch) built on the lease
 * table. An election NAME is the exclusive lock NAME: to campaign is to
 * acquire it (queueing FIFO, as a long-poll) with a value; the leader is its
 * holder, whose token is the leadership's fencing token; to resign is to
 * release it; to proclaim is to change the hold's value, fenced by the
 * token. The read of the leader can block (`?index=N&wait=30s`, watch.ts),
 * which is what a client's observe() polls.
 */
export async function electionRoutes(app: FastifyInstance, { backend }: BackendPluginOptions): Promise<void> {
  const at = (request: FastifyRequest): ViewContext => viewContext(backend.nowMs(), scopeOf(request).shownOwner);

  app.post<{ Params: NameParams; Body: CampaignBody }>(
    '/v1/elections/:name/campaign',
    { schema: { params: schema.nameParams, body: schema.campaignBody }, config: { role: 'locker', waitMsOf: (request) => (request.body as CampaignBody).waitMs ?? 0 } },
    onLeader(backend, { write: true, waitMsOf: (request) => request.body.waitMs ?? 0 }, (request, reply) =>
      acquire(backend, reply, scopeOf(request), request.params.name, { ...request.body, mode: 'exclusive' }),
    ),
  );

  app.post<{ Params: NameParams; Body: ProclaimBody }>(
    '/v1/elections/:name/proclaim',
    { schema: { params: schema.nameParams, body: schema.proclaimBody }, config: { role: 'locker' } },
    onLeader(backend, WRITE, async (request, reply) => {
      const result = await backend.execute({ type: 'proclaim', ...scopedHold(request), value: request.body.value });
      return sendResult(reply, result, at(request), () => ({ proclaimed: true, value: request.body.value }));
    }),
  );

  app.post<{ Params: NameParams; Body: HoldBody }>(
    '/v1/elections/:name/resign',
    { schema: { params: schema.nameParams, body: schema.releaseBody }, config: { role: 'locker' } },
    onLeader(backend, WRITE, async (request, reply) => {
      const result = await backend.execute({ type: 'release', ...scopedHold(request) });
      return sendResult(reply, result, at(request), (r) => ({ resigned: 'holdCount' in r && r.holdCount === 0 }));
    }),
  );

  app.get<{ Params: NameParams; Querystring: WatchQuery }>(
    '/v1/elections/:name',
    { schema: { params: schema.nameParams, querystring: schema.watchQuery }, config: { role: 'reader', waitMsOf: (request) => watchWaitMs(request.query as WatchQuery) } },
    onLeader(backend, { write: false, waitMsOf: (request) => watchWaitMs(request.query) }, async (request, reply) => {
      await backend.readBarrier();
      const { name } = request.params;
      const leaderOf = (): HolderView | null => electionLeader(backend.table().get(name));
      const index = await blockUntilChanged(backend, reply, request.query, { target: { name }, shape: () => leadershipShape(leaderOf()) });
      if (index === null) return reply;
      const view = at(request);
      const leader = leaderOf();
      return sendIndexed(reply, index, {
        name,
        leader:
          leader === null
            ? null
            : { owner: view.showOwner(leader.owner), token: leader.token, value: leader.value ?? null, expiresInMs: expiresInMs(leader.expiresAtMs, view.nowMs) },
      });
    }),
  );
}

/** electionLeader is the leader of an election: the exclusive holder of its lock (a shared holder leads nothing). */
function electionLeader(view: LockView | null): HolderView | null {
  const holder = view?.holders[0];
  return holder === undefined || holder.mode !== 'exclusive' ? null : holder;
}

/** leadershipShape is what an observer sees change: who leads, under which token, with which value. */
function leadershipShape(leader: HolderView | null): string {
  return leader === null ? 'none' : JSON.stringify([leader.owner, leader.token, leader.value ?? null]);
}
