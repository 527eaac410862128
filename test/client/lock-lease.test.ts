import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockLostError, NotHolderError, RaftLockClient, type LockHandle } from '../../src/index.js';
import { LockTestCluster } from './lock-test-cluster.js';

let cluster: LockTestCluster;
const held: LockHandle[] = [];

beforeEach(async () => {
  cluster = await LockTestCluster.start(3);
});

afterEach(async () => {
  // Stop renewal timers of anything a failed test left behind.
  cluster.clearFaults();
  await Promise.all(held.splice(0).map((l) => l.release().catch(() => false)));
  await cluster.close();
});

/**
 * A client with fast retries and a wide safety margin: the tests check that
 * `lost` is dated from a renewal's start and fires before the server's lease
 * ends; the margin (120 ms of a 300 ms ttl) absorbs a loaded machine's timer lag.
 */
function client(owner = 'worker', marginMs = 120): RaftLockClient {
  return new RaftLockClient({ endpoints: cluster.urls, retryBaseMs: 5, maxRetries: 3, preferLeader: false, requestTimeoutMs: 1_000, owner, safetyMarginMs: () => marginMs });
}

async function acquire(c: RaftLockClient, name: string, ttlMs: number): Promise<LockHandle> {
  const lock = await c.acquire(name, { ttlMs });
  held.push(lock);
  return lock;
}

/** lostAt resolves with Date.now() when `signal` fires; rejects after a generous bound. */
function lostAt(signal: AbortSignal, boundMs = 3_000): Promise<number> {
  if (signal.aborted) return Promise.resolve(Date.now());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lost did not fire within ${boundMs} ms`)), boundMs);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve(Date.now());
      },
      { once: true },
    );
  });
}

const appliedRenews = () => cluster.applied.filter((a) => a.route === 'renew' && !a.deduped);

describe('automatic renewal', () => {
  it('renews every ttl/3 and keeps the lock past its ttl', async () => {
    // Long enough that a loaded machine's timer lag cannot make it lost.
    const ttlMs = 600;
    const lock = await acquire(client(), 'renewed', ttlMs);
    const grantedMs = cluster.applied.find((a) => a.route === 'acquire')?.atMs ?? Infinity;
    // Five renewals a third of the ttl apart span more than one ttl after the grant.
    const renews = await cluster.waitForRequests((r) => r.route === 'renew' && r.name === 'renewed', 5);
    expect((renews.at(-1)?.atMs ?? 0) - grantedMs).toBeGreaterThan(ttlMs);
    expect(renews.every((r) => r.body['token'] === lock.token && r.body['ttlMs'] === ttlMs)).toBe(true);
    expect(new Set(renews.map((r) => r.requestId)).size).toBe(5); // one requestId per renewal call
    expect(lock.lost.aborted).toBe(false);
    expect(cluster.holdersOf('renewed').map((h) => h.token)).toEqual([lock.token]);
    expect(lock.remainingMs).toBeGreaterThan(0);
    // Renewals are ttl/3 apart on average (one may come early after a late one: each is dated from the last start).
    const meanGapMs = ((renews.at(-1)?.atMs ?? 0) - (renews[0]?.atMs ?? 0)) / (renews.length - 1);
    expect(meanGapMs).toBeGreaterThanOrEqual(ttlMs / 3 - 40);
    await lock.release();
    expect(cluster.holdersOf('renewed')).toEqual([]);
  });

  it('release stops renewal', async () => {
    const lock = await acquire(client(), 'stop', 300);
    await cluster.waitForRequests((r) => r.route === 'renew', 1);
    await lock.release();
    const count = cluster.requests.filter((r) => r.route === 'renew').length;
    // A fresh lock's renewals serve as the clock: two of them mean time for two of the old one's passed.
    const other = await acquire(client(), 'clock', 600);
    await cluster.waitForRequests((r) => r.route === 'renew' && r.name === 'clock', 2);
    expect(cluster.requests.filter((r) => r.route === 'renew' && r.name === 'stop')).toHaveLength(count);
    await other.release();
  });
});

describe('lost', () => {
  it('fires before the server-side lease can expire when renewals fail', async () => {
    const ttlMs = 1200; // a 120 ms safety margin: CI's late timers must not eat it
    const lock = await acquire(client(), 'failing', ttlMs);
    await cluster.waitForRequests((r) => r.route === 'renew' && r.name === 'failing', 1);
    cluster.faultAll('renew', { kind: 'status', status: 503, error: 'no_leader' });
    const firedMs = await lostAt(lock.lost);
    const lastGood = appliedRenews().at(-1);
    expect(lastGood).toBeDefined();
    // The server's lease ran from the last renewal it applied; lost must come before it ends.
    expect(firedMs).toBeLessThan((lastGood?.atMs ?? 0) + ttlMs);
    expect(lock.lost.reason).toBeInstanceOf(LockLostError);
    expect(lock.held).toBe(false);
    expect(cluster.holdersOf('failing').map((h) => h.token)).toEqual([lock.token]); // still held on the server at that moment
    // Lost is a safe guess, not a verdict: the server still had it, so release frees it.
    expect(await lock.release()).toBe(true);
  });

  it('fires while a renewal hangs, dated from the start of the last successful renewal', async () => {
    // Long enough that the next renewal (at ttl/3) has surely started, and hangs, well before lost is due, even when
    // CI's timers run late; the property checked is the same at any TTL.
    const ttlMs = 1200;
    const lock = await acquire(client(), 'hanging', ttlMs);
    await cluster.waitForRequests((r) => r.route === 'renew' && r.name === 'hanging', 1);
    cluster.faultAll('renew', { kind: 'hang' });
    const firedMs = await lostAt(lock.lost);
    const lastGood = appliedRenews().at(-1);
    expect(firedMs).toBeLessThan((lastGood?.atMs ?? 0) + ttlMs);
    // A renewal was in flight (hanging) when lost fired: the last good one's request and at least one after it.
    // Requests are dated on arrival, applied renewals on apply (a few ms later on a loaded machine): compare
    // arrivals with the last good renewal's arrival.
    const lastGoodArrival = cluster.requests.find((r) => r.route === 'renew' && r.requestId !== undefined && r.requestId === lastGood?.requestId);
    const hungAfterLastGood = cluster.requests.filter((r) => r.route === 'renew' && r.atMs >= (lastGoodArrival?.atMs ?? Infinity));
    expect(hungAfterLastGood.length).toBeGreaterThanOrEqual(2);
  });

  it("dates the lease from a renewal's start: a slow answer does not stretch it", async () => {
    // A renewal starts at S (every 200 ms); the previous one keeps the lease until S + 300 on the client's
    // books, so an answer 200 ms late is still accepted. Dated from its start, `lost` comes at S + 500; dated
    // from its end it would come at S + 700, after the server's lease (S' + 600, S' ≥ S) has run out.
    const ttlMs = 600;
    const lock = await acquire(client('worker', 100), 'slow-answer', ttlMs);
    await cluster.waitForRequests((r) => r.route === 'renew' && r.name === 'slow-answer', 1);
    cluster.faultAll('renew', { kind: 'applyThenDelayReply', ms: 200 }, 1);
    cluster.faultAll('renew', { kind: 'hang' });
    const firedMs = await lostAt(lock.lost);
    const slow = appliedRenews().at(-1);
    // The slow renewal was accepted: lost came after the deadline the previous renewal alone gave.
    expect(firedMs).toBeGreaterThan((slow?.atMs ?? 0) + 300);
    expect(firedMs).toBeLessThan((slow?.atMs ?? 0) + ttlMs);
  });

  it('fires at once on a definitive not_holder (force release), with the cause', async () => {
    // The first renewal (at ttl/3) meets not_holder long before the lease could lapse on the client's clock, even
    // when timers run late on a loaded machine; with a short TTL the lapse path could fire first (seen under load).
    const lock = await acquire(client(), 'forced', 3_000);
    await client('admin').forceRelease('forced');
    await lostAt(lock.lost);
    expect(lock.lost.reason).toBeInstanceOf(LockLostError);
    expect((lock.lost.reason as LockLostError).cause).toBeInstanceOf(NotHolderError);
    await expect(lock.renew()).rejects.toBeInstanceOf(LockLostError);
    expect(await lock.release()).toBe(false);
  });

  it('release of a lost lock swallows the cluster being unreachable', async () => {
    const lock = await acquire(client(), 'down', 300);
    cluster.faultAll('*', { kind: 'status', status: 503, error: 'no_leader' });
    await lostAt(lock.lost);
    expect(await lock.release()).toBe(false);
  });

  it('a manual renew that gets not_holder throws NotHolderError and fires lost', async () => {
    const lock = await acquire(client(), 'manual', 5_000);
    await client('admin').forceRelease('manual');
    await expect(lock.renew()).rejects.toBeInstanceOf(NotHolderError);
    expect(lock.lost.aborted).toBe(true);
  });

  it('a lock granted after a long wait is confirmed by a renewal before acquire returns', async () => {
    const ttlMs = 600;
    const first = await acquire(client('a'), 'late', 5_000);
    const pending = client('b').acquire('late', { ttlMs, waitMs: 5_000 });
    await cluster.waitForRequests((r) => r.route === 'acquire' && r.body['owner'] === 'b', 1);
    // Wait longer than b's ttl before granting: the grant's attempt started too long ago to date the lease from.
    await new Promise((r) => setTimeout(r, ttlMs + 50));
    await first.release();
    const second = await pending;
    held.push(second);
    expect(second.lost.aborted).toBe(false);
    expect(cluster.requests.filter((r) => r.route === 'renew' && r.body['owner'] === 'b').length).toBeGreaterThanOrEqual(1);
    expect(second.remainingMs).toBeGreaterThan(ttlMs / 2);
  });
});

describe('withLock', () => {
  it('releases when the callback throws, and the exception propagates', async () => {
    const c = client();
    let seen: LockHandle | undefined;
    await expect(
      c.withLock(
        'guarded',
        async (lock) => {
          seen = lock;
          expect(cluster.holdersOf('guarded').map((h) => h.token)).toEqual([lock.token]);
          throw new Error('work failed');
        },
        { ttlMs: 5_000 },
      ),
    ).rejects.toThrow('work failed');
    expect(seen?.held).toBe(false);
    expect(cluster.holdersOf('guarded')).toEqual([]);
    expect(cluster.requests.filter((r) => r.route === 'release' && r.name === 'guarded')).toHaveLength(1);
  });

  it('returns the callback result, releases, and hands over a lost signal', async () => {
    const result = await client().withLock(
      'guarded2',
      async (lock) => {
        expect(lock.lost).toBeInstanceOf(AbortSignal);
        return lock.token * 10;
      },
      { ttlMs: 5_000 },
    );
    expect(result).toBe(10);
    expect(cluster.holdersOf('guarded2')).toEqual([]);
  });

  it('lets the callback abort its work when the lock is lost', async () => {
    const c = client();
    const outcome = await c.withLock(
      'abortable',
      async (lock) => {
        cluster.faultAll('renew', { kind: 'status', status: 503, error: 'no_leader' });
        await lostAt(lock.lost);
        return 'stopped';
      },
      { ttlMs: 300 },
    );
    expect(outcome).toBe('stopped');
  });
});
