/**
 * JSON schemas for every body, parameter and query string. Fastify compiles
 * them with Ajv; any mismatch is a 400 bad_request (error-mapping.ts). Every
 * bound comes from the API contract (src/api/contract.ts).
 */

import { API_BOUNDS, LOCK_NAME_PATTERN, LOCK_PREFIX_PATTERN } from '../api/contract.js';

/** A non-empty string of at most `maxLength` characters. */
const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength }) as const;

const name = { type: 'string', pattern: LOCK_NAME_PATTERN } as const;
const owner = text(API_BOUNDS.ownerLengthMax);
const requestId = text(API_BOUNDS.requestIdLengthMax);
const sessionId = text(API_BOUNDS.sessionIdLengthMax);
const token = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } as const;
const ttlMs = { type: 'integer', minimum: API_BOUNDS.ttlMsMin, maximum: API_BOUNDS.ttlMsMax } as const;

/** nameParams is the `:name` of a lock route. */
export const nameParams = { type: 'object', required: ['name'], additionalProperties: false, properties: { name } } as const;
/** sessionParams is the `:id` of a session route. */
export const sessionParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: sessionId } } as const;

/** acquireBody: exactly one of ttlMs and sessionId is checked by the route (JSON schema cannot say it with a 400 message). */
export const acquireBody = {
  type: 'object',
  required: ['owner'],
  additionalProperties: false,
  properties: {
    owner,
    ttlMs,
    sessionId,
    mode: { type: 'string', enum: ['exclusive', 'shared'] },
    limit: { type: 'integer', minimum: 1, maximum: API_BOUNDS.semaphoreLimitMax },
    waitMs: { type: 'integer', minimum: 0, maximum: API_BOUNDS.waitMsMax },
    lockDelayMs: { type: 'integer', minimum: 0, maximum: API_BOUNDS.lockDelayMsMax },
    requestId,
  },
} as const;

/** releaseBody drops one hold. */
export const releaseBody = {
  type: 'object',
  required: ['owner', 'token'],
  additionalProperties: false,
  properties: { owner, token, requestId },
} as const;

/** renewBody extends a TTL hold. */
export const renewBody = {
  type: 'object',
  required: ['owner', 'token'],
  additionalProperties: false,
  properties: { owner, token, ttlMs, requestId },
} as const;

/** checkBody asks whether a token is held now. */
export const checkBody = { type: 'object', required: ['token'], additionalProperties: false, properties: { token } } as const;

/**
 * cancelWaitBody names the waiter a follower's long-poll gave up on (its id is the acquire's requestId), with the
 * acquire's owner when the long-poll's client is gone.
 */
export const cancelWaitBody = { type: 'object', required: ['waiterId'], additionalProperties: false, properties: { waiterId: requestId, owner } } as const;

/** forceReleaseQuery carries the operator's optional requestId. */
export const forceReleaseQuery = { type: 'object', additionalProperties: false, properties: { requestId } } as const;

/** watchQueryProperties are a blocking read's `index` (digits) and `wait` (a duration with its unit: 500ms, 30s, 5m); see watch.ts. */
const watchQueryProperties = {
  index: { type: 'string', pattern: '^[0-9]{1,15}$' },
  wait: { type: 'string', pattern: '^[0-9]{1,7}(ms|s|m)$' },
} as const;

/** watchQuery is the query string of a read of one lock or election, which may block (watch.ts). */
export const watchQuery = { type: 'object', additionalProperties: false, properties: watchQueryProperties } as const;

/** listQuery: `limit` is a string of digits (query strings are not coerced); the route caps it at listLimitMax. */
export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    prefix: { type: 'string', pattern: LOCK_PREFIX_PATTERN },
    limit: { type: 'string', pattern: `^[0-9]{1,${String(API_BOUNDS.listLimitMax).length}}$` },
    after: name,
    ...watchQueryProperties,
  },
} as const;

/** value is an election's value: any string up to the contract's bound, possibly empty. */
const value = { type: 'string', maxLength: API_BOUNDS.electionValueLengthMax } as const;

/** campaignBody: an acquire of the election's exclusive hold carrying `value`; exactly one of ttlMs and sessionId (checked by the route). */
export const campaignBody = {
  type: 'object',
  required: ['owner', 'value'],
  additionalProperties: false,
  properties: {
    owner,
    value,
    // An election's hold is exclusive; the client library sends the mode as it does for any acquire.
    mode: { type: 'string', enum: ['exclusive'] },
    ttlMs,
    sessionId,
    waitMs: { type: 'integer', minimum: 0, maximum: API_BOUNDS.waitMsMax },
    requestId,
  },
} as const;

/** proclaimBody: the leader's hold (owner, token) and its new value. */
export const proclaimBody = {
  type: 'object',
  required: ['owner', 'token', 'value'],
  additionalProperties: false,
  properties: { owner, token, value, requestId },
} as const;

/** createSessionBody opens a session. */
export const createSessionBody = {
  type: 'object',
  required: ['ttlMs'],
  additionalProperties: false,
  properties: {
    ttlMs: { type: 'integer', minimum: API_BOUNDS.sessionTtlMsMin, maximum: API_BOUNDS.sessionTtlMsMax },
    owner,
    requestId,
  },
} as const;

/** transferLeaderBody names the member to hand leadership to; without `to` the leader picks the most caught-up voter. */
export const transferLeaderBody = {
  type: 'object',
  additionalProperties: false,
  properties: { to: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
} as const;
