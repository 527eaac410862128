import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BadRequestError,
  LimitMismatchError,
  LockHeldError,
  NoLeaderError,
  OutcomeUnknownError,
  RaftLockClient,
  RaftLockClientError,
  TimeoutError,
  UnavailableError,
} from '../../src/index.js';
import { LockTestCluster } from './lock-test-cluster.js';

let cluster: LockTestCluster;

beforeEach(async () => {
  cluster = await LockTestCluster.start(3);
});

afterEach(async () => {
  await cluster.close();
});

/** A client with fast retries; leader probing off unless a test wants it (it adds /v1/status requests). */
function client(opts: { endpoints?: string[]; maxRetries?: number; preferLeader?: boolean; owner?: string; requestTimeoutMs?: number; callTimeoutMs?: number } = {}): RaftLockClient {
  return new RaftLockClient({
    endpoints: opts.endpoints ?? cluster.urls,
    retryBaseMs: 5,
    maxRetries: opts.maxRetries ?? 6,
    preferLeader: opts.preferLeader ?? false,
    requestTimeoutMs: opts.requestTimeoutMs ?? 2_000,
    ...(opts.callTimeoutMs !== undefined ? { callTimeoutMs: opts.callTimeoutMs } : {}),
    ...(opts.owner !== undefined ? { owner: opts.owner } : {}),
  });
}

const acquiresOf = (name: string) => cluster.requests.filter((r) => r.route === 'acquire' && r.name === name);
const grantsOf = (requestId: string) => cluster.applied.filter((a) => a.route === 'acquire' && a.requestId === requestId && !a.deduped);

describe('RaftLockClient basics', () => {
  it('acquires with a fencing token, shows the holder, and releases', async () => {
    const c = client({ owner: 'worker-1' });
    const lock = await c.acquire('jobs/a', { ttlMs: 5_000 });
    expect(lock.token).toBe(1);
    expect(lock.owner).toBe('worker-1');
    expect(lock.held).toBe(true);
    const info = await c.get('jobs/a');
    expect(info.holders.map((h) => [h.owner, h.token])).toEqual([['worker-1', 1]]);
    expect(await c.check('jobs/a', 1)).toEqual({ valid: true, currentToken: 1 });
    expect(await lock.release()).toBe(true);
    expect(await lock.release()).toBe(true); // same answer, no second call
    expect(cluster.requests.filter((r) => r.route === 'release')).toHaveLength(1);
    expect(lock.held).toBe(false);
    expect(cluster.holdersOf('jobs/a')).toEqual([]);
    // A free lock has no current token (the server answers null, whatever the client's CheckResult type says).
    expect(await c.check('jobs/a', 1)).toEqual({ valid: false, currentToken: null });
    const again = await c.acquire('jobs/a', { ttlMs: 5_000 });
    // A grant's token is max(its log index, lastToken + 1): acquire, release and this acquire are entries 1, 2 and 3.
    expect(again.token).toBe(3);
    await again.release();
  });

  it('holds are reentrant per owner; a task with its own owner is excluded', async () => {
    const c = client({ owner: 'proc' });
    const first = await c.acquire('reentrant', { ttlMs: 5_000 });
    const second = await c.acquire('reentrant', { ttlMs: 5_000 });
    expect(second.token).toBe(first.token);
    expect(cluster.holdersOf('reentrant').map((h) => h.holdCount)).toEqual([2]);
    await expect(c.acquire('reentrant', { ttlMs: 5_000, owner: 'proc/task-2' })).rejects.toBeInstanceOf(LockHeldError);
    await first.release();
    expect(cluster.holdersOf('reentrant').map((h) => h.holdCount)).toEqual([1]);
    await second.release();
    expect(cluster.holdersOf('reentrant')).toEqual([]);
    const other = await c.acquire('reentrant', { ttlMs: 5_000, owner: 'proc/task-2' });
    expect(other.owner).toBe('proc/task-2');
    await other.release();
    expect(cluster.requests.filter((r) => r.route === 'release').map((r) => r.body['owner'])).toEqual(['proc', 'proc', 'proc/task-2']);
  });

  it('puts the name into the path encoded, and rejects bad names before sending', async () => {
    const c = client();
    const lock = await c.acquire('a/b:c.d-e_f', { ttlMs: 5_000 });
    expect(acquiresOf('a/b:c.d-e_f')).toHaveLength(1);
    await lock.release();
    await expect(c.acquire('bad name!', { ttlMs: 5_000 })).rejects.toBeInstanceOf(BadRequestError);
    await expect(c.acquire('x', { ttlMs: 50 })).rejects.toBeInstanceOf(BadRequestError);
    expect(acquiresOf('bad name!')).toHaveLength(0);
    // "." and ".." would be path segments in the URL: the API's contract rejects them.
    const sentBefore = cluster.requests.length;
    await expect(c.acquire('.', { ttlMs: 5_000 })).rejects.toBeInstanceOf(BadRequestError);
    await expect(c.acquire('..', { ttlMs: 5_000 })).rejects.toBeInstanceOf(BadRequestError);
    await expect(c.get('..')).rejects.toBeInstanceOf(BadRequestError);
    expect(cluster.requests.length).toBe(sentBefore);
  });

  it('lists locks by prefix and force-releases', async () => {
    const c = client();
    const a = await c.acquire('p/1', { ttlMs: 5_000 });
    const b = await c.acquire('p/2', { ttlMs: 5_000 });
    const other = await c.acquire('q/1', { ttlMs: 5_000 });
    expect((await c.list({ prefix: 'p/' })).map((l) => l.name)).toEqual(['p/1', 'p/2']);
    expect((await c.list({ prefix: 'p/', limit: 1 })).map((l) => l.name)).toEqual(['p/1']);
    expect(await c.forceRelease('p/1')).toEqual({ released: true, holdersRemoved: 1, waitersRemoved: 0 });
    expect(cluster.holdersOf('p/1')).toEqual([]);
    const forced = cluster.requests.find((r) => r.route === 'forceRelease');
    expect(forced?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await a.release()).toBe(false); // not held any more: not an error
    await b.release();
    await other.release();
  });
});

describe('typed errors', () => {
  it('409 lock_held is a LockHeldError with the holders', async () => {
    const holder = client({ owner: 'holder' });
    const lock = await holder.acquire('busy', { ttlMs: 5_000 });
    const err = await client({ owner: 'other' }).acquire('busy', { ttlMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockHeldError);
    expect((err as LockHeldError).code).toBe('lock_held');
    expect((err as LockHeldError).holders.map((h) => h.owner)).toEqual(['holder']);
    await lock.release();
  });

  it('409 limit_mismatch is a LimitMismatchError with the limit in force', async () => {
    const lock = await client({ owner: 'a' }).acquire('sem', { ttlMs: 5_000, mode: 'shared', limit: 2 });
    const err = await client({ owner: 'b' }).acquire('sem', { ttlMs: 5_000, mode: 'shared', limit: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitMismatchError);
    expect((err as LimitMismatchError).code).toBe('limit_mismatch');
    expect((err as LimitMismatchError).limit).toBe(2);
    await lock.release();
  });

  it('400 bad_request is a BadRequestError and is not retried', async () => {
    const err = await client().acquire('x', { ttlMs: 5_000, limit: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).code).toBe('bad_request');
    expect(acquiresOf('x')).toHaveLength(1);
  });

  it('an unknown code keeps its code in a RaftLockClientError', async () => {
    cluster.fault(0, 'acquire', { kind: 'status', status: 429, error: 'too_many_waiters' }, 1);
    const err = await client().acquire('x', { ttlMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RaftLockClientError);
    expect((err as RaftLockClientError).code).toBe('too_many_waiters');
  });
});

describe('retries', () => {
  it('retries a 504 with the same requestId and the write applies once', async () => {
    cluster.fault(0, 'acquire', { kind: 'applyThen504' }, 1);
    const lock = await client().acquire('once', { ttlMs: 5_000 });
    const attempts = acquiresOf('once');
    expect(attempts).toHaveLength(2);
    const [first, second] = attempts;
    expect(first?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(second?.requestId).toBe(first?.requestId);
    expect(grantsOf(first?.requestId ?? '')).toHaveLength(1);
    expect(lock.token).toBe(1);
    expect(cluster.locks.get('once')?.lastToken).toBe(1);
    expect(cluster.holdersOf('once')).toHaveLength(1);
    await lock.release();
  });

  it('retries a connection dropped after the write applied, without acquiring twice', async () => {
    cluster.fault(0, 'acquire', { kind: 'applyThenDrop' }, 1);
    cluster.fault(1, 'acquire', { kind: 'applyThenDrop' }, 1);
    const lock = await client().acquire('dropped', { ttlMs: 5_000 });
    const attempts = acquiresOf('dropped');
    expect(attempts.map((a) => a.node)).toEqual([0, 1, 2]); // rotated on each broken connection
    expect(new Set(attempts.map((a) => a.requestId)).size).toBe(1);
    expect(grantsOf(attempts[0]?.requestId ?? '')).toHaveLength(1);
    expect(cluster.locks.get('dropped')?.lastToken).toBe(1);
    expect(lock.token).toBe(1);
    await lock.release();
  });

  it('fails over past a stopped node and a 503 node, and sticks to the one that answered', async () => {
    await cluster.stopNode(0);
    cluster.fault(1, '*', { kind: 'status', status: 503, error: 'no_leader' });
    const c = client();
    const lock = await c.acquire('failover', { ttlMs: 5_000 });
    expect(acquiresOf('failover').map((a) => a.node)).toEqual([1, 2]);
    expect(c.currentEndpoint).toBe(cluster.node(2).url);
    await lock.release();
    expect(cluster.requests.filter((r) => r.route === 'release').map((r) => r.node)).toEqual([2]);
  });

  it('gives OutcomeUnknownError when every retry ends with the outcome unknown', async () => {
    cluster.faultAll('acquire', { kind: 'applyThen504' });
    const err = await client({ maxRetries: 3 }).acquire('unknown', { ttlMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutcomeUnknownError);
    const attempts = acquiresOf('unknown');
    expect(attempts).toHaveLength(4);
    expect(new Set(attempts.map((a) => a.requestId)).size).toBe(1);
    expect(cluster.applied.filter((a) => a.route === 'acquire' && !a.deduped)).toHaveLength(1);
  });

  it('gives NoLeaderError when every endpoint answers 503 no_leader, having applied nothing', async () => {
    cluster.faultAll('*', { kind: 'status', status: 503, error: 'no_leader' });
    const err = await client({ maxRetries: 4 }).acquire('nl', { ttlMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoLeaderError);
    expect(acquiresOf('nl')).toHaveLength(5);
    expect(cluster.applied).toHaveLength(0);
  });

  it('gives NoLeaderError when the quorum is lost: one member says there is no leader, the others are down', async () => {
    const urls = cluster.urls;
    await cluster.stopNode(1);
    await cluster.stopNode(2);
    cluster.fault(0, '*', { kind: 'status', status: 503, error: 'no_leader' });
    const err = await client({ endpoints: urls, maxRetries: 5 }).get('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoLeaderError);
  });

  it('gives UnavailableError (unreachable) when no endpoint accepts connections', async () => {
    const urls = cluster.urls;
    for (let i = 0; i < 3; i++) await cluster.stopNode(i);
    const err = await client({ endpoints: urls, maxRetries: 2 }).get('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).reason).toBe('unreachable');
  });

  it('a write whose attempts all time out is OutcomeUnknown; a read is a TimeoutError', async () => {
    cluster.faultAll('*', { kind: 'hang' });
    const c = client({ requestTimeoutMs: 100, maxRetries: 1 });
    await expect(c.acquire('slow', { ttlMs: 5_000 })).rejects.toBeInstanceOf(OutcomeUnknownError);
    await expect(c.get('slow')).rejects.toBeInstanceOf(TimeoutError);
  });

  it('stops at the call deadline even with retries left', async () => {
    cluster.faultAll('*', { kind: 'hang' });
    const c = client({ requestTimeoutMs: 5_000, callTimeoutMs: 200, maxRetries: 100 });
    const startedMs = Date.now();
    await expect(c.get('x')).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - startedMs).toBeLessThan(2_000);
    // One request: an attempt cut short by the deadline must not be followed by one with a fraction of a ms left.
    expect(cluster.requests.filter((r) => r.route === 'get' && r.name === 'x')).toHaveLength(1);
  });

  it('an abort rejects with the signal reason, also during a long-poll', async () => {
    const holder = await client({ owner: 'h' }).acquire('wait', { ttlMs: 5_000 });
    const controller = new AbortController();
    const pending = client({ owner: 'w' }).acquire('wait', { ttlMs: 5_000, waitMs: 10_000, signal: controller.signal });
    await cluster.waitForRequests((r) => r.route === 'acquire' && r.body['owner'] === 'w', 1);
    controller.abort(new Error('caller gave up'));
    await expect(pending).rejects.toThrow('caller gave up');
    const aborted = new AbortController();
    aborted.abort(new Error('already'));
    await expect(client().get('wait', { signal: aborted.signal })).rejects.toThrow('already');
    await holder.release();
  });
});

describe('waiting and leader discovery', () => {
  it('a waiter is granted when the holder releases, with a larger token', async () => {
    const first = await client({ owner: 'a' }).acquire('queue', { ttlMs: 5_000 });
    const pending = client({ owner: 'b' }).acquire('queue', { ttlMs: 5_000, waitMs: 5_000 });
    await cluster.waitForRequests((r) => r.route === 'acquire' && r.body['owner'] === 'b', 1);
    await first.release();
    const second = await pending;
    expect(second.token).toBeGreaterThan(first.token);
    expect(cluster.holdersOf('queue').map((h) => h.owner)).toEqual(['b']);
    await second.release();
  });

  it('a long-poll that times out is a LockHeldError', async () => {
    const first = await client({ owner: 'a' }).acquire('queue2', { ttlMs: 5_000 });
    const err = await client({ owner: 'b' }).acquire('queue2', { ttlMs: 5_000, waitMs: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockHeldError);
    expect((err as LockHeldError).reason).toBe('timeout');
    await first.release();
  });

  it('discoverLeader finds the endpoint whose role is leader; preferLeader does it by itself', async () => {
    cluster.node(0).role = 'follower';
    cluster.node(2).role = 'leader';
    const c = client();
    expect(await c.discoverLeader()).toBe(cluster.node(2).url);
    expect(c.currentEndpoint).toBe(cluster.node(2).url);

    const auto = client({ preferLeader: true });
    await auto.get('x'); // starts the probe in the background
    await cluster.waitForRequests((r) => r.route === 'status', 3 + 3);
    await expect.poll(() => auto.currentEndpoint, { timeout: 2_000, interval: 10 }).toBe(cluster.node(2).url);
  });

  it('status and statusOfAll read each endpoint once, marking unreachable ones', async () => {
    await cluster.stopNode(1);
    const c = client();
    expect((await c.status({ endpoint: cluster.node(0).url })).role).toBe('leader');
    const all = await c.statusOfAll();
    expect(all.map((s) => ('status' in s ? s.status.id : 'error'))).toEqual(['n1', 'error', 'n3']);
  });
});
