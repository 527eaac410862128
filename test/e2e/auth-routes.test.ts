import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteRole } from '../../src/server/auth.js';
import { ForwardSigner, IDENTITY_HEADER, SIGNATURE_HEADER } from '../../src/server/forward-signature.js';
import { nodeRoutes, type NodeRoute } from '../support/node-routes.js';
import { ProcessCluster, httpJson, startedLeaderAndFollower } from '../support/process-cluster.js';
import { writeTestAuth, type TestAuth } from '../support/test-auth.js';

/**
 * Authentication and authorization of every route, end to end against a
 * real 3-node cluster with an auth file: each route the node serves (listed
 * from the fastify app, so a new route is covered without being named here)
 * with no token, with a token that lacks the route's role, and with one that
 * has it, on the leader and through a follower. Then the relay between
 * members: forged, wrongly keyed or altered relayed identities are refused,
 * and a follower passes on its caller's identity, not its own or a better one.
 */

const SECRET = 'auth-routes-test-cluster-secret';
const PRINCIPALS = {
  alice: { principal: 'alice', roles: ['locker'] },
  bob: { principal: 'bob', roles: ['locker'] },
  reader: { principal: 'ops-reader', roles: ['reader'] },
  worker: { principal: 'worker', roles: ['reader', 'locker'] },
  admin: { principal: 'root', roles: ['admin'] },
} as const;

let dir: string;
let auth: TestAuth;
let cluster: ProcessCluster;
let leaderUrl: string;
let followerUrl: string;
let routes: NodeRoute[];
let sessionId: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'raftlock-auth-'));
  auth = writeTestAuth(dir, PRINCIPALS);
  routes = await nodeRoutes('reader');
  cluster = await ProcessCluster.create({
    nodes: 3,
    extraArgs: ['--auth-file', auth.file, '--secret', SECRET, '--metrics-auth', 'reader'],
    token: auth.tokens['reader']!,
  });
  ({ leaderUrl, followerUrl } = await startedLeaderAndFollower(cluster));
  const s = await as('alice', leaderUrl, 'POST', '/v1/sessions', { ttlMs: 60_000 });
  expect(s.status).toBe(200);
  sessionId = s.body.sessionId as string;
});

afterAll(async () => {
  await cluster?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** as sends a request with the token of test principal `who` (null: no token). */
function as(who: keyof typeof PRINCIPALS | null, base: string, method: string, path: string, body?: unknown) {
  return httpJson(`${base}${path}`, method, body, 10_000, who === null ? {} : { token: auth.tokens[who]! });
}

/** signed sends a request relayed as a member would: identity headers signed with `secret`. */
async function signed(base: string, method: string, path: string, body: unknown, caller: { principal: string; roles: ('reader' | 'locker' | 'admin')[] } | null, secret = SECRET) {
  const text = body === undefined ? '' : JSON.stringify(body);
  const headers = new ForwardSigner(secret, cluster.clusterId!, 'n1').headers(caller, method, path, text);
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: text } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as { error?: string; message?: string } };
}

/**
 * retryUnavailable retries a request the contract says to retry: a 503 (no
 * leader known for a moment, as in an election on a loaded machine) is not an
 * answer about authorization. Bounded: 10 tries, 300 ms apart.
 */
async function retryUnavailable<T extends { status: number }>(send: () => Promise<T>): Promise<T> {
  let res = await send();
  for (let i = 0; i < 9 && res.status === 503; i++) {
    await new Promise((r) => setTimeout(r, 300));
    res = await send();
  }
  return res;
}

/** A valid body for each known route, so that the right role reaches the handler; other routes get none or `{}`. */
const SAMPLE_BODIES: Readonly<Record<string, unknown>> = {
  'POST /v1/locks/:name/acquire': { owner: 'matrix', ttlMs: 10_000 },
  'POST /v1/locks/:name/release': { owner: 'matrix', token: 1 },
  'POST /v1/locks/:name/renew': { owner: 'matrix', token: 1 },
  'POST /v1/locks/:name/check': { token: 1 },
  'POST /v1/locks/:name/cancel-wait': { waiterId: 'nobody' },
  'POST /v1/sessions': { ttlMs: 10_000 },
  // Harmless with the right role: a member that does not exist (400), so leadership stays where it is.
  'POST /v1/admin/transfer-leader': { to: 'nobody' },
};

/** Who lacks and who has each role (admin has every role, so the wrong one for admin routes is reader+locker). */
const WRONG: Readonly<Record<Exclude<RouteRole, 'none'>, keyof typeof PRINCIPALS>> = { reader: 'alice', locker: 'reader', admin: 'worker', member: 'admin' };
const RIGHT: Readonly<Record<Exclude<RouteRole, 'none' | 'member'>, keyof typeof PRINCIPALS>> = { reader: 'reader', locker: 'alice', admin: 'admin' };

function concrete(route: NodeRoute): { path: string; body: unknown } {
  const path = route.url.replace(':name', 'matrix').replace(':id', encodeURIComponent(sessionId));
  const known = SAMPLE_BODIES[`${route.method} ${route.url}`];
  return { path, body: known ?? (route.method === 'POST' || route.method === 'PUT' ? {} : undefined) };
}

describe('every route x {no token, wrong role, right role}', () => {
  it('the route list comes from the app and covers every kind of route', () => {
    const byRole = (role: RouteRole) => routes.filter((r) => r.role === role).map((r) => `${r.method} ${r.url}`);
    expect(byRole('none').sort()).toEqual(['GET /healthz', 'GET /readyz', 'GET /ui']);
    expect(byRole('reader')).toEqual(expect.arrayContaining(['GET /v1/status', 'GET /v1/locks/:name', 'GET /metrics', 'GET /v1/dashboard/members']));
    expect(byRole('locker')).toEqual(expect.arrayContaining(['POST /v1/locks/:name/acquire', 'POST /v1/sessions', 'GET /v1/sessions/:id']));
    expect(byRole('admin')).toEqual(
      expect.arrayContaining(['DELETE /v1/locks/:name', 'GET /v1/locks', 'GET /v1/dashboard/locks', 'POST /v1/members', 'DELETE /v1/members/:id', 'POST /v1/admin/transfer-leader', 'GET /v1/snapshot']),
    );
    expect(byRole('reader')).toEqual(expect.arrayContaining(['GET /v1/members']));
    expect(byRole('member')).toEqual(['POST /v1/locks/:name/cancel-wait']);
    expect(routes.length).toBe(new Set(routes.map((r) => `${r.method} ${r.url}`)).size);
  });

  for (const target of ['leader', 'follower'] as const) {
    it(`on the ${target}: 401 without a token, 403 with the wrong role, served with the right one`, async () => {
      const base = target === 'leader' ? leaderUrl : followerUrl;
      const failures: string[] = [];
      for (const route of routes) {
        const { path, body } = concrete(route);
        const what = `${route.method} ${route.url} (${route.role})`;
        const none = await as(null, base, route.method, path, body);
        if (route.role === 'none') {
          if (none.status !== 200) failures.push(`${what} without a token: ${none.status}, expected 200`);
          continue;
        }
        if (none.status !== 401 || none.body.error !== 'unauthorized' || typeof none.body.message !== 'string') failures.push(`${what} without a token: ${none.status} ${JSON.stringify(none.body)}`);
        const wrong = await as(WRONG[route.role], base, route.method, path, body);
        if (wrong.status !== 403 || wrong.body.error !== 'forbidden') failures.push(`${what} as ${WRONG[route.role]}: ${wrong.status} ${JSON.stringify(wrong.body)}`);
        const right = await retryUnavailable<{ status: number; body: unknown }>(() => (route.role === 'member' ? signed(base, route.method, path, body, null) : as(RIGHT[route.role as keyof typeof RIGHT], base, route.method, path, body)));
        // A backup is served by the leader only (a binary body is not relayed): a follower names the leader.
        const namesLeader = route.url === '/v1/snapshot' && target === 'follower' && right.status === 503 && typeof (right.body as { leader?: unknown }).leader === 'string';
        if (!namesLeader && (right.status === 401 || right.status === 403 || right.status >= 500)) failures.push(`${what} with the right role: ${right.status} ${JSON.stringify(right.body)}`);
      }
      expect(failures).toEqual([]);
    });
  }

  it('an unknown or malformed token is 401 with a Bearer challenge', async () => {
    const unknown = await httpJson(`${leaderUrl}/v1/status`, 'GET', undefined, 10_000, { token: 'not-a-token-of-this-cluster' });
    expect(unknown.status).toBe(401);
    expect(unknown.body).toMatchObject({ error: 'unauthorized', message: 'unknown bearer token' });
    expect(unknown.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const basic = await fetch(`${leaderUrl}/v1/status`, { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
    expect(basic.status).toBe(401);
  });

  it('/healthz and /readyz stay open; /metrics needs a reader with --metrics-auth reader', async () => {
    expect((await as(null, followerUrl, 'GET', '/readyz')).status).toBe(200);
    expect((await as(null, followerUrl, 'GET', '/metrics')).status).toBe(401);
    const metrics = await fetch(`${followerUrl}/metrics`, { headers: { authorization: `Bearer ${auth.tokens['reader']}` } });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/raftlock_http_auth_refusals_total\{reason="unauthorized"\} [1-9]/);
  });
});

describe('relays between members', () => {
  it('a relayed identity with a forged signature, or signed with another secret, is refused 401', async () => {
    const claims = Buffer.from(JSON.stringify({ k: 'c', p: 'root', r: ['admin'], m: 'n1', t: Date.now(), b: '' })).toString('base64url');
    const forged = await fetch(`${leaderUrl}/v1/locks`, { headers: { [IDENTITY_HEADER]: claims, [SIGNATURE_HEADER]: 'A'.repeat(43) } });
    expect(forged.status).toBe(401);
    const alone = await fetch(`${leaderUrl}/v1/locks`, { headers: { [IDENTITY_HEADER]: claims, authorization: `Bearer ${auth.tokens['reader']}` } });
    expect(alone.status).toBe(401);
    const otherKey = await signed(leaderUrl, 'GET', '/v1/locks', undefined, { principal: 'root', roles: ['admin'] }, 'some-other-cluster-secret');
    expect(otherKey.status).toBe(401);
    expect(otherKey.body.error).toBe('unauthorized');
  });

  it('a relayed request whose body was changed after signing is refused 401', async () => {
    const path = '/v1/locks/relay-tamper/acquire';
    const headers = new ForwardSigner(SECRET, cluster.clusterId!, 'n1').headers({ principal: 'alice', roles: ['locker'] }, 'POST', path, JSON.stringify({ owner: 'a', ttlMs: 5_000 }));
    const res = await fetch(`${leaderUrl}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ owner: 'b', ttlMs: 5_000 }) });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toMatch(/body/);
    expect((await as('admin', leaderUrl, 'GET', '/v1/locks/relay-tamper')).body.holders).toEqual([]);
  });

  it("a member's own signature opens only internal routes", async () => {
    const res = await signed(leaderUrl, 'POST', '/v1/locks/member-only/acquire', { owner: 'm', ttlMs: 5_000 }, null);
    expect(res.status).toBe(403);
  });

  it('a follower relays its caller: a reader cannot acquire through it, a locker acquires as itself', async () => {
    const denied = await as('reader', followerUrl, 'POST', '/v1/locks/relayed/acquire', { owner: 'r', ttlMs: 10_000 });
    expect(denied.status).toBe(403);
    const granted = await as('alice', followerUrl, 'POST', '/v1/locks/relayed/acquire', { owner: 'job', ttlMs: 10_000 });
    expect(granted.status).toBe(200);
    expect(granted.body.owner).toBe('job');
    // The leader stored it under alice's principal: bob sees whose it is, and cannot release it with her owner string.
    const seen = await as('worker', leaderUrl, 'GET', '/v1/locks/relayed');
    expect(seen.body.holders).toEqual([expect.objectContaining({ owner: 'alice/job', token: granted.body.token })]);
    const stolen = await as('bob', followerUrl, 'POST', '/v1/locks/relayed/release', { owner: 'job', token: granted.body.token });
    expect(stolen.status).toBe(409);
    expect(stolen.body.error).toBe('not_holder');
    expect((await as('alice', followerUrl, 'POST', '/v1/locks/relayed/release', { owner: 'job', token: granted.body.token })).status).toBe(200);
  });
});
