import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster, httpJson, startedLeaderAndFollower, waitFor } from '../support/process-cluster.js';
import { writeTestAuth, type TestAuth } from '../support/test-auth.js';

/**
 * Owners bound to identities, end to end: two principals with the same role
 * (alice and mallory, both lockers) on a real 3-node cluster. Whatever owner
 * string, requestId or session id mallory sends, through the leader or a
 * follower, she cannot take over, renew, release or wait her way into
 * alice's hold, nor use, read, keep alive or delete alice's session. Also:
 * the cap on waiting acquires per principal.
 */

const PRINCIPALS = {
  alice: { principal: 'alice', roles: ['reader', 'locker'] },
  mallory: { principal: 'mallory', roles: ['reader', 'locker'] },
  admin: { principal: 'root', roles: ['admin'] },
} as const;
const MAX_WAITS = 2;

/** Owner strings mallory tries, each meant to collide with alice's hold of owner `job`. */
const FORGED_OWNERS = ['job', 'alice/job', 'alice', '/job', '../alice/job', 'alice~job', 'mallory/../alice/job', ' alice/job'];

let dir: string;
let auth: TestAuth;
let cluster: ProcessCluster;
let leaderUrl: string;
let followerUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'raftlock-isolation-'));
  auth = writeTestAuth(dir, PRINCIPALS, 'isolation-test-cluster-secret');
  cluster = await ProcessCluster.create({ nodes: 3, extraArgs: ['--auth-file', auth.file, '--max-waits-per-principal', String(MAX_WAITS)], token: auth.tokens['alice']! });
  ({ leaderUrl, followerUrl } = await startedLeaderAndFollower(cluster));
});

afterAll(async () => {
  await cluster?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function as(who: keyof typeof PRINCIPALS, base: string, method: string, path: string, body?: unknown, timeoutMs = 10_000) {
  return httpJson(`${base}${path}`, method, body, timeoutMs, { token: auth.tokens[who]! });
}

describe("one principal cannot touch another's lock", () => {
  it('with any owner string or requestId: acquire, renew, release and waiting all fail, and the hold stays alice\'s', async () => {
    const granted = await as('alice', followerUrl, 'POST', '/v1/locks/iso%2Fa/acquire', { owner: 'job', ttlMs: 30_000, requestId: 'req-1' });
    expect(granted.status).toBe(200);
    expect(granted.body).toMatchObject({ owner: 'job', holdCount: 1 });
    const token = granted.body.token as number;
    for (const base of [leaderUrl, followerUrl]) {
      for (const owner of FORGED_OWNERS) {
        const acquire = await as('mallory', base, 'POST', '/v1/locks/iso%2Fa/acquire', { owner, ttlMs: 30_000 });
        expect(acquire.status, `acquire as ${JSON.stringify(owner)}`).toBe(409);
        expect(acquire.body.error).toBe('lock_held');
        // mallory sees whose hold it is: alice's namespace, not a bare owner string she could reuse.
        expect(acquire.body.holders).toEqual([expect.objectContaining({ owner: 'alice/job', token })]);
        const renew = await as('mallory', base, 'POST', '/v1/locks/iso%2Fa/renew', { owner, token, ttlMs: 60_000 });
        expect(renew.status, `renew as ${JSON.stringify(owner)}`).toBe(409);
        expect(renew.body.error).toBe('not_holder');
        const release = await as('mallory', base, 'POST', '/v1/locks/iso%2Fa/release', { owner, token });
        expect(release.status, `release as ${JSON.stringify(owner)}`).toBe(409);
        expect(release.body.error).toBe('not_holder');
      }
    }
    // alice's requestId, replayed by mallory, is mallory's own: no copy of alice's stored grant.
    const replay = await as('mallory', leaderUrl, 'POST', '/v1/locks/iso%2Fa/acquire', { owner: 'job', ttlMs: 30_000, requestId: 'req-1' });
    expect(replay.status).toBe(409);
    // A queued wait ends without a grant.
    const waited = await as('mallory', followerUrl, 'POST', '/v1/locks/iso%2Fa/acquire', { owner: 'job', ttlMs: 30_000, waitMs: 300 });
    expect(waited.status).toBe(409);
    const view = await as('alice', leaderUrl, 'GET', '/v1/locks/iso%2Fa');
    expect(view.body.holders).toEqual([expect.objectContaining({ owner: 'job', token, holdCount: 1 })]);
    expect(view.body.holders[0].expiresInMs).toBeLessThanOrEqual(30_000);
    // alice herself is still reentrant with her owner string, and her retry gets her first result.
    expect((await as('alice', leaderUrl, 'POST', '/v1/locks/iso%2Fa/acquire', { owner: 'job', ttlMs: 30_000, requestId: 'req-1' })).body).toMatchObject({ token, holdCount: 1 });
    expect((await as('alice', leaderUrl, 'POST', '/v1/locks/iso%2Fa/acquire', { owner: 'job', ttlMs: 30_000 })).body).toMatchObject({ token, holdCount: 2 });
  });

  it('check answers anyone with the locker role: a token is not a secret, it is checked by the resources', async () => {
    const granted = await as('alice', leaderUrl, 'POST', '/v1/locks/iso%2Fcheck/acquire', { owner: 'job', ttlMs: 30_000 });
    const check = await as('mallory', followerUrl, 'POST', '/v1/locks/iso%2Fcheck/check', { token: granted.body.token });
    expect(check.body).toEqual({ valid: true, currentToken: granted.body.token });
  });

  it("an admin's force-release does take any principal's lock", async () => {
    const granted = await as('alice', leaderUrl, 'POST', '/v1/locks/iso%2Fforce/acquire', { owner: 'job', ttlMs: 30_000 });
    expect(granted.status).toBe(200);
    const forced = await as('admin', followerUrl, 'DELETE', '/v1/locks/iso%2Fforce');
    expect(forced.body).toMatchObject({ released: true, holdersRemoved: 1 });
  });
});

describe("one principal cannot touch another's session", () => {
  it('keepalive, read, delete and acquire under it all answer session_not_found, and the session lives on', async () => {
    const created = await as('alice', followerUrl, 'POST', '/v1/sessions', { ttlMs: 30_000, owner: 'job' });
    expect(created.status).toBe(200);
    const id = created.body.sessionId as string;
    expect(id.startsWith('alice~')).toBe(true);
    const path = `/v1/sessions/${encodeURIComponent(id)}`;
    expect((await as('alice', leaderUrl, 'POST', '/v1/locks/iso%2Fs/acquire', { owner: 'job', sessionId: id })).status).toBe(200);
    for (const base of [leaderUrl, followerUrl]) {
      for (const [method, p, body] of [
        ['POST', `${path}/keepalive`, undefined],
        ['GET', path, undefined],
        ['DELETE', path, undefined],
        ['POST', '/v1/locks/iso%2Fs2/acquire', { owner: 'job', sessionId: id }],
        ['POST', '/v1/locks/iso%2Fs2/acquire', { owner: 'alice/job', sessionId: id }],
      ] as const) {
        const res = await as('mallory', base, method, p, body);
        expect(res.status, `${method} ${p}`).toBe(404);
        expect(res.body.error).toBe('session_not_found');
      }
    }
    const still = await as('alice', followerUrl, 'GET', path);
    expect(still.status).toBe(200);
    expect(still.body.locks).toEqual(['iso/s']);
    expect((await as('alice', leaderUrl, 'POST', `${path}/keepalive`)).status).toBe(200);
    expect((await as('alice', leaderUrl, 'DELETE', path)).body).toEqual({ deleted: true, locksReleased: 1 });
  });

  it("mallory's own sessions are hers", async () => {
    const created = await as('mallory', leaderUrl, 'POST', '/v1/sessions', { ttlMs: 30_000 });
    expect(created.body.sessionId.startsWith('mallory~')).toBe(true);
    expect((await as('alice', leaderUrl, 'GET', `/v1/sessions/${encodeURIComponent(created.body.sessionId)}`)).status).toBe(404);
    expect((await as('mallory', followerUrl, 'DELETE', `/v1/sessions/${encodeURIComponent(created.body.sessionId)}`)).status).toBe(200);
  });
});

describe('waiting acquires per principal', () => {
  it(`one waiting acquire past the cap of ${MAX_WAITS} per principal is 429, another principal still waits`, async () => {
    const held = await as('admin', leaderUrl, 'POST', '/v1/locks/iso%2Fwaits/acquire', { owner: 'holder', ttlMs: 30_000 });
    expect(held.status).toBe(200);
    const waits = Array.from({ length: MAX_WAITS }, (_, i) => as('mallory', leaderUrl, 'POST', '/v1/locks/iso%2Fwaits/acquire', { owner: `w${i}`, ttlMs: 10_000, waitMs: 4_000 }));
    // Both long-polls must be open (queued on the lock) before the next one is refused.
    await waitFor('the waits to queue', async () => ((await as('admin', leaderUrl, 'GET', '/v1/locks/iso%2Fwaits')).body.waiters >= MAX_WAITS ? true : undefined), 5_000);
    const over = await as('mallory', leaderUrl, 'POST', '/v1/locks/iso%2Fwaits/acquire', { owner: 'w-over', ttlMs: 10_000, waitMs: 4_000 });
    expect(over.status).toBe(429);
    expect(over.body.error).toBe('too_many_requests');
    const other = as('alice', leaderUrl, 'POST', '/v1/locks/iso%2Fwaits/acquire', { owner: 'a', ttlMs: 10_000, waitMs: 300 });
    expect((await other).status).toBe(409);
    await as('admin', leaderUrl, 'DELETE', '/v1/locks/iso%2Fwaits');
    for (const w of await Promise.all(waits)) expect(w.status).not.toBe(429);
    const metrics = await fetch(`${leaderUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/raftlock_http_limit_hits_total\{limit="waits_per_principal"\} [1-9]/);
    // Once answered, the slots are free again.
    expect((await as('mallory', leaderUrl, 'POST', '/v1/locks/iso%2Fwaits/acquire', { owner: 'again', ttlMs: 10_000, waitMs: 200 })).status).not.toBe(429);
  });
});
