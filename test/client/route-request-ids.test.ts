/**
 * Exactly-once over HTTP: the lock routes pass a write's requestId on to the
 * table, so a retry of a release, renew or force-release (the client could
 * not learn whether its first attempt applied) gets the first answer without
 * a second effect. Found unchecked by mutation testing (npm run mutate).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockTestCluster } from './lock-test-cluster.js';

let cluster: LockTestCluster;

beforeEach(async () => {
  cluster = await LockTestCluster.start(1);
});

afterEach(async () => {
  await cluster.close();
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${cluster.node(0).url}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

const dedupedRoutes = (): string[] => cluster.applied.filter((a) => a.deduped).map((a) => a.route);

describe('a retried write with the same requestId applies once', () => {
  it('release, renew and force-release', async () => {
    const first = await call('POST', '/v1/locks/r/acquire', { owner: 'o', ttlMs: 5_000 });
    expect(first.status).toBe(200);
    const token = (first.body as { token: number }).token;
    const renew = { owner: 'o', token, ttlMs: 7_000, requestId: 'renew-1' };
    expect((await call('POST', '/v1/locks/r/renew', renew)).status).toBe(200);
    expect((await call('POST', '/v1/locks/r/renew', renew)).status).toBe(200);
    const release = { owner: 'o', token, requestId: 'release-1' };
    const released = await call('POST', '/v1/locks/r/release', release);
    expect(released).toEqual({ status: 200, body: { released: true, holdCount: 0 } });
    // The lock is free now: only the remembered answer can say "released" again.
    expect(await call('POST', '/v1/locks/r/release', release)).toEqual(released);
    await call('POST', '/v1/locks/f/acquire', { owner: 'o', ttlMs: 5_000 });
    const forced = await call('DELETE', '/v1/locks/f?requestId=force-1');
    expect(forced).toEqual({ status: 200, body: { released: true, holdersRemoved: 1, waitersRemoved: 0 } });
    expect(await call('DELETE', '/v1/locks/f?requestId=force-1')).toEqual(forced);
    expect(dedupedRoutes()).toEqual(['renew', 'release', 'forceRelease']);
  });
});
