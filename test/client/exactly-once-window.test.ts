/**
 * The exactly-once window through the real routes (issue 11, hole 7): the
 * server remembers a requestId for DEDUPE_TTL_MS and refuses new ids when its
 * table is full rather than forget live ones; the client never retries longer
 * than the server remembers.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_BOUNDS } from '../../src/api/contract.js';
import { BadRequestError, RaftLockClient, UnavailableError } from '../../src/index.js';
import { LockTestCluster } from './lock-test-cluster.js';

let cluster: LockTestCluster;
const DEDUPE_TTL_MS = 60_000;

beforeEach(async () => {
  cluster = await LockTestCluster.start(2, Date.now, null, { dedupeEntriesMax: 2, dedupeTtlMs: DEDUPE_TTL_MS });
});

afterEach(async () => {
  await cluster.close();
});

async function acquire(name: string, requestId: string): Promise<{ status: number; retryAfter: string | null; body: Record<string, unknown> }> {
  const res = await fetch(`${cluster.node(0).url}/v1/locks/${name}/acquire`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ owner: 'o', ttlMs: 30_000, requestId }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
}

describe('the exactly-once window', () => {
  it('refuses a new requestId with 503 dedupe_full and Retry-After when full, applying nothing and forgetting nothing', async () => {
    const first = await acquire('a', 'r1');
    expect(first.status).toBe(200);
    expect((await acquire('b', 'r2')).status).toBe(200);
    const full = await acquire('c', 'r3');
    expect(full.status).toBe(503);
    expect(full.body['error']).toBe('dedupe_full');
    expect(typeof full.body['message']).toBe('string');
    // Until the oldest id expires: within the window, and at least a second.
    expect(Number(full.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(full.retryAfter)).toBeLessThanOrEqual(DEDUPE_TTL_MS / 1_000);
    expect(cluster.holdersOf('c')).toEqual([]);
    // The oldest id is still remembered: its retry gets the first grant, not a second hold.
    const retry = await acquire('a', 'r1');
    expect(retry.status).toBe(200);
    expect([retry.body['token'], retry.body['holdCount']]).toEqual([first.body['token'], 1]);
    expect(cluster.holdersOf('a').map((h) => h.holdCount)).toEqual([1]);
    // The client retries a 503 (nothing was applied) and gives up with UnavailableError.
    const c = new RaftLockClient({ endpoints: cluster.urls, retryBaseMs: 5, maxRetries: 2, preferLeader: false, owner: 'o' });
    const err = await c.acquire('d', { ttlMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).reason).toBe('dedupe_full');
    expect(cluster.holdersOf('d')).toEqual([]);
  });

  it('the client refuses a callTimeoutMs that would retry longer than the server remembers a requestId', () => {
    const endpoints = cluster.urls;
    expect(() => new RaftLockClient({ endpoints, callTimeoutMs: API_BOUNDS.callTimeoutMsMax + 1 })).toThrow(BadRequestError);
    expect(() => new RaftLockClient({ endpoints, callTimeoutMs: API_BOUNDS.callTimeoutMsMax })).not.toThrow();
  });
});
