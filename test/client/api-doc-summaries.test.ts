/**
 * The OpenAPI document is read by people choosing an operation: every
 * operation it lists has a summary of its own (none empty, no two alike) and
 * exactly one tag, its resource's, which the document declares; the lock routes are grouped under `locks`.
 * Found unchecked by mutation testing (npm run mutate -- src/server/lock-routes.ts):
 * a route's summary or tag could be dropped and no test noticed.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/server/api-routes.js';
import { authPlugin } from '../../src/server/auth.js';
import { createHttpApp } from '../../src/server/http-app.js';
import { openApiRoutes } from '../../src/server/openapi-routes.js';
import { RefusalLog } from '../../src/server/refusal-log.js';
import { InProcessLocks } from './in-process-locks.js';

type Operation = { summary?: unknown; tags?: unknown };
let operations: { key: string; op: Operation }[] = [];
/** The tags the document declares (with their descriptions). */
let declaredTags: string[] = [];

beforeAll(async () => {
  const silent = pino({ level: 'silent' });
  const app = createHttpApp(silent);
  const locks = new InProcessLocks();
  const status = { id: 'n1', role: 'leader' as const, term: 1, leader: 'n1', commitIndex: 0, appliedIndex: 0, members: ['n1'] };
  try {
    // The API's route plugins after the document, as a node registers them (http-server.ts).
    await app.register(authPlugin, { tokens: null, signer: null, refusals: new RefusalLog(silent, 'auth') });
    await app.register(openApiRoutes);
    await app.register(apiRoutes, { backend: locks.backend(() => status) });
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { paths: Record<string, Record<string, Operation>>; tags: { name: string }[] };
    declaredTags = doc.tags.map((t) => t.name);
    operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ key: `${method} ${path}`, op })));
  } finally {
    await app.close();
    locks.close();
  }
});

afterAll(() => {
  operations = [];
  declaredTags = [];
});

describe('the OpenAPI document', () => {
  it('gives every operation a summary of its own and exactly one tag, one the document declares', () => {
    expect(operations.length).toBeGreaterThan(20);
    const summaries = operations.map(({ op }) => op.summary);
    for (const { key, op } of operations) {
      expect([key, typeof op.summary === 'string' && op.summary.trim().length > 0]).toEqual([key, true]);
      expect([key, Array.isArray(op.tags) && op.tags.length === 1 && declaredTags.includes(op.tags[0] as string)]).toEqual([key, true]);
    }
    expect(new Set(summaries).size).toBe(summaries.length);
  });

  it('groups the lock routes under the tag locks', () => {
    const lockOps = operations.filter(({ key }) => / \/v1\/locks(\/|$)/.test(key));
    expect(lockOps.map(({ key }) => key).sort()).toEqual([
      'delete /v1/locks/{name}',
      'get /v1/locks',
      'get /v1/locks/{name}',
      'post /v1/locks/{name}/acquire',
      'post /v1/locks/{name}/check',
      'post /v1/locks/{name}/release',
      'post /v1/locks/{name}/renew',
    ]);
    for (const { key, op } of lockOps) expect([key, op.tags]).toEqual([key, ['locks']]);
  });
});
