import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { HolderView, LockView } from '../locks/index.js';
import { ElectionHistory, type LeaderState } from './election-history.js';
import { WRITE, onLeader } from './leader-forwarder.js';
import type { BackendPluginOptions } from './lock-backend.js';
import { acquire, scopedHold, type HoldBody, type NameParams } from './lock-routes.js';
import { scopeOf } from './principal-scope.js';
import * as answers from './response-schemas.js';
import { withErrors } from './response-schemas.js';
import { expiresInMs, sendResult, viewContext, type ViewContext } from './response-views.js';
import * as schema from './schemas.js';
import { blockUntilChanged, sendIndexed, watchWaitMs, type WatchQuery } from './watch.js';

/** How many elections a member remembers recent changes of, and how many changes of each (election-history.ts). */
const HISTORY_ELECTIONS_MAX = 1_024;
const HISTORY_CHANGES_MAX = 64;

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
  const history = new ElectionHistory(backend.watches, { electionsMax: HISTORY_ELECTIONS_MAX, changesMax: HISTORY_CHANGES_MAX });
  app.addHook('onClose', async () => history.close());

  app.post<{ Params: NameParams; Body: CampaignBody }>(
    '/v1/elections/:name/campaign',
    { schema: { summary: 'Campaign: lead the election, at once or waiting up to waitMs (a long-poll)', tags: ['elections'], params: schema.nameParams, body: schema.campaignBody, response: withErrors({ 200: answers.campaignAnswer }) }, config: { role: 'locker', waitMsOf: (request) => (request.body as CampaignBody).waitMs ?? 0 } },
    onLeader(backend, { write: true, waitMsOf: (request) => request.body.waitMs ?? 0 }, (request, reply) =>
      acquire(backend, reply, scopeOf(request), request.params.name, { ...request.body, mode: 'exclusive' }),
    ),
  );

  app.post<{ Params: NameParams; Body: ProclaimBody }>(
    '/v1/elections/:name/proclaim',
    { schema: { summary: 'Proclaim: change the leader’s value (fenced by its token)', tags: ['elections'], params: schema.nameParams, body: schema.proclaimBody, response: withErrors({ 200: answers.proclaimAnswer }) }, config: { role: 'locker' } },
    onLeader(backend, WRITE, async (request, reply) => {
      const result = await backend.execute({ type: 'proclaim', ...scopedHold(request), value: request.body.value });
      return sendResult(reply, result, at(request), () => ({ proclaimed: true, value: request.body.value }));
    }),
  );

  app.post<{ Params: NameParams; Body: HoldBody }>(
    '/v1/elections/:name/resign',
    { schema: { summary: 'Resign the leadership', tags: ['elections'], params: schema.nameParams, body: schema.releaseBody, response: withErrors({ 200: answers.resignAnswer }) }, config: { role: 'locker' } },
    onLeader(backend, WRITE, async (request, reply) => {
      const result = await backend.execute({ type: 'release', ...scopedHold(request) });
      return sendResult(reply, result, at(request), (r) => ({ resigned: 'holdCount' in r && r.holdCount === 0 }));
    }),
  );

  // With ?index=N it blocks until the leader or its value changes after N, and lists every change after N that
  // this member has followed (`changes`, oldest first), so an observer misses none (election-history.ts).
  app.get<{ Params: NameParams; Querystring: WatchQuery }>(
    '/v1/elections/:name',
    { schema: { summary: 'Read the leader (linearizable); with ?index=N&wait=, a blocking read listing the changes after N', tags: ['elections'], params: schema.nameParams, querystring: schema.watchQuery, response: withErrors({ 200: answers.electionAnswer }) }, config: { role: 'reader', waitMsOf: (request) => watchWaitMs(request.query as WatchQuery) } },
    onLeader(backend, { write: false, waitMsOf: (request) => watchWaitMs(request.query) }, async (request, reply) => {
      await backend.readBarrier();
      const { name } = request.params;
      const leaderOf = (): LeaderState | null => electionLeader(backend.table().get(name));
      history.follow(name, backend.watches.indexOf(name), leaderOf);
      const index = await blockUntilChanged(backend, reply, request.query, { target: { name }, shape: () => leadershipShape(leaderOf()) });
      if (index === null) return reply;
      const view = at(request);
      const json = (leader: LeaderState | null): Record<string, unknown> | null =>
        leader === null ? null : { owner: view.showOwner(leader.owner), token: leader.token, value: leader.value, expiresInMs: expiresInMs(leader.expiresAtMs, view.nowMs) };
      const changes = request.query.index === undefined ? null : history.changesAfter(name, Number(request.query.index));
      return sendIndexed(reply, index, {
        name,
        leader: json(leaderOf()),
        ...(changes !== null ? { changes: changes.map((c) => ({ index: c.index, leader: json(c.leader) })) } : {}),
      });
    }),
  );
}

/** electionLeader is the leader of an election: the exclusive holder of its lock (a shared holder leads nothing). */
function electionLeader(view: LockView | null): LeaderState | null {
  const holder: HolderView | undefined = view?.holders[0];
  if (holder === undefined || holder.mode !== 'exclusive') return null;
  return { owner: holder.owner, token: holder.token, value: holder.value ?? null, expiresAtMs: holder.expiresAtMs };
}

/** leadershipShape is what an observer sees change: who leads, under which token, with which value. */
function leadershipShape(leader: LeaderState | null): string {
  return leader === null ? 'none' : JSON.stringify([leader.owner, leader.token, leader.value]);
}
