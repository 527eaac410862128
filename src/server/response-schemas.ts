/**
 * JSON schemas of every answer, one per route and status. Fastify compiles
 * them into its serializer (fast-json-stringify: faster than JSON.stringify,
 * issue 14), and @fastify/swagger turns them into the OpenAPI document
 * (openapi-routes.ts). The serializer writes only the properties a schema
 * lists, so each lists every field response-views.ts writes; the error answer
 * allows more, since its extras differ by code. test/server/openapi.test.ts
 * checks that every route answers as these say.
 */

import { ERROR_STATUS } from '../api/error-codes.js';

const count = { type: 'integer', minimum: 0 } as const;
const token = { type: 'integer', minimum: 1 } as const;
const remainingMs = { type: 'integer', minimum: 0, description: 'milliseconds left of the deadline, in the leader’s time' } as const;

/** holder is one hold as the API shows it (response-views.ts holderJson). */
const holder = {
  type: 'object',
  required: ['owner', 'token', 'mode', 'expiresInMs', 'holdCount'],
  additionalProperties: false,
  properties: {
    owner: { type: 'string' },
    token,
    mode: { type: 'string', enum: ['exclusive', 'shared'] },
    expiresInMs: remainingMs,
    holdCount: { type: 'integer', minimum: 1 },
    sessionId: { type: 'string' },
    value: { type: 'string', description: 'an election leader’s value (campaign, proclaim)' },
  },
} as const;

const holders = { type: 'array', items: holder } as const;

/** An object answer with exactly these properties, `required` of them always present. */
function answer(description: string, required: readonly string[], properties: Record<string, unknown>) {
  return { description, type: 'object', required, additionalProperties: false, properties } as const;
}

/**
 * errorAnswer is every error: `{error, message}` and the extras of some codes (error-mapping.ts sendError). Extras
 * not listed still reach the client (additionalProperties): a new one must not vanish in the serializer.
 */
export const errorAnswer = {
  description: 'an error: `error` is a stable code (src/api/error-codes.ts), `message` says what to do',
  type: 'object',
  required: ['error', 'message'],
  additionalProperties: true,
  properties: {
    error: { type: 'string', enum: Object.keys(ERROR_STATUS).filter((c) => c !== 'not_leader' && c !== 'wait_ended') },
    message: { type: 'string' },
    holders: { ...holders, description: 'lock_held: who holds the lock now' },
    reason: { type: 'string', description: 'lock_held: why a queued acquire ended; not_ready: what is wrong with the member' },
    limit: { type: 'integer', description: 'limit_mismatch: the limit the lock is held with' },
    leader: { type: 'string', description: 'no_leader from GET /v1/snapshot: the member to ask' },
    leaderUrl: { type: 'string' },
    problems: { type: 'array', items: { type: 'object', required: ['reason', 'message'], properties: { reason: { type: 'string' }, message: { type: 'string' } } } },
  },
} as const;

/** withErrors adds the error answer for every 4xx and 5xx status to a route's success answers. */
export function withErrors<T extends Record<number, unknown>>(ok: T): T & { '4xx': typeof errorAnswer; '5xx': typeof errorAnswer } {
  return { ...ok, '4xx': errorAnswer, '5xx': errorAnswer };
}

/** grantedAnswer: a granted acquire, the lock's name and the caller's hold. */
export const grantedAnswer = answer('the lock is granted: this hold and its fencing token', [...holder.required, 'name'], { name: { type: 'string' }, ...holder.properties });

/** indexed is a blocking read's answer (watch.ts): `body` with the index to wait past next, also in the X-Raftlock-Index header. */
function indexed<T extends { required: readonly string[]; properties: Record<string, unknown> }>(body: T) {
  return {
    ...body,
    required: [...body.required, 'index'],
    properties: { ...body.properties, index: { ...count, description: 'the Raft index of the answer: pass it as ?index= to wait for the next change' } },
    headers: { 'x-raftlock-index': { type: 'string', pattern: '^[0-9]+$', description: 'the same index as the body’s' } },
  } as const;
}

/** lockListItem is one lock of a list: its holders, how many wait, the last token it granted (no semaphore limit). */
const lockListItem = answer('one lock', ['name', 'holders', 'waiters', 'lastToken'], { name: { type: 'string' }, holders, waiters: count, lastToken: count });

/** lockAnswer: `GET /v1/locks/:name`. */
export const lockAnswer = indexed(
  answer('one lock: its holders, how many wait, the last token it granted', lockListItem.required, {
    ...lockListItem.properties,
    limit: { type: 'integer', minimum: 1, description: 'a semaphore’s limit' },
  }),
);

/** lockListAnswer: `GET /v1/locks`, in name order. */
export const lockListAnswer = indexed(answer('locks in name order (without semaphore limits)', ['locks'], { locks: { type: 'array', items: lockListItem } }));

export const releaseAnswer = answer('the hold is dropped (or one re-entrant count of it)', ['released', 'holdCount'], { released: { type: 'boolean' }, holdCount: count });
export const renewAnswer = answer('the hold’s lease is extended', ['expiresInMs'], { expiresInMs: remainingMs });
export const checkAnswer = answer('whether the token is held now, and the newest held token', ['valid', 'currentToken'], {
  valid: { type: 'boolean' },
  currentToken: { type: ['integer', 'null'] },
});
export const forceReleaseAnswer = answer('every hold and waiter of the lock is removed', ['released'], { released: { type: 'boolean' }, holdersRemoved: count, waitersRemoved: count });
export const cancelWaitAnswer = answer('whether the waiter left the queue (or its grant was undone)', ['cancelled'], { cancelled: { type: 'boolean' } });

const sessionLease = { ttlMs: count, expiresInMs: remainingMs } as const;
export const sessionCreatedAnswer = answer('the new session', ['sessionId', 'ttlMs', 'expiresInMs'], { sessionId: { type: 'string' }, ...sessionLease });
export const keepaliveAnswer = answer('the session’s lease is renewed', ['ttlMs', 'expiresInMs'], sessionLease);
export const sessionAnswer = answer('one session and the locks it holds', ['sessionId', 'ttlMs', 'expiresInMs', 'locks'], {
  sessionId: { type: 'string' },
  ...sessionLease,
  locks: { type: 'array', items: { type: 'string' } },
});
export const sessionDeletedAnswer = answer('the session is ended and its locks released', ['deleted', 'locksReleased'], { deleted: { type: 'boolean' }, locksReleased: count });

/** RAFT_ROLES are a member's Raft roles (raft/types.ts Role). */
const RAFT_ROLES = ['follower', 'preCandidate', 'candidate', 'leader'] as const;

/** statusAnswer: `/v1/status`, this member's own view (lock-backend.ts NodeStatus). */
export const statusAnswer = answer('this member’s own view of the cluster', ['id', 'role', 'term', 'leader', 'commitIndex', 'appliedIndex', 'members'], {
  id: { type: 'string' },
  role: { type: 'string', enum: RAFT_ROLES },
  term: count,
  leader: { type: ['string', 'null'] },
  commitIndex: count,
  appliedIndex: count,
  members: { type: 'array', items: { type: 'string' }, description: 'the voters' },
  learners: { type: 'array', items: { type: 'string' }, description: 'members that replicate but do not vote yet' },
  clusterId: { type: 'string' },
  problems: errorAnswer.properties.problems,
});
export const healthAnswer = answer('the process is up', ['ok'], { ok: { type: 'boolean' } });
export const readyAnswer = answer('this member is fine, a member, and knows a leader', ['ready', 'leader'], { ready: { type: 'boolean' }, leader: { type: 'string' } });
export const transferAnswer = answer('where leadership is now', ['transferred', 'leader', 'term'], {
  transferred: { type: 'boolean' },
  from: { type: 'string' },
  leader: { type: 'string' },
  term: count,
});

/** campaignAnswer: a won campaign is a granted acquire of the election's lock, with the leader's value. */
export const campaignAnswer = { ...grantedAnswer, description: 'this campaign leads: its hold (the token fences the leadership) and value' } as const;
export const proclaimAnswer = answer('the leader’s value is changed', ['proclaimed', 'value'], { proclaimed: { type: 'boolean' }, value: { type: 'string' } });
export const resignAnswer = answer('the leadership’s hold is released (false: a re-entrant count of it remains)', ['resigned'], { resigned: { type: 'boolean' } });

/** electionLeader is an election's leader (election-routes.ts), or null while nobody leads. */
const electionLeader = {
  anyOf: [
    { type: 'null' },
    answer('the leader: the exclusive holder of the election’s lock', ['owner', 'token', 'value', 'expiresInMs'], {
      owner: { type: 'string' },
      token,
      value: { type: ['string', 'null'], description: 'null when the lock was taken by a plain acquire' },
      expiresInMs: remainingMs,
    }),
  ],
} as const;

/** electionAnswer: `GET /v1/elections/:name`; with ?index=N, every change after N this member followed. */
export const electionAnswer = indexed(
  answer('who leads the election now', ['name', 'leader'], {
    name: { type: 'string' },
    leader: electionLeader,
    changes: {
      type: 'array',
      description: 'with ?index=N: the changes of leader or value after N that this member followed, oldest first',
      items: answer('one change', ['index', 'leader'], { index: count, leader: electionLeader }),
    },
  }),
);

/** memberView is one member of the configuration (member-routes.ts MemberView). */
const memberView = answer('one member', ['id', 'suffrage', 'peerAddress', 'httpUrl'], {
  id: { type: 'string' },
  suffrage: { type: 'string', enum: ['voter', 'learner'] },
  peerAddress: { type: ['string', 'null'], description: 'where its peers reach its Raft listener' },
  httpUrl: { type: ['string', 'null'], description: 'its HTTP API' },
  match: { ...count, description: 'from the leader: the highest index known on its disk' },
  lag: { ...count, description: 'from the leader: entries it is behind' },
  state: { type: 'string', enum: ['probe', 'replicate', 'snapshot', 'self'], description: 'from the leader: how the leader replicates to it' },
});
const memberViews = { type: 'array', items: memberView } as const;

export const membersAnswer = answer('the configuration: voters and learners, with each one’s progress from the leader', ['leader', 'term', 'configurationIndex', 'committed', 'members'], {
  leader: { type: ['string', 'null'] },
  term: count,
  configurationIndex: { ...count, description: 'the index of the entry that made the configuration' },
  committed: { type: 'boolean', description: 'false while a change is not yet committed' },
  members: memberViews,
});

/** memberChangeAnswer is a membership change applied on the leader, with the configuration it made. */
export const memberChangeAnswer = answer('the change applied on the leader, and the configuration it made', ['change', 'id', 'members'], {
  change: { type: 'string', enum: ['addLearner', 'promote', 'remove'] },
  id: { type: 'string' },
  members: memberViews,
});

/** A recent event as the status page shows it (node/recent-events.ts): a leader change, or an expiry. */
const recentEvent = {
  oneOf: [
    answer('a change of leader or term', ['kind', 'wallTimeMs', 'term', 'leader'], { kind: { const: 'leader' }, wallTimeMs: count, term: count, leader: { type: ['string', 'null'] } }),
    answer('an expiry that removed something', ['kind', 'wallTimeMs', 'index', 'holdsExpired', 'sessionsExpired', 'waitersTimedOut'], {
      kind: { const: 'expiry' },
      wallTimeMs: count,
      index: count,
      holdsExpired: count,
      sessionsExpired: count,
      waitersTimedOut: count,
    }),
  ],
} as const;

/** dashboardMembersAnswer: `GET /v1/dashboard/members`, this member's view of every member (dashboard-routes.ts). */
export const dashboardMembersAnswer = answer('every member as this member reaches it now, and its recent events (newest first)', ['node', 'term', 'leader', 'members', 'events'], {
  node: { type: 'string' },
  term: count,
  leader: { type: ['string', 'null'] },
  members: {
    type: 'array',
    items: answer('one member: its own status when it answered', ['id', 'reachable'], {
      id: { type: 'string' },
      reachable: { type: 'boolean' },
      error: { type: 'string', description: 'why there is no status' },
      role: { type: 'string', enum: [...RAFT_ROLES, 'learner'] },
      term: count,
      leader: { type: ['string', 'null'] },
      commitIndex: count,
      appliedIndex: count,
      lagEntries: { type: ['integer', 'null'], minimum: 0, description: 'entries behind the leader’s commit index; null when no reachable member leads' },
      problems: errorAnswer.properties.problems,
    }),
  },
  events: { type: 'array', items: recentEvent },
});

/** waiter is one queued acquire (response-views.ts waiterJson). */
const waiter = answer('one waiter, in queue order', ['owner', 'mode', 'waitEndsInMs'], {
  owner: { type: 'string' },
  mode: holder.properties.mode,
  waitEndsInMs: remainingMs,
  limit: { type: 'integer', minimum: 1 },
  sessionId: { type: 'string' },
});

/** dashboardLocksAnswer: `GET /v1/dashboard/locks`, the leader's lease table as the status page shows it. */
export const dashboardLocksAnswer = answer('the first locks by name with their queues, and the sessions', ['leader', 'lockCount', 'locks', 'sessionCount', 'sessions'], {
  leader: { type: 'string' },
  lockCount: count,
  locks: {
    type: 'array',
    items: answer('one lock', ['name', 'holders', 'lastToken', 'waiters', 'queue'], {
      ...lockListItem.properties,
      queue: { type: 'array', items: waiter },
      limit: { type: 'integer', minimum: 1 },
      lockDelayInMs: remainingMs,
    }),
  },
  sessionCount: count,
  sessions: {
    type: 'array',
    items: answer('one session', [...sessionAnswer.required], { ...sessionAnswer.properties, owner: { type: 'string', description: 'the owner it was opened for' } }),
  },
});

/** textAnswer is a non-JSON answer of `contentType` (the Prometheus text, a backup file). */
export function textAnswer(description: string, contentType: string, format?: 'binary') {
  return { description, content: { [contentType]: { schema: { type: 'string', ...(format !== undefined ? { format } : {}) } } } } as const;
}

/** openApiAnswer is the OpenAPI document itself. */
export const openApiAnswer = {
  description: 'this API as an OpenAPI 3.1 document',
  type: 'object',
  required: ['openapi', 'info', 'paths'],
  additionalProperties: true,
  properties: { openapi: { type: 'string' } },
} as const;
