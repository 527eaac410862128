import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { NodeId } from '../raft/index.js';
import type { Identity } from './auth-tokens.js';
import { READ, onLeader } from './leader-forwarder.js';
import type { BackendPluginOptions, LockBackend, NodeStatus } from './lock-backend.js';
import { scopeOf } from './principal-scope.js';
import * as answers from './response-schemas.js';
import { withErrors } from './response-schemas.js';
import { holdersJson, sessionJson, viewContext, waiterJson } from './response-views.js';

/** How long the member view waits for another member's status: a dead member must not stall the page's poll. */
const MEMBER_STATUS_TIMEOUT_MS = 1_000;
/** Bounds of the locks view: a status page shows the first locks by name, not a million of them. */
const LOCKS_SHOWN_MAX = 200;
const WAITERS_SHOWN_MAX = 20;
const SESSIONS_SHOWN_MAX = 200;

/** MemberReport is one member as another member reached it: its status, or why there is none. */
interface MemberReport {
  readonly id: NodeId;
  /** Whether the member answered HTTP at all (an error answer counts: it is up). */
  readonly reachable: boolean;
  readonly status: NodeStatus | null;
  readonly error?: string;
}

/**
 * dashboardRoutes is the fastify plugin of the status page's data (ui-routes.ts
 * serves the page). `/v1/dashboard/members` is answered by the node asked,
 * without a leader: its view of every member (their own `/v1/status`,
 * fetched now with the caller's identity relayed, so a dead or partitioned
 * member shows unreachable), each one's lag behind the leader's commit index,
 * and this node's recent leader changes and expiries. It needs the reader
 * role, as `/v1/status` does. `/v1/dashboard/locks` is the lease table as the
 * leader has it (relayed there, after a read barrier, so remaining times are
 * the leader's): the first locks with holders and waiters in queue order, and
 * the sessions. Like listing `/v1/locks`, it shows every principal's owners,
 * so it needs the admin role.
 */
export async function dashboardRoutes(app: FastifyInstance, { backend }: BackendPluginOptions): Promise<void> {
  app.get('/v1/dashboard/members', { schema: { summary: 'The status page’s view of every member, from the member asked', tags: ['status page'], response: withErrors({ 200: answers.dashboardMembersAnswer }) }, config: { role: 'reader' } }, async (request) => {
    const self = backend.status();
    const reports = await Promise.all(
      [...self.members, ...(self.learners ?? [])].map((id): Promise<MemberReport> | MemberReport => (id === self.id ? { id, reachable: true, status: self } : memberReport(backend, id, request))),
    );
    const leaderCommit = leaderCommitIndex(self, reports);
    return {
      node: self.id,
      term: self.term,
      leader: self.leader,
      members: reports.map((r) => ({
        id: r.id,
        reachable: r.reachable,
        ...(r.error !== undefined ? { error: r.error } : {}),
        ...(r.status !== null
          ? {
              // A learner's Raft role is follower; the page shows what it is to the cluster.
              role: (self.learners ?? []).includes(r.id) ? 'learner' : r.status.role,
              term: r.status.term,
              leader: r.status.leader,
              commitIndex: r.status.commitIndex,
              appliedIndex: r.status.appliedIndex,
              lagEntries: leaderCommit === null ? null : Math.max(0, leaderCommit - r.status.appliedIndex),
              problems: r.status.problems ?? [],
            }
          : {}),
      })),
      events: backend.recentEvents(),
    };
  });

  app.get(
    '/v1/dashboard/locks',
    { schema: { summary: 'The status page’s view of the lease table, from the leader', tags: ['status page'], response: withErrors({ 200: answers.dashboardLocksAnswer }) }, config: { role: 'admin' } },
    onLeader(backend, READ, async (request, reply) => {
      await backend.readBarrier();
      const table = backend.table();
      const at = viewContext(backend.nowMs(), scopeOf(request).shownOwner);
      const locks = table.list('', LOCKS_SHOWN_MAX).map((v) => ({
        name: v.name,
        holders: holdersJson(v, at),
        lastToken: v.lastToken,
        waiters: v.waiters,
        queue: table.waiters(v.name, WAITERS_SHOWN_MAX).map((w) => waiterJson(w, at)),
        ...(v.limit !== undefined ? { limit: v.limit } : {}),
        ...(v.lockDelayUntilMs !== undefined ? { lockDelayInMs: Math.max(0, v.lockDelayUntilMs - at.nowMs) } : {}),
      }));
      const sessions = table.sessions(SESSIONS_SHOWN_MAX).map((s) => ({ ...sessionJson(s, at.nowMs), ...(s.owner !== undefined ? { owner: at.showOwner(s.owner) } : {}) }));
      return reply.send({ leader: backend.id, lockCount: table.size, locks, sessionCount: table.stats().sessions, sessions });
    }),
  );
}

/** leaderCommitIndex is the commit index of the leader as it reported it, or null when no reachable member leads. */
function leaderCommitIndex(self: NodeStatus, reports: readonly MemberReport[]): number | null {
  let leader: NodeStatus | null = null;
  for (const r of reports) {
    if (r.status?.role !== 'leader') continue;
    // Two members may both believe they lead for a moment (one in an older term): the newer term leads.
    if (leader === null || r.status.term > leader.term || r.status.id === self.leader) leader = r.status;
  }
  return leader?.commitIndex ?? null;
}

/** memberReport asks member `id` for its `/v1/status`, speaking for the caller (its identity relayed, signed). */
async function memberReport(backend: LockBackend, id: NodeId, request: FastifyRequest): Promise<MemberReport> {
  const url = backend.httpUrlOf(id);
  if (url === undefined) return { id, reachable: false, status: null, error: 'this node does not know its HTTP address (--peer-http)' };
  const caller: Identity | null = request.identity;
  try {
    const answer = await backend.peers.send(url, { method: 'GET', path: '/v1/status', caller, signal: AbortSignal.timeout(MEMBER_STATUS_TIMEOUT_MS) });
    if (answer.status !== 200) return { id, reachable: true, status: null, error: `HTTP ${answer.status}: ${errorOf(answer.text)}` };
    return { id, reachable: true, status: JSON.parse(answer.text) as NodeStatus };
  } catch (err) {
    const code = (err as { code?: unknown; name?: unknown }).code ?? (err as { name?: unknown }).name;
    return { id, reachable: false, status: null, error: typeof code === 'string' ? code : String(err) };
  }
}

/** errorOf is the `error` code of an error answer's JSON, or its first characters. */
function errorOf(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: unknown };
    if (typeof body.error === 'string') return body.error;
  } catch {
    // not JSON: show the start of it
  }
  return text.slice(0, 80);
}
