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

/** lockAnswer: `GET /v1/locks/:name`. */
export const lockAnswer = answer('one lock: its holders, how many wait, the last token it granted', ['name', 'holders', 'waiters', 'lastToken'], {
  name: { type: 'string' },
  holders,
  waiters: count,
  lastToken: count,
  limit: { type: 'integer', minimum: 1, description: 'a semaphore’s limit' },
});

/** lockListAnswer: `GET /v1/locks`, in name order. */
export const lockListAnswer = answer('locks in name order (without semaphore limits)', ['locks'], {
  locks: { type: 'array', items: { ...lockAnswer, properties: { name: lockAnswer.properties.name, holders, waiters: count, lastToken: count } } },
});

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

/** statusAnswer: `/v1/status`, this member's own view (lock-backend.ts NodeStatus). */
export const statusAnswer = answer('this member’s own view of the cluster', ['id', 'role', 'term', 'leader', 'commitIndex', 'appliedIndex', 'members'], {
  id: { type: 'string' },
  role: { type: 'string', enum: ['follower', 'preCandidate', 'candidate', 'leader'] },
  term: count,
  leader: { type: ['string', 'null'] },
  commitIndex: count,
  appliedIndex: count,
  members: { type: 'array', items: { type: 'string' } },
  learners: { type: 'array', items: { type: 'string' } },
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
