/**
 * The lock routes hand the table what the caller asked for: an acquire's
 * lockDelayMs, and a list's limit (100 when none is given, refused below 1).
 * Found unchecked by mutation testing (npm run mutate): the routes run
 * in-process here, over one lease table on a clock the test sets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LockTestCluster } from './lock-test-cluster.js';

let cluster: LockTestCluster | undefined;
let nowMs = 1_000_000;

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${cluster!.node(0).url}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('acquire', () => {
  it('passes lockDelayMs on: after the lease runs out, nobody gets the lock until the delay ends', async () => {
    nowMs = 1_000_000;
    cluster = await LockTestCluster.start(1, () => nowMs);
    expect((await call('POST', '/v1/locks/d/acquire', { owner: 'a', ttlMs: 1_000, lockDelayMs: 60_000 })).status).toBe(200);
    nowMs += 1_000; // a's lease ends: lock-delay until +61 s
    const refused = await call('POST', '/v1/locks/d/acquire', { owner: 'b', ttlMs: 1_000 });
    expect(refused.status).toBe(409);
    expect(refused.body['error']).toBe('lock_held');
    nowMs += 60_000;
    expect((await call('POST', '/v1/locks/d/acquire', { owner: 'b', ttlMs: 1_000 })).status).toBe(200);
  });
});

describe('list', () => {
  it('returns 100 locks when no limit is given, as many as the limit says otherwise, and refuses a limit of 0', async () => {
    cluster = await LockTestCluster.start(1);
    const acquired = await Promise.all(
      Array.from({ length: 101 }, (_, i) => call('POST', `/v1/locks/l-${String(i).padStart(3, '0')}/acquire`, { owner: 'o', ttlMs: 60_000 })),
    );
    expect(acquired.map((r) => r.status)).toEqual(Array(101).fill(200));
    const names = (body: Record<string, unknown>): string[] => (body['locks'] as { name: string }[]).map((l) => l.name);
    const all = await call('GET', '/v1/locks?prefix=l-');
    expect(all.status).toBe(200);
    expect(names(all.body)).toHaveLength(100);
    expect(names(all.body).at(-1)).toBe('l-099');
    expect(names((await call('GET', '/v1/locks?prefix=l-&limit=2')).body)).toEqual(['l-000', 'l-001']);
    expect(names((await call('GET', '/v1/locks?prefix=l-&limit=1')).body)).toEqual(['l-000']);
    const zero = await call('GET', '/v1/locks?prefix=l-&limit=0');
    expect(zero.status).toBe(400);
    expect(zero.body).toMatchObject({ error: 'bad_request', message: 'limit must be at least 1' });
  });
});
