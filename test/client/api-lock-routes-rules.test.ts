/**
 * The rules of the `/v1/locks` routes (src/server/lock-routes.ts), each as the
 * HTTP answer a caller gets: which acquire bodies are refused with 400 and
 * why, what each route hands the table (mode, limit, ttlMs, requestIds, the
 * caller's principal scope) and how each outcome is answered (granted,
 * lock_held, not_holder, a waiting requestId retried without its wait, a
 * force-release that ends waits, the internal cancel-wait). Found unchecked
 * by mutation testing (npm run mutate -- src/server/lock-routes.ts): the
 * real route plugins run in-process over one lease table on a clock the test
 * sets (lock-test-cluster.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TokenStore, hashToken } from '../../src/server/auth-tokens.js';
import { LockTestCluster } from './lock-test-cluster.js';

/** Bearer tokens of the principals of the tests that run with authentication on. */
const TOKENS = { app: 'app-token-0123456789abcdef', other: 'other-token-0123456789abcdef', ops: 'ops-token-0123456789abcdef' } as const;

let cluster: LockTestCluster | undefined;
let nowMs = 1_000_000;

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

/** start opens one node over a table whose clock stands at `nowMs` until a test moves it. */
async function start(auth = false): Promise<LockTestCluster> {
  nowMs = 1_000_000;
  const tokens = auth
    ? TokenStore.parse(
        JSON.stringify({
          tokens: {
            [hashToken(TOKENS.app)]: { principal: 'app', roles: ['reader', 'locker'] },
            [hashToken(TOKENS.other)]: { principal: 'other', roles: ['reader', 'locker'] },
            [hashToken(TOKENS.ops)]: { principal: 'ops', roles: ['reader', 'locker', 'admin'] },
          },
        }),
        'test',
      )
    : null;
  cluster = await LockTestCluster.start(1, () => nowMs, tokens);
  return cluster;
}

type Answer = { status: number; body: Record<string, unknown> };

async function call(method: string, path: string, body?: unknown, token?: string): Promise<Answer> {
  const headers: Record<string, string> = {
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  };
  const res = await fetch(`${cluster!.node(0).url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** waitsFor resolves once the table has `count` waiters queued for lock `name` (bounded: fails after ~5 s). */
async function waitsFor(name: string, count: number): Promise<void> {
  for (let i = 0; i < 200 && (cluster!.locks.get(name)?.waiters ?? 0) !== count; i++) await new Promise((r) => setTimeout(r, 25));
  expect(cluster!.locks.get(name)?.waiters ?? 0).toBe(count);
}

const appliedAcquires = (): (string | undefined)[] => cluster!.applied.filter((a) => a.route === 'acquire').map((a) => a.requestId);

describe('an acquire body', () => {
  it('must give exactly one of ttlMs and sessionId: both or neither is 400 bad_request, and nothing is applied', async () => {
    await start();
    const session = await call('POST', '/v1/sessions', { ttlMs: 10_000 });
    const sessionId = String(session.body['sessionId']);
    const refusal = { status: 400, body: { error: 'bad_request', message: 'give exactly one of ttlMs and sessionId' } };
    expect(await call('POST', '/v1/locks/one/acquire', { owner: 'o' })).toEqual(refusal);
    expect(await call('POST', '/v1/locks/one/acquire', { owner: 'o', ttlMs: 1_000, sessionId })).toEqual(refusal);
    expect(appliedAcquires()).toEqual([]);
    // Either alone is an acquire, and the table is told which one it is.
    expect(await call('POST', '/v1/locks/one/acquire', { owner: 'o', ttlMs: 1_000 })).toMatchObject({ status: 200, body: { name: 'one', owner: 'o', expiresInMs: 1_000 } });
    const bySession = await call('POST', '/v1/locks/two/acquire', { owner: 'o', sessionId });
    expect(bySession).toMatchObject({ status: 200, body: { name: 'two', owner: 'o', sessionId } });
    expect(cluster!.holdersOf('two')).toEqual([expect.objectContaining({ owner: 'o', sessionId })]);
  });

  it('takes mode exclusive when none is given: a shared acquire by another owner is then lock_held', async () => {
    await start();
    expect((await call('POST', '/v1/locks/m/acquire', { owner: 'a', ttlMs: 5_000 })).body).toMatchObject({ mode: 'exclusive' });
    const shared = await call('POST', '/v1/locks/m/acquire', { owner: 'b', ttlMs: 5_000, mode: 'shared' });
    expect(shared.status).toBe(409);
    expect(shared.body).toMatchObject({ error: 'lock_held', message: 'lock m is held', holders: [{ owner: 'a', mode: 'exclusive' }] });
  });

  it('passes a semaphore limit on: limit 2 admits two shared holders and refuses a third', async () => {
    await start();
    for (const owner of ['a', 'b']) {
      expect((await call('POST', '/v1/locks/sem/acquire', { owner, ttlMs: 5_000, mode: 'shared', limit: 2 })).status).toBe(200);
    }
    const third = await call('POST', '/v1/locks/sem/acquire', { owner: 'c', ttlMs: 5_000, mode: 'shared', limit: 2 });
    expect(third.status).toBe(409);
    expect(third.body['error']).toBe('lock_held');
    expect((await call('GET', '/v1/locks/sem')).body).toMatchObject({ limit: 2, waiters: 0 });
  });
});

describe('requestIds of an acquire', () => {
  it('an acquire that does not wait carries only the client’s own requestId, and a retry of it is answered from memory', async () => {
    await start();
    const first = await call('POST', '/v1/locks/r1/acquire', { owner: 'o', ttlMs: 5_000 });
    expect(first.status).toBe(200);
    const once = await call('POST', '/v1/locks/r2/acquire', { owner: 'o', ttlMs: 5_000, requestId: 'req-1' });
    expect(once.status).toBe(200);
    expect(await call('POST', '/v1/locks/r2/acquire', { owner: 'o', ttlMs: 5_000, requestId: 'req-1' })).toEqual(once);
    expect(appliedAcquires()).toEqual([undefined, 'req-1', 'req-1']);
    // The retry did not re-enter the hold: one hold, as the first answer said.
    expect(cluster!.holdersOf('r2').map((h) => h.holdCount)).toEqual([1]);
  });

  it('a queued acquire without a requestId gets a generated one (its waiter id)', async () => {
    await start();
    await call('POST', '/v1/locks/q/acquire', { owner: 'a', ttlMs: 5_000 });
    const waiting = call('POST', '/v1/locks/q/acquire', { owner: 'b', ttlMs: 5_000, waitMs: 5_000 });
    await waitsFor('q', 1);
    const [, generated] = appliedAcquires();
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    await call('POST', '/v1/locks/q/release', { owner: 'a', token: cluster!.holdersOf('q')[0]!.token });
    expect(await waiting).toMatchObject({ status: 200, body: { name: 'q', owner: 'b' } });
  });

  it('a waiting acquire’s requestId retried without its waitMs is the caller’s mistake: 400 naming the requestId and the lock', async () => {
    await start();
    await call('POST', '/v1/locks/rw/acquire', { owner: 'a', ttlMs: 5_000 });
    const waiting = call('POST', '/v1/locks/rw/acquire', { owner: 'b', ttlMs: 5_000, waitMs: 5_000, requestId: 'w-1' });
    await waitsFor('rw', 1);
    expect(await call('POST', '/v1/locks/rw/acquire', { owner: 'b', ttlMs: 5_000, requestId: 'w-1' })).toEqual({
      status: 400,
      body: { error: 'bad_request', message: 'requestId w-1 names a waiting acquire of rw; retry it with its waitMs' },
    });
    await call('POST', '/v1/locks/rw/release', { owner: 'a', token: cluster!.holdersOf('rw')[0]!.token });
    expect((await waiting).status).toBe(200);
  });
});

describe('a requestId already used by a command of another kind', () => {
  // The table answers a known requestId with its first result (exactly-once, Raft thesis §6.3), so an acquire that
  // reuses a release's id gets a release's result: the caller's mistake, answered 400 (it was a 500 internal, and a
  // waiting acquire waited out its whole waitMs for a grant that could never come).
  it('refuses a release or renew with 400 bad_request, never answering as if it had released or renewed', async () => {
    await start();
    const token = Number((await call('POST', '/v1/locks/n/acquire', { owner: 'o', ttlMs: 5_000, requestId: 'acq-1' })).body['token']);
    expect((await call('POST', '/v1/locks/n/renew', { owner: 'o', token, ttlMs: 9_000, requestId: 'ren-1' })).body).toEqual({ expiresInMs: 9_000 });
    const notRelease = (id: string) => ({
      status: 400,
      body: { error: 'bad_request', message: `requestId ${id} names an earlier command that is not a release; nothing was done: give each command its own requestId` },
    });
    expect(await call('POST', '/v1/locks/n/release', { owner: 'o', token, requestId: 'ren-1' })).toEqual(notRelease('ren-1'));
    // An acquire's grant also carries a holdCount: still not a release's answer.
    expect(await call('POST', '/v1/locks/n/release', { owner: 'o', token, requestId: 'acq-1' })).toEqual(notRelease('acq-1'));
    expect(cluster!.holdersOf('n')).toHaveLength(1);
    expect((await call('POST', '/v1/locks/n/release', { owner: 'o', token, requestId: 'rel-1' })).body).toEqual({ released: true, holdCount: 0 });
    expect(await call('POST', '/v1/locks/n/renew', { owner: 'o', token, requestId: 'rel-1' })).toEqual({
      status: 400,
      body: { error: 'bad_request', message: 'requestId rel-1 names an earlier command that is not a renew; nothing was done: give each command its own requestId' },
    });
    expect(await call('POST', '/v1/locks/n/renew', { owner: 'o', token, requestId: 'acq-1' })).toMatchObject({ status: 400 });
  });

  it('refuses an acquire, waiting or not, with 400 bad_request at once, and takes no hold', async () => {
    await start();
    const token = Number((await call('POST', '/v1/locks/u/acquire', { owner: 'o', ttlMs: 5_000 })).body['token']);
    expect(await call('POST', '/v1/locks/u/release', { owner: 'o', token, requestId: 'used-1' })).toEqual({ status: 200, body: { released: true, holdCount: 0 } });
    expect(await call('POST', '/v1/locks/u/acquire', { owner: 'o', ttlMs: 5_000, requestId: 'used-1' })).toEqual({
      status: 400,
      body: { error: 'bad_request', message: 'requestId used-1 names an earlier command that is not an acquire; nothing was done: give each command its own requestId' },
    });
    expect(await call('POST', '/v1/locks/u/acquire', { owner: 'o', ttlMs: 5_000, waitMs: 60_000, requestId: 'used-1' })).toEqual({
      status: 400,
      body: { error: 'bad_request', message: 'this requestId names an earlier command that is not an acquire; nothing was done: give each command its own requestId' },
    });
    expect(cluster!.holdersOf('u')).toEqual([]);
  });
});

describe('release and renew', () => {
  it('a release answers how many holds the owner has left; a wrong token is 409 not_holder', async () => {
    await start();
    const first = await call('POST', '/v1/locks/h/acquire', { owner: 'o', ttlMs: 5_000 });
    const again = await call('POST', '/v1/locks/h/acquire', { owner: 'o', ttlMs: 5_000 });
    expect(again.body).toMatchObject({ token: first.body['token'], holdCount: 2 });
    const token = Number(first.body['token']);
    const wrong = await call('POST', '/v1/locks/h/release', { owner: 'o', token: token + 1 });
    expect(wrong.status).toBe(409);
    expect(wrong.body['error']).toBe('not_holder');
    expect(await call('POST', '/v1/locks/h/release', { owner: 'o', token })).toEqual({ status: 200, body: { released: true, holdCount: 1 } });
    expect(await call('POST', '/v1/locks/h/release', { owner: 'o', token })).toEqual({ status: 200, body: { released: true, holdCount: 0 } });
    expect(cluster!.holdersOf('h')).toEqual([]);
  });

  it('a renew passes its ttlMs on and answers what is left of the new lease; without ttlMs it renews by the hold’s own ttl', async () => {
    await start();
    const token = Number((await call('POST', '/v1/locks/t/acquire', { owner: 'o', ttlMs: 1_000 })).body['token']);
    nowMs += 400;
    expect(await call('POST', '/v1/locks/t/renew', { owner: 'o', token, ttlMs: 7_000 })).toEqual({ status: 200, body: { expiresInMs: 7_000 } });
    nowMs += 3_000;
    expect((await call('GET', '/v1/locks/t')).body['holders']).toMatchObject([{ owner: 'o', expiresInMs: 4_000 }]);
    expect(await call('POST', '/v1/locks/t/renew', { owner: 'o', token })).toEqual({ status: 200, body: { expiresInMs: 7_000 } });
    const wrong = await call('POST', '/v1/locks/t/renew', { owner: 'p', token, ttlMs: 7_000 });
    expect(wrong.status).toBe(409);
    expect(wrong.body['error']).toBe('not_holder');
  });
});

describe('reads', () => {
  it('GET of a lock shows its holders, queue length and last token; a lock never used shows empty', async () => {
    await start();
    const token = Number((await call('POST', '/v1/locks/g/acquire', { owner: 'a', ttlMs: 5_000 })).body['token']);
    const waiting = call('POST', '/v1/locks/g/acquire', { owner: 'b', ttlMs: 5_000, waitMs: 5_000 });
    await waitsFor('g', 1);
    const read = await call('GET', '/v1/locks/g');
    expect(read).toEqual({
      status: 200,
      body: { name: 'g', holders: [{ owner: 'a', token, mode: 'exclusive', expiresInMs: 5_000, holdCount: 1 }], waiters: 1, lastToken: token, index: expect.any(Number) },
    });
    expect(await call('GET', '/v1/locks/never')).toEqual({ status: 200, body: { name: 'never', holders: [], waiters: 0, lastToken: 0, index: expect.any(Number) } });
    await call('POST', '/v1/locks/g/release', { owner: 'a', token });
    expect((await waiting).status).toBe(200);
  });

  it('a blocking read of one lock ends when the lock changes, not when its wait runs out', async () => {
    await start();
    const token = Number((await call('POST', '/v1/locks/bw/acquire', { owner: 'a', ttlMs: 5_000 })).body['token']);
    const index = Number((await call('GET', '/v1/locks/bw')).body['index']);
    const startedMs = performance.now();
    const blocked = call('GET', `/v1/locks/bw?index=${index}&wait=60s`);
    for (let i = 0; i < 200 && cluster!.watching !== 1; i++) await new Promise((r) => setTimeout(r, 25));
    expect(cluster!.watching).toBe(1);
    await call('POST', '/v1/locks/bw/release', { owner: 'a', token });
    expect((await blocked).body).toMatchObject({ holders: [] });
    // A generous liveness bound, far below the 60 s wait.
    expect(performance.now() - startedMs).toBeLessThan(30_000);
  });

  it('a list without a prefix lists every lock in name order, and `after` starts past the name it gives', async () => {
    await start();
    for (const name of ['b', 'a/1', 'c']) await call('POST', `/v1/locks/${encodeURIComponent(name)}/acquire`, { owner: 'o', ttlMs: 5_000 });
    const names = (answer: Answer): string[] => (answer.body['locks'] as { name: string }[]).map((l) => l.name);
    const all = await call('GET', '/v1/locks');
    expect(names(all)).toEqual(['a/1', 'b', 'c']);
    // Its index is the newest change of any lock: here c's acquire, the last write.
    const newest = Number((await call('GET', '/v1/locks/c')).body['index']);
    expect(newest).toBeGreaterThan(1);
    expect(all.body['index']).toBe(newest);
    expect(names(await call('GET', '/v1/locks?after=b'))).toEqual(['c']);
    expect(names(await call('GET', '/v1/locks?prefix=a'))).toEqual(['a/1']);
  });

  it('a token check says whether the token holds the lock now, and which token does', async () => {
    await start();
    const first = Number((await call('POST', '/v1/locks/k/acquire', { owner: 'a', ttlMs: 5_000 })).body['token']);
    expect(await call('POST', '/v1/locks/k/check', { token: first })).toEqual({ status: 200, body: { valid: true, currentToken: first } });
    await call('POST', '/v1/locks/k/release', { owner: 'a', token: first });
    const second = Number((await call('POST', '/v1/locks/k/acquire', { owner: 'b', ttlMs: 5_000 })).body['token']);
    expect(second).toBeGreaterThan(first);
    expect(await call('POST', '/v1/locks/k/check', { token: first })).toEqual({ status: 200, body: { valid: false, currentToken: second } });
  });
});

describe('force-release', () => {
  it('removes every holder and waiter, answers how many, and ends the waiter’s long-poll with lock_held', async () => {
    await start();
    await call('POST', '/v1/locks/f/acquire', { owner: 'a', ttlMs: 5_000 });
    const waiting = call('POST', '/v1/locks/f/acquire', { owner: 'b', ttlMs: 5_000, waitMs: 5_000 });
    await waitsFor('f', 1);
    expect(await call('DELETE', '/v1/locks/f')).toEqual({ status: 200, body: { released: true, holdersRemoved: 1, waitersRemoved: 1 } });
    const ended = await waiting;
    expect(ended.status).toBe(409);
    expect(ended.body).toMatchObject({ error: 'lock_held', reason: 'force_released' });
    expect(cluster!.holdersOf('f')).toEqual([]);
    expect(await call('DELETE', '/v1/locks/f')).toEqual({ status: 200, body: { released: true, holdersRemoved: 0, waitersRemoved: 0 } });
  });
});

describe('the internal cancel-wait', () => {
  it('takes a queued waiter out of the queue once: cancelled true, then false', async () => {
    await start();
    await call('POST', '/v1/locks/cw/acquire', { owner: 'a', ttlMs: 5_000 });
    const waiting = call('POST', '/v1/locks/cw/acquire', { owner: 'b', ttlMs: 5_000, waitMs: 5_000, requestId: 'cw-1' });
    await waitsFor('cw', 1);
    expect(await call('POST', '/v1/locks/cw/cancel-wait', { waiterId: 'cw-1' })).toEqual({ status: 200, body: { cancelled: true } });
    expect((await waiting).body).toMatchObject({ error: 'lock_held', reason: 'cancelled' });
    expect(cluster!.locks.get('cw')?.waiters).toBe(0);
    expect(await call('POST', '/v1/locks/cw/cancel-wait', { waiterId: 'cw-1' })).toEqual({ status: 200, body: { cancelled: false } });
    // Its body is checked like any route's: no waiter id, no cancel.
    expect(await call('POST', '/v1/locks/cw/cancel-wait', { owner: 'b' })).toMatchObject({ status: 400, body: { error: 'bad_request' } });
  });

  it('with the owner (its client went away), undoes a grant made to the waiter; without it, leaves the grant', async () => {
    await start();
    for (const [waiterId, name] of [
      ['kept-1', 'kept'],
      ['undone-1', 'undone'],
    ] as const) {
      const token = Number((await call('POST', `/v1/locks/${name}/acquire`, { owner: 'a', ttlMs: 5_000 })).body['token']);
      const waiting = call('POST', `/v1/locks/${name}/acquire`, { owner: 'b', ttlMs: 5_000, waitMs: 5_000, requestId: waiterId });
      await waitsFor(name, 1);
      await call('POST', `/v1/locks/${name}/release`, { owner: 'a', token });
      expect((await waiting).status).toBe(200);
    }
    expect(await call('POST', '/v1/locks/kept/cancel-wait', { waiterId: 'kept-1' })).toEqual({ status: 200, body: { cancelled: false } });
    expect(cluster!.holdersOf('kept').map((h) => h.owner)).toEqual(['b']);
    expect(await call('POST', '/v1/locks/undone/cancel-wait', { waiterId: 'undone-1', owner: 'b' })).toEqual({ status: 200, body: { cancelled: true } });
    expect(cluster!.holdersOf('undone')).toEqual([]);
  });
});

describe('with authentication on, the caller’s principal scopes what it names', () => {
  it('another principal’s session is as good as absent: 404 session_not_found, nothing applied', async () => {
    await start(true);
    const session = await call('POST', '/v1/sessions', { ttlMs: 10_000 }, TOKENS.app);
    const sessionId = String(session.body['sessionId']);
    expect(sessionId.startsWith('app~')).toBe(true);
    expect(await call('POST', '/v1/locks/s/acquire', { owner: 'o', sessionId }, TOKENS.other)).toEqual({
      status: 404,
      body: { error: 'session_not_found', message: `session ${sessionId} does not exist or has expired` },
    });
    expect(appliedAcquires()).toEqual([]);
    expect((await call('POST', '/v1/locks/s/acquire', { owner: 'o', sessionId }, TOKENS.app)).status).toBe(200);
  });

  it('owners and requestIds are stored under the principal: acquire, renew, release and force-release', async () => {
    await start(true);
    const acquired = await call('POST', '/v1/locks/p/acquire', { owner: 'o', ttlMs: 5_000, requestId: 'acq' }, TOKENS.app);
    expect(acquired.body).toMatchObject({ owner: 'o' });
    expect(cluster!.holdersOf('p').map((h) => h.owner)).toEqual(['app/o']);
    const token = Number(acquired.body['token']);
    expect((await call('POST', '/v1/locks/p/renew', { owner: 'o', token, requestId: 'ren' }, TOKENS.app)).status).toBe(200);
    // Another principal naming the same owner names another owner: not the holder.
    expect((await call('POST', '/v1/locks/p/release', { owner: 'o', token }, TOKENS.other)).body['error']).toBe('not_holder');
    expect(await call('POST', '/v1/locks/p/release', { owner: 'o', token, requestId: 'rel' }, TOKENS.app)).toEqual({ status: 200, body: { released: true, holdCount: 0 } });
    await call('POST', '/v1/locks/p/acquire', { owner: 'o', ttlMs: 5_000 }, TOKENS.app);
    expect((await call('DELETE', '/v1/locks/p?requestId=frc', undefined, TOKENS.ops)).body).toMatchObject({ holdersRemoved: 1 });
    // Without a requestId nothing is remembered: a second force-release is applied again.
    await call('POST', '/v1/locks/p/acquire', { owner: 'o', ttlMs: 5_000 }, TOKENS.app);
    expect((await call('DELETE', '/v1/locks/p', undefined, TOKENS.ops)).body).toMatchObject({ holdersRemoved: 1 });
    await call('POST', '/v1/locks/p/acquire', { owner: 'o', ttlMs: 5_000 }, TOKENS.app);
    expect((await call('DELETE', '/v1/locks/p', undefined, TOKENS.ops)).body).toMatchObject({ holdersRemoved: 1 });
    expect(cluster!.applied.filter((a) => a.requestId !== undefined).map((a) => [a.route, a.requestId])).toEqual([
      ['acquire', 'app/acq'],
      ['renew', 'app/ren'],
      ['release', 'app/rel'],
      ['forceRelease', 'ops/frc'],
    ]);
  });

  it('a lock_held answer shows the caller’s own owners as it sent them, and others’ whole', async () => {
    await start(true);
    await call('POST', '/v1/locks/v/acquire', { owner: 'o', ttlMs: 5_000 }, TOKENS.app);
    expect((await call('POST', '/v1/locks/v/acquire', { owner: 'p', ttlMs: 5_000 }, TOKENS.app)).body['holders']).toMatchObject([{ owner: 'o' }]);
    expect((await call('POST', '/v1/locks/v/acquire', { owner: 'p', ttlMs: 5_000 }, TOKENS.other)).body['holders']).toMatchObject([{ owner: 'app/o' }]);
  });
});
