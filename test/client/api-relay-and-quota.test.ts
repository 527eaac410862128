/**
 * What each `/v1/locks` route declares beyond its handler (src/server/lock-routes.ts):
 * - how a follower relays it to the leader: a write whose relay breaks after it
 *   was sent may have taken effect (504 outcome_unknown, retry with the same
 *   requestId), a read may not (503 no_leader); a relayed acquire gets the
 *   leader's answer whether or not it names a waitMs;
 * - how long the relay waits for the leader: the request's own wait (waitMs,
 *   or a blocking read's wait) plus 15 s, so a long-poll is not cut short;
 * - which requests hold a caller's waiting slot (the wait quota,
 *   wait-quota.ts): an acquire with waitMs > 0 and a blocking read
 *   (`?index=N&wait=`) do, an acquire that does not wait does not.
 * Found unchecked by mutation testing (npm run mutate -- src/server/lock-routes.ts):
 * the client tests' nodes all serve the table themselves, with no quota.
 * Real route plugins over an in-process lease table (no Raft), on loopback.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { apiRoutes } from '../../src/server/api-routes.js';
import { authPlugin } from '../../src/server/auth.js';
import { createHttpApp } from '../../src/server/http-app.js';
import type { LockBackend, NodeStatus } from '../../src/server/lock-backend.js';
import type { PeerHttp } from '../../src/server/peer-http.js';
import { RefusalLog } from '../../src/server/refusal-log.js';
import { waitQuotaPlugin } from '../../src/server/wait-quota.js';
import { InProcessLocks } from './in-process-locks.js';

const silent = pino({ level: 'silent' });
const status: NodeStatus = { id: 'n1', role: 'leader', term: 1, leader: 'n1', commitIndex: 0, appliedIndex: 0, members: ['n1', 'n2'] };

/** What a test opened, closed after it (also when it fails). */
const apps: FastifyInstance[] = [];
const tables: InProcessLocks[] = [];
let breaker: { server: Server; sockets: Set<Socket> } | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(apps.splice(0).map(async (app) => {
    const closed = app.close();
    app.server.closeAllConnections();
    await closed;
  }));
  for (const table of tables.splice(0)) table.close();
  if (breaker !== undefined) {
    for (const socket of breaker.sockets) socket.destroy();
    await new Promise<void>((resolve) => breaker!.server.close(() => resolve()));
    breaker = undefined;
  }
});

/** serve starts a node serving the API over `backend`, with a wait quota of `maxWaits` per caller when given. */
async function serve(backend: LockBackend, maxWaits?: number): Promise<string> {
  const app = createHttpApp(silent);
  apps.push(app);
  await app.register(authPlugin, { tokens: null, signer: null, refusals: new RefusalLog(silent, 'auth') });
  if (maxWaits !== undefined) await app.register(waitQuotaPlugin, { maxWaitsPerPrincipal: maxWaits, refusals: new RefusalLog(silent, 'limit') });
  await app.register(apiRoutes, { backend });
  return app.listen({ host: '127.0.0.1', port: 0 });
}

function newTable(): InProcessLocks {
  const table = new InProcessLocks();
  tables.push(table);
  return table;
}

/** follower is a node that does not lead and relays to n1 at `leaderUrl`. */
function follower(table: InProcessLocks, leaderUrl: string): LockBackend {
  return { ...table.backend(() => ({ ...status, id: 'n2', role: 'follower' })), id: 'n2', isLeader: () => false, leader: () => 'n1', httpUrlOf: (id) => (id === 'n1' ? leaderUrl : undefined) };
}

/** brokenLeader is an address that reads a request and then drops the connection, answering nothing. */
async function brokenLeader(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', () => socket.destroy());
  });
  breaker = { server, sockets };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `http://127.0.0.1:${address.port}`;
}

type Answer = { status: number; body: Record<string, unknown> };

async function call(base: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('a follower relays each lock route to the leader', () => {
  it('an acquire is answered by the leader, with or without a waitMs', async () => {
    const table = newTable();
    const leaderUrl = await serve(table.backend(() => status));
    const relay = await serve(follower(table, leaderUrl));
    expect(await call(relay, 'POST', '/v1/locks/a/acquire', { owner: 'o', ttlMs: 5_000 })).toMatchObject({ status: 200, body: { name: 'a', owner: 'o' } });
    expect(await call(relay, 'POST', '/v1/locks/b/acquire', { owner: 'o', ttlMs: 5_000, waitMs: 1_000 })).toMatchObject({ status: 200, body: { name: 'b', owner: 'o' } });
    expect(table.holdersOf('a').map((h) => h.owner)).toEqual(['o']);
    expect(table.holdersOf('b').map((h) => h.owner)).toEqual(['o']);
  });

  it('a write whose relay broke after sending answers 504 outcome_unknown; a read answers 503 no_leader', async () => {
    const relay = await serve(follower(newTable(), await brokenLeader()));
    const writes: [string, string, unknown?][] = [
      ['POST', '/v1/locks/x/acquire', { owner: 'o', ttlMs: 5_000 }],
      ['POST', '/v1/locks/x/acquire', { owner: 'o', ttlMs: 5_000, waitMs: 1_000 }],
      ['POST', '/v1/locks/x/release', { owner: 'o', token: 1 }],
      ['POST', '/v1/locks/x/renew', { owner: 'o', token: 1 }],
      ['DELETE', '/v1/locks/x'],
    ];
    for (const [method, path, body] of writes) {
      const answer = await call(relay, method, path, body);
      expect([method, path, answer.status, answer.body['error']]).toEqual([method, path, 504, 'outcome_unknown']);
    }
    const reads: [string, string, unknown?][] = [
      ['GET', '/v1/locks/x'],
      ['GET', '/v1/locks/x?index=1&wait=1s'],
      ['GET', '/v1/locks?prefix=x'],
      ['GET', '/v1/locks?index=1&wait=1s'],
      ['POST', '/v1/locks/x/check', { token: 1 }],
    ];
    for (const [method, path, body] of reads) {
      const answer = await call(relay, method, path, body);
      expect([method, path, answer.status, answer.body['error']]).toEqual([method, path, 503, 'no_leader']);
    }
  });
});

describe('a linearizable read waits for the read barrier before it reads the table', () => {
  // ReadIndex (Raft §6.4): a write committed before the read started may still be applying when it arrives; the
  // barrier resolves once the table has it. Here the barrier itself applies such a write, so a route that read the
  // table without waiting for it would miss the write.
  it('GET of a lock, the list and a token check each see the write the barrier waited for', async () => {
    const table = newTable();
    const leader = table.backend(() => status);
    let committed = 0;
    const node = await serve({
      ...leader,
      readBarrier: async () => {
        committed++;
        await leader.execute({ type: 'acquire', name: `late-${committed}`, owner: 'o', mode: 'exclusive', waitMs: 0, ttlMs: 5_000 });
      },
    });
    expect((await call(node, 'GET', '/v1/locks/late-1')).body['holders']).toMatchObject([{ owner: 'o' }]);
    expect((await call(node, 'GET', '/v1/locks?prefix=late-')).body['locks']).toMatchObject([{ name: 'late-1' }, { name: 'late-2' }]);
    const check = await call(node, 'POST', '/v1/locks/late-3/check', { token: 1 });
    const currentToken = table.locks.get('late-3')?.lastToken;
    expect(currentToken).toBeGreaterThan(0);
    expect(check).toEqual({ status: 200, body: { valid: currentToken === 1, currentToken } });
  });
});

describe('a relay waits for the leader as long as the request may wait there, plus 15 s', () => {
  it('a waiting acquire or blocking read of 30 s is still relayed after 15 s, and given up (answered) after 45 s', async () => {
    // A leader that never answers: each relay stays open until its own deadline aborts it.
    const aborted: string[] = [];
    const sent: string[] = [];
    const peers = {
      send: (_base: string, req: { path: string; signal?: AbortSignal }) =>
        new Promise((_resolve, reject) => {
          sent.push(req.path);
          req.signal?.addEventListener('abort', () => {
            aborted.push(req.path);
            reject(Object.assign(new Error('aborted'), { code: 'ABORT_ERR' }));
          });
        }),
    } as unknown as PeerHttp;
    const app = createHttpApp(silent);
    apps.push(app);
    await app.register(authPlugin, { tokens: null, signer: null, refusals: new RefusalLog(silent, 'auth') });
    await app.register(apiRoutes, { backend: { ...follower(newTable(), 'http://127.0.0.1:1'), peers } });
    await app.ready();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const requests = [
      { method: 'POST' as const, url: '/v1/locks/w/acquire', payload: { owner: 'o', ttlMs: 5_000, waitMs: 30_000 } },
      { method: 'GET' as const, url: '/v1/locks/w?index=1&wait=30s' },
      { method: 'GET' as const, url: '/v1/locks?prefix=w&index=1&wait=30s' },
    ];
    const answers = requests.map((r) => app.inject(r));
    for (let i = 0; i < 1_000 && sent.length < requests.length; i++) await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(requests.length);
    await vi.advanceTimersByTimeAsync(30_000 + 15_000 - 1);
    expect(aborted).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(aborted.sort()).toEqual(sent.sort());
    expect((await Promise.all(answers)).map((a) => [a.statusCode, (a.json() as { error: string }).error])).toEqual([
      [504, 'outcome_unknown'],
      [503, 'no_leader'],
      [503, 'no_leader'],
    ]);
  });
});

describe('the wait quota counts the requests that wait', () => {
  it('with one slot per caller: a second waiting acquire or blocking read is 429, an acquire that does not wait is answered', async () => {
    const table = newTable();
    const node = await serve(table.backend(() => status), 1);
    const held = await call(node, 'POST', '/v1/locks/q/acquire', { owner: 'a', ttlMs: 5_000 });
    expect(held.status).toBe(200);
    const waiting = call(node, 'POST', '/v1/locks/q/acquire', { owner: 'b', ttlMs: 5_000, waitMs: 5_000 });
    for (let i = 0; i < 200 && table.locks.get('q')?.waiters !== 1; i++) await new Promise((r) => setTimeout(r, 25));
    expect(table.locks.get('q')?.waiters).toBe(1);
    const index = Number((await call(node, 'GET', '/v1/locks/q')).body['index']);
    const refused = [
      await call(node, 'POST', '/v1/locks/q/acquire', { owner: 'c', ttlMs: 5_000, waitMs: 5_000 }),
      await call(node, 'GET', `/v1/locks/q?index=${index}&wait=5s`),
      await call(node, 'GET', `/v1/locks?prefix=q&index=${index}&wait=5s`),
    ];
    expect(refused.map((r) => [r.status, r.body['error']])).toEqual(Array(3).fill([429, 'too_many_requests']));
    // Not waiting: answered at once, whatever the quota.
    expect((await call(node, 'POST', '/v1/locks/q/acquire', { owner: 'c', ttlMs: 5_000 })).body['error']).toBe('lock_held');
    await call(node, 'POST', '/v1/locks/q/release', { owner: 'a', token: held.body['token'] });
    expect((await waiting).status).toBe(200);
  });
});
