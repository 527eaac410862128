/**
 * Queued acquires (long-polls) through the real routes: what a client is
 * told when it waits, and what happens to a grant nobody can receive.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RaftLockClient, RaftLockClientError, type LockHandle } from '../../src/index.js';
import { LockTestCluster } from './lock-test-cluster.js';

let cluster: LockTestCluster;

beforeEach(async () => {
  cluster = await LockTestCluster.start(2);
});

afterEach(async () => {
  await cluster.close();
});

function client(owner: string): RaftLockClient {
  return new RaftLockClient({ endpoints: cluster.urls, retryBaseMs: 5, maxRetries: 3, preferLeader: false, requestTimeoutMs: 2_000, owner });
}

async function post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${cluster.node(0).url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('one owner waiting twice for one lock (issue 11, hole 5)', () => {
  it('refuses the second wait with already_waiting, so one grant never makes two handles', async () => {
    const holder = await client('x').acquire('twice', { ttlMs: 5_000 });
    const c = client('o1');
    const first = c.acquire('twice', { ttlMs: 5_000, waitMs: 5_000 });
    await cluster.waitForRequests((r) => r.route === 'acquire' && r.body['owner'] === 'o1', 1);
    const second = await c.acquire('twice', { ttlMs: 5_000, waitMs: 1_000 }).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(RaftLockClientError);
    expect((second as RaftLockClientError).code).toBe('already_waiting');
    await holder.release();
    const handle: LockHandle = await first;
    expect(cluster.holdersOf('twice').map((h) => [h.owner, h.token, h.holdCount])).toEqual([['o1', handle.token, 1]]);
    await handle.release();
    expect(cluster.holdersOf('twice')).toEqual([]);
  });

  it('answers an acquire that does not wait, by an owner that does, with 409 already_waiting (not a 500)', async () => {
    await post('/v1/locks/nowait/acquire', { owner: 'x', ttlMs: 5_000 });
    const waiting = post('/v1/locks/nowait/acquire', { owner: 'o1', ttlMs: 5_000, waitMs: 500 });
    await cluster.waitForRequests((r) => r.route === 'acquire' && r.body['owner'] === 'o1', 1);
    const now = await post('/v1/locks/nowait/acquire', { owner: 'o1', ttlMs: 5_000 });
    expect(now.status).toBe(409);
    expect(now.body['error']).toBe('already_waiting');
    expect(typeof now.body['message']).toBe('string');
    expect((await waiting).status).toBe(409); // its own wait ends: lock_held
  });

  it('answers a waiting requestId retried without waitMs with 400 (not a 500)', async () => {
    await post('/v1/locks/rewait/acquire', { owner: 'x', ttlMs: 5_000 });
    const waiting = post('/v1/locks/rewait/acquire', { owner: 'o1', ttlMs: 5_000, waitMs: 500, requestId: 'rw1' });
    await cluster.waitForRequests((r) => r.route === 'acquire' && r.body['owner'] === 'o1', 1);
    const retried = await post('/v1/locks/rewait/acquire', { owner: 'o1', ttlMs: 5_000, requestId: 'rw1' });
    expect(retried.status).toBe(400);
    expect(retried.body['error']).toBe('bad_request');
    expect(String(retried.body['message'])).toContain('rw1');
    expect((await waiting).status).toBe(409);
  });
});
