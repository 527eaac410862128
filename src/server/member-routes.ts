import type { FastifyInstance, FastifyReply } from 'fastify';
import { parseHostPort } from '../node/node-config.js';
import { isLearnerIn, isVoterIn, memberIds, recordOf, type ConfChange, type ConfState, type MemberProgress, type NodeId } from '../raft/index.js';
import type { AdminBackend } from './admin-backend.js';
import { sendError } from './error-mapping.js';
import { READ, WRITE, onLeader } from './leader-forwarder.js';
import type { BackendPluginOptions, LockBackend } from './lock-backend.js';
import * as answers from './response-schemas.js';
import { withErrors } from './response-schemas.js';

/** A member id: the same rule as `--id`. */
const MEMBER_ID = '^[A-Za-z0-9_-]{1,64}$';

const memberParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: MEMBER_ID } },
} as const;

/** addMemberBody: the new member's id, where its peers reach its Raft listener, and its HTTP API's base URL. */
const addMemberBody = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'peerAddress', 'httpUrl'],
  properties: {
    id: { type: 'string', pattern: MEMBER_ID },
    peerAddress: { type: 'string', pattern: '^[A-Za-z0-9.:\\[\\]-]{1,253}:[0-9]{1,5}$' },
    httpUrl: { type: 'string', pattern: '^https?://[^\\s/]{1,260}/?$' },
  },
} as const;

type MemberParams = { id: string };
type AddMemberBody = { id: string; peerAddress: string; httpUrl: string };

/** MemberView is one member as `GET /v1/members` shows it. */
interface MemberView {
  readonly id: NodeId;
  readonly suffrage: 'voter' | 'learner';
  readonly peerAddress: string | null;
  readonly httpUrl: string | null;
  /** The leader's replication progress toward it: highest index on its disk, entries behind, replication state. */
  readonly match?: number;
  readonly lag?: number;
  readonly state?: MemberProgress['state'];
}

/**
 * memberRoutes is the fastify plugin of runtime membership change (thesis §4.1, one server at a time; see
 * ARCHITECTURE.md): `GET /v1/members` lists voters and learners with their addresses and, from the leader, each
 * one's lag; `POST /v1/members` adds a learner; `POST /v1/members/:id/promote` makes a caught-up learner a voter;
 * `DELETE /v1/members/:id` removes a member (a removed leader hands leadership over first). Every route runs on
 * the leader (relayed from any member). A change answers once its entry applied on the leader; a refusal is 409
 * membership_change_refused with the reason and what to do.
 */
export async function memberRoutes(app: FastifyInstance, { backend, admin }: BackendPluginOptions): Promise<void> {
  if (admin === undefined) return;
  app.get(
    '/v1/members',
    { schema: { summary: 'List the members (voters and learners) and, from the leader, each one’s lag', tags: ['members'], response: withErrors({ 200: answers.membersAnswer }) }, config: { role: 'reader' } },
    onLeader(backend, READ, async (_request, reply) => reply.send(membersView(backend, admin))),
  );

  app.post<{ Body: AddMemberBody }>(
    '/v1/members',
    { schema: { summary: 'Add a member as a learner', tags: ['members'], body: addMemberBody, response: withErrors({ 201: answers.memberChangeAnswer }) }, config: { role: 'admin' } },
    onLeader(backend, WRITE, async (request, reply) => {
      const { id, peerAddress, httpUrl } = request.body;
      const config = admin.membership().configuration;
      if (isVoterIn(config, id) || isLearnerIn(config, id)) return sendError(reply, 'membership_change_refused', `${id} is already a member`, { reason: 'already_member' });
      // The schema checked the shapes; the address must also parse as the transport will read it, and the URL as a URL.
      let origin: string;
      try {
        parseHostPort(peerAddress, 'peerAddress');
        origin = new URL(httpUrl).origin;
      } catch (err) {
        return sendError(reply, 'bad_request', `${(err as Error).message}`);
      }
      return change(reply, backend, admin, { type: 'addLearner', id, peerAddress, httpUrl: origin }, 201);
    }),
  );

  app.post<{ Params: MemberParams }>(
    '/v1/members/:id/promote',
    { schema: { summary: 'Make a caught-up learner a voter', tags: ['members'], params: memberParams, response: withErrors({ 200: answers.memberChangeAnswer }) }, config: { role: 'admin' } },
    onLeader(backend, WRITE, async (request, reply) => change(reply, backend, admin, { type: 'promote', id: request.params.id }, 200)),
  );

  app.delete<{ Params: MemberParams }>(
    '/v1/members/:id',
    { schema: { summary: 'Remove a member (a leader hands leadership over first)', tags: ['members'], params: memberParams, response: withErrors({ 200: answers.memberChangeAnswer }) }, config: { role: 'admin' } },
    onLeader(backend, WRITE, async (request, reply) => change(reply, backend, admin, { type: 'remove', id: request.params.id }, 200)),
  );
}

/** change proposes one membership change and answers with the configuration it made. */
async function change(reply: FastifyReply, backend: LockBackend, admin: AdminBackend, c: ConfChange, okStatus: number): Promise<FastifyReply> {
  try {
    const config = await admin.changeMembership(c);
    return reply.code(okStatus).send({ change: c.type, id: c.id, ...configurationView(config, backend, admin) });
  } catch (err) {
    const reason = (err as { reason?: unknown }).reason;
    if (reason === 'unknown_member') return sendError(reply, 'not_found', `${c.id} is not a member`, { reason });
    if (typeof reason === 'string') return sendError(reply, 'membership_change_refused', (err as Error).message, { reason });
    throw err; // onLeader relays not_leader and maps the rest
  }
}

function membersView(backend: LockBackend, admin: AdminBackend): object {
  const view = admin.membership();
  const status = backend.status();
  return {
    leader: backend.leader(),
    term: status.term,
    configurationIndex: view.configurationIndex,
    committed: view.committed,
    ...configurationView(view.configuration, backend, admin, view.progress),
  };
}

function configurationView(config: ConfState, backend: LockBackend, admin: AdminBackend, progress: readonly MemberProgress[] | null = null): { members: MemberView[] } {
  const members = memberIds(config).map((id): MemberView => {
    const p = progress?.find((x) => x.id === id);
    return {
      id,
      suffrage: isVoterIn(config, id) ? 'voter' : 'learner',
      peerAddress: recordOf(config, id)?.peerAddress ?? admin.peerAddressOf(id) ?? null,
      httpUrl: recordOf(config, id)?.httpUrl ?? backend.httpUrlOf(id) ?? null,
      ...(p !== undefined ? { match: p.match, lag: p.lag, state: p.state } : {}),
    };
  });
  return { members };
}
