import type { FastifyInstance } from 'fastify';
import { sendError } from './error-mapping.js';
import type { BackendPluginOptions } from './lock-backend.js';
import * as answers from './response-schemas.js';
import { withErrors } from './response-schemas.js';

/**
 * statusRoutes is the fastify plugin of a member's own state, served by every
 * node without asking the leader: `/v1/status`, liveness (`/healthz`) and
 * readiness (`/readyz`: nothing is wrong with this member as a member, a
 * leader is known, and this node is a member: a voter or a learner).
 */
export async function statusRoutes(app: FastifyInstance, { backend }: BackendPluginOptions): Promise<void> {
  app.get('/v1/status', { schema: { summary: 'This member’s Raft status', tags: ['status'], response: withErrors({ 200: answers.statusAnswer }) }, config: { role: 'reader' } }, async () => backend.status());
  // Open, for load balancers and orchestrators: they tell only whether this node is up and knows a leader.
  app.get('/healthz', { schema: { summary: 'Liveness', tags: ['status'], response: withErrors({ 200: answers.healthAnswer }) }, config: { role: 'none' } }, async () => ({ ok: true }));
  app.get('/readyz', { schema: { summary: 'Readiness: a fine member that knows a leader', tags: ['status'], response: withErrors({ 200: answers.readyAnswer }) }, config: { role: 'none' } }, async (request, reply) => {
    const status = backend.status();
    const problem = status.problems?.[0];
    if (problem !== undefined) return sendError(reply, 'not_ready', problem.message, { reason: problem.reason, problems: status.problems });
    if (status.leader === null) return sendError(reply, 'no_leader', 'no leader is known');
    // A learner is ready: it serves the API like a voter, relaying what needs the leader.
    if (!status.members.includes(status.id) && !(status.learners ?? []).includes(status.id)) return sendError(reply, 'no_leader', 'this node is not a member of the cluster');
    return reply.send({ ready: true, leader: status.leader });
  });
}
