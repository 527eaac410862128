import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { API_BOUNDS } from '../../src/api/contract.js';
import { RaftLockClient, SessionLostError, SessionNotFoundError, type LockLostError, type Session } from '../../src/index.js';
import { LockTestCluster } from './lock-test-cluster.js';

let cluster: LockTestCluster;
const open: Session[] = [];
/** The shortest session TTL the server accepts; the tests' timings are a fraction of it. */
const SESSION_TTL_MS = API_BOUNDS.sessionTtlMsMin;

beforeEach(async () => {
  cluster = await LockTestCluster.start(2);
});

afterEach(async () => {
  cluster.clearFaults();
  await Promise.all(open.splice(0).map((s) => s.close().catch(() => 0)));
  await cluster.close();
});

/** A client with fast retries and a safety margin wide enough (120 ms) to absorb a loaded machine's timer lag. */
function client(owner = 'svc'): RaftLockClient {
  return new RaftLockClient({ endpoints: cluster.urls, retryBaseMs: 5, maxRetries: 3, preferLeader: false, requestTimeoutMs: 1_000, owner, safetyMarginMs: () => 120 });
}

async function session(c: RaftLockClient, ttlMs: number): Promise<Session> {
  const s = await c.session({ ttlMs });
  open.push(s);
  return s;
}

function firedWithin(signal: AbortSignal, boundMs = 3_000): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`signal did not fire within ${boundMs} ms`)), boundMs);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}

describe('Session', () => {
  it('keeps itself alive past its ttl and holds locks without per-lock renewal', async () => {
    // Long enough that a loaded machine's timer lag cannot make it lost.
    const ttlMs = SESSION_TTL_MS;
    const startedMs = Date.now();
    const s = await session(client(), ttlMs);
    expect(cluster.requests.find((r) => r.route === 'createSession')?.body).toMatchObject({ ttlMs, owner: 'svc' });
    const lock = await s.acquire('by-session');
    expect(lock.sessionId).toBe(s.id);
    const acquire = cluster.requests.find((r) => r.route === 'acquire');
    expect(acquire?.body['sessionId']).toBe(s.id);
    expect(acquire?.body['ttlMs']).toBeUndefined();
    // Four keepalives, a third of the ttl apart, span more than one ttl.
    await cluster.waitForRequests((r) => r.route === 'keepalive', 4);
    expect(Date.now() - startedMs).toBeGreaterThan(ttlMs);
    expect(s.lost.aborted).toBe(false);
    expect(cluster.sessions.has(s.id)).toBe(true);
    expect(cluster.holdersOf('by-session').map((h) => h.sessionId)).toEqual([s.id]);
    expect(cluster.requests.filter((r) => r.route === 'renew')).toHaveLength(0);
    // A session lock lasts as long as its session certainly does.
    expect(lock.remainingMs).toBeGreaterThan(0);
    expect(lock.remainingMs).toBeLessThanOrEqual(ttlMs);
    expect(Math.abs(lock.remainingMs - s.remainingMs)).toBeLessThan(50);
  });

  it('close deletes the session, releasing its locks, and stops keepalives', async () => {
    const s = await session(client(), SESSION_TTL_MS);
    const lock = await s.acquire('closing');
    expect(await s.close()).toBe(1);
    expect(await s.close()).toBe(1); // same answer, one DELETE
    expect(cluster.requests.filter((r) => r.route === 'deleteSession')).toHaveLength(1);
    expect(cluster.sessions.has(s.id)).toBe(false);
    expect(cluster.holdersOf('closing')).toEqual([]);
    expect(lock.held).toBe(false);
    expect(s.lost.aborted).toBe(false); // closing on purpose is not losing
    const keepalivesOf = (id: string) => cluster.requests.filter((r) => r.route === 'keepalive' && r.sessionId === id).length;
    const before = keepalivesOf(s.id);
    // Another session's keepalives serve as the clock: two of them span two of the closed one's periods.
    const other = await session(client('other'), SESSION_TTL_MS);
    await cluster.waitForRequests((r) => r.route === 'keepalive' && r.sessionId === other.id, 2);
    expect(keepalivesOf(s.id)).toBe(before);
  });

  it('a lock released before close is not counted again', async () => {
    const s = await session(client(), 1_000);
    const lock = await s.withLock('scoped', async (l) => {
      expect(cluster.holdersOf('scoped')).toHaveLength(1);
      return l;
    });
    expect(lock.held).toBe(false);
    expect(cluster.holdersOf('scoped')).toEqual([]);
    expect(await s.close()).toBe(0);
  });

  it('lost fires when a keepalive answers session_not_found, and its locks are lost with it', async () => {
    const s = await session(client(), SESSION_TTL_MS);
    const lock = await s.acquire('doomed');
    cluster.sessions.delete(s.id); // the server forgot the session (it expired there)
    await firedWithin(s.lost);
    expect(s.lost.reason).toBeInstanceOf(SessionLostError);
    expect((s.lost.reason as SessionLostError).cause).toBeInstanceOf(SessionNotFoundError);
    expect(lock.lost.aborted).toBe(true);
    await expect(s.keepalive()).rejects.toBeInstanceOf(SessionLostError);
    await expect(s.acquire('after')).rejects.toBeInstanceOf(SessionLostError);
    expect(await s.close()).toBe(0); // closing a lost session is not an error
  });

  it('lost fires before the session can expire when keepalives fail; its locks count down with it', async () => {
    const ttlMs = SESSION_TTL_MS;
    const s = await session(client(), ttlMs);
    const lock = await s.acquire('counting-down');
    await cluster.waitForRequests((r) => r.route === 'keepalive', 1);
    cluster.faultAll('keepalive', { kind: 'status', status: 503, error: 'no_leader' });
    // While keepalives fail, what the lock has left only shrinks (it once stayed Infinity until lost).
    const seen: number[] = [];
    while (!s.lost.aborted && seen.length < 200) {
      seen.push(lock.remainingMs);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen.length).toBeGreaterThan(2);
    expect(seen.every((ms) => Number.isFinite(ms) && ms <= ttlMs)).toBe(true);
    expect(seen.at(-1)!).toBeLessThan(seen[0]!);
    await firedWithin(s.lost);
    expect(lock.remainingMs).toBe(0);
    expectTypeOf(lock.lost.reason).toEqualTypeOf<LockLostError | SessionLostError | undefined>();
    expectTypeOf(s.lost.reason).toEqualTypeOf<SessionLostError | undefined>();
    expect(lock.lost.reason).toBeInstanceOf(SessionLostError);
    const firedMs = Date.now();
    const lastGood = cluster.applied.filter((a) => a.route === 'keepalive').at(-1);
    expect(firedMs).toBeLessThan((lastGood?.atMs ?? 0) + ttlMs);
    expect(cluster.sessions.has(s.id)).toBe(true); // the server had not expired it yet
  });

  it('a create retried after a lost answer is dated by the deadline its first attempt set (issue 11, hole 3)', async () => {
    const ttlMs = 3_000;
    // Keepalives fail from the start: `lost` must fire on the create's own answer.
    cluster.faultAll('keepalive', { kind: 'status', status: 503, error: 'no_leader' });
    // The first attempt creates the session, but its answer comes after the 1 s attempt timeout: the retry
    // gets the stored result, whose deadline is a whole attempt timeout old.
    cluster.fault(0, 'createSession', { kind: 'applyThenDelayReply', ms: 1_500 }, 1);
    const s = await session(client(), ttlMs);
    const creates = cluster.applied.filter((a) => a.route === 'createSession');
    expect(creates.map((a) => a.deduped)).toEqual([false, true]);
    const serverDeadlineMs = cluster.locks.session(s.id)?.expiresAtMs ?? 0;
    expect(serverDeadlineMs).toBe((creates[0]?.atMs ?? 0) + ttlMs);
    await firedWithin(s.lost, 2 * ttlMs);
    // Dated from the retry's start plus ttlMs, it would fire about an attempt timeout after the server's expiry.
    expect(Date.now()).toBeLessThan(serverDeadlineMs);
  });

  it('create and keepalive answer what is left of the session (expiresInMs)', async () => {
    const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
      const res = await fetch(`${cluster.node(0).url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };
    const created = await post('/v1/sessions', { ttlMs: 5_000, requestId: 'create-1' });
    expect(created).toMatchObject({ ttlMs: 5_000 });
    expect(created['expiresInMs']).toBeGreaterThan(4_000);
    expect(created['expiresInMs']).toBeLessThanOrEqual(5_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const retried = await post('/v1/sessions', { ttlMs: 5_000, requestId: 'create-1' });
    expect(retried['sessionId']).toBe(created['sessionId']);
    expect(retried['expiresInMs']).toBeLessThanOrEqual(5_000 - 300);
    const kept = await post(`/v1/sessions/${String(created['sessionId'])}/keepalive`, {});
    expect(kept).toMatchObject({ ttlMs: 5_000 });
    expect(kept['expiresInMs']).toBeGreaterThan(4_000);
    expect(kept['expiresInMs']).toBeLessThanOrEqual(5_000);
  });

  it('a session keepalive on a missing session is a SessionNotFoundError', async () => {
    const s = await session(client(), 5_000);
    cluster.sessions.delete(s.id);
    await expect(s.keepalive()).rejects.toBeInstanceOf(SessionNotFoundError);
    expect(s.lost.aborted).toBe(true);
  });
});
