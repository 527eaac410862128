import type { FastifyInstance, FastifyReply } from 'fastify';
import { NotLeaderError } from '../node/errors.js';
import type { HandOffResult } from '../node/leader-hand-off.js';
import { encodeBackup } from '../storage/index.js';
import type { AdminBackend } from './admin-backend.js';
import { sendError, sendFailure } from './error-mapping.js';
import { READ, onLeader } from './leader-forwarder.js';
import type { BackendPluginOptions, LockBackend } from './lock-backend.js';
import * as answers from './response-schemas.js';
import { withErrors } from './response-schemas.js';
import * as schema from './schemas.js';

type TransferBody = { to?: string };

/**
 * adminRoutes is the fastify plugin of the operator's routes on a real member
 * (none where there is no AdminBackend): `POST /v1/admin/transfer-leader`
 * hands leadership to `to` or to the most caught-up voter (relayed to the
 * leader from any member), and `GET /v1/snapshot` streams a backup taken on
 * the leader after a read barrier (a follower names the leader instead: the
 * body is binary, which the JSON relay does not carry).
 */
export async function adminRoutes(app: FastifyInstance, { backend, admin }: BackendPluginOptions): Promise<void> {
  if (admin === undefined) return;
  app.post<{ Body: TransferBody }>(
    '/v1/admin/transfer-leader',
    { schema: { summary: 'Hand leadership to another voter', tags: ['admin'], body: schema.transferLeaderBody, response: withErrors({ 200: answers.transferAnswer }) }, config: { role: 'admin' } },
    onLeader(backend, READ, async (request, reply) => transferLeader(backend, admin, reply, request.body.to ?? null)),
  );
  // A backup holds every lock, owner and session: admin only.
  app.get(
    '/v1/snapshot',
    { schema: { summary: 'Download a backup, taken on the leader', tags: ['admin'], response: withErrors({ 200: answers.textAnswer('a backup file (raftlock snapshot restore reads it)', 'application/octet-stream', 'binary') }) }, config: { role: 'admin' } },
    async (request, reply) => {
      if (!backend.isLeader()) return notLeader(backend, reply);
      try {
        const image = await admin.backup();
        const name = `raftlock-${image.header.clusterId}-${image.header.index}.backup`;
        return reply.type('application/octet-stream').header('content-disposition', `attachment; filename="${name}"`).send(Buffer.concat(encodeBackup(image)));
      } catch (err) {
        return sendFailure(reply, err);
      }
    },
  );
}

async function transferLeader(backend: LockBackend, admin: AdminBackend, reply: FastifyReply, to: string | null): Promise<FastifyReply> {
  const status = backend.status();
  if (to !== null && !status.members.includes(to)) return sendError(reply, 'bad_request', `${to} is not a voting member (members: ${status.members.join(', ')})`);
  if (to === backend.id) return reply.send({ transferred: false, leader: backend.id, term: status.term });
  const r: HandOffResult = await admin.transferLeadership(to);
  switch (r.outcome) {
    case 'transferred':
      return reply.send({ transferred: true, from: r.from, leader: r.leader, term: r.term });
    case 'not_leader':
      // Leadership moved meanwhile: onLeader relays to the new leader once.
      throw new NotLeaderError(r.leader);
    case 'no_target':
      return sendError(reply, 'transfer_failed', 'there is no other voter to hand leadership to');
    case 'timed_out':
      return sendError(reply, 'transfer_failed', `leadership did not move${r.to === null ? '' : ` to ${r.to}`} within ${admin.transferTimeoutMs} ms; ${r.from} still leads`);
  }
}

function notLeader(backend: LockBackend, reply: FastifyReply): FastifyReply {
  const leader = backend.leader();
  if (leader === null) return sendError(reply, 'no_leader', 'no leader is known; a backup is taken on the leader');
  const leaderUrl = backend.httpUrlOf(leader);
  return sendError(reply, 'not_leader', `a backup is taken on the leader: ask ${leader}${leaderUrl === undefined ? '' : ` at ${leaderUrl}`}`, { leader, ...(leaderUrl !== undefined ? { leaderUrl } : {}) });
}
