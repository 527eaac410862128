/**
 * JSON schemas for every body, parameter and query string. Fastify compiles
 * them with Ajv; any mismatch is a 400 bad_request (error-mapping.ts).
 * Bounds here are the API contract: ttlMs 100 ms to 1 hour, names matching
 * [A-Za-z0-9._:/-]{1,256}.
 */
export const LIMITS = {
  ttlMsMin: 100,
  ttlMsMax: 3_600_000,
  sessionTtlMsMin: 1_000,
  sessionTtlMsMax: 3_600_000,
  waitMsMax: 300_000,
  lockDelayMsMax: 60_000,
  semaphoreLimitMax: 10_000,
  listLimitMax: 1_000,
} as const;

const name = { type: 'string', pattern: '^[A-Za-z0-9._:/-]{1,256}$' } as const;
const owner = { type: 'string', minLength: 1, maxLength: 256 } as const;
const requestId = { type: 'string', minLength: 1, maxLength: 128 } as const;
const token = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } as const;
const ttlMs = { type: 'integer', minimum: LIMITS.ttlMsMin, maximum: LIMITS.ttlMsMax } as const;
const sessionId = { type: 'string', minLength: 1, maxLength: 128 } as const;

export const nameParams = { type: 'object', required: ['name'], additionalProperties: false, properties: { name } } as const;
export const sessionParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: sessionId } } as const;

export const acquireBody = {
  type: 'object',
  required: ['owner'],
  additionalProperties: false,
  properties: {
    owner,
    ttlMs,
    sessionId,
    mode: { type: 'string', enum: ['exclusive', 'shared'] },
    limit: { type: 'integer', minimum: 1, maximum: LIMITS.semaphoreLimitMax },
    waitMs: { type: 'integer', minimum: 0, maximum: LIMITS.waitMsMax },
    lockDelayMs: { type: 'integer', minimum: 0, maximum: LIMITS.lockDelayMsMax },
    requestId,
  },
} as const;

export const releaseBody = {
  type: 'object',
  required: ['owner', 'token'],
  additionalProperties: false,
  properties: { owner, token, requestId },
} as const;

export const renewBody = {
  type: 'object',
  required: ['owner', 'token'],
  additionalProperties: false,
  properties: { owner, token, ttlMs, requestId },
} as const;

export const checkBody = { type: 'object', required: ['token'], additionalProperties: false, properties: { token } } as const;

export const cancelWaitBody = { type: 'object', required: ['waiterId'], additionalProperties: false, properties: { waiterId: requestId } } as const;

export const forceReleaseQuery = { type: 'object', additionalProperties: false, properties: { requestId } } as const;

export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    prefix: { type: 'string', pattern: '^[A-Za-z0-9._:/-]{0,256}$' },
    limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
    after: name,
  },
} as const;

export const createSessionBody = {
  type: 'object',
  required: ['ttlMs'],
  additionalProperties: false,
  properties: {
    ttlMs: { type: 'integer', minimum: LIMITS.sessionTtlMsMin, maximum: LIMITS.sessionTtlMsMax },
    owner,
    requestId,
  },
} as const;

export const emptyBody = { type: 'object', additionalProperties: false, properties: { requestId } } as const;
