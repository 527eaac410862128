import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusCommand, locksCommand } from '../../src/cli/client-commands.js';
import { ForbiddenError, RaftLockClient, UnauthorizedError } from '../../src/client/index.js';
import { captureIo as capture } from '../support/capture-io.js';
import { ProcessCluster, httpJson, startedLeaderAndFollower, waitFor, type NodeProcess } from '../support/process-cluster.js';
import { makeServerCert, makeTestCa, type TestCa } from '../support/test-certs.js';
import { writeTestAuth, type TestAuth } from '../support/test-auth.js';

/**
 * The API over HTTPS with authentication, end to end on a real 3-node
 * cluster whose members serve a certificate signed by a test CA: the client
 * library and the CLI reach it with that CA (also through a follower, which
 * relays to the leader over HTTPS and verifies it), and refuse it with any
 * other CA or none; a follower that does not trust the leader's certificate
 * will not relay to it.
 */

let dir: string;
let ca: TestCa;
let otherCa: TestCa;
let auth: TestAuth;
let cluster: ProcessCluster;
let leaderId: string;
let follower: NodeProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'raftlock-https-'));
  ca = makeTestCa(dir, 'cluster-ca');
  otherCa = makeTestCa(dir, 'other-ca');
  const cert = makeServerCert(dir, 'node', ca);
  auth = writeTestAuth(dir, { worker: { principal: 'worker', roles: ['reader', 'locker'] }, admin: { principal: 'root', roles: ['admin'] } }, 'https-test-cluster-secret');
  cluster = await ProcessCluster.create({
    nodes: 3,
    extraArgs: ['--http-cert', cert.certFile, '--http-key', cert.keyFile, '--auth-file', auth.file],
    // From the environment, so that one start can be given another CA (flags would override it).
    env: { RAFTLOCK_HTTP_CA: ca.certFile },
    httpsCa: ca.pem,
    token: auth.tokens['worker']!,
  });
  ({ leaderId, follower } = await startedLeaderAndFollower(cluster));
});

afterAll(async () => {
  await cluster?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function client(options: { ca?: string; token?: string; endpoints?: string[] }): RaftLockClient {
  return new RaftLockClient({
    endpoints: options.endpoints ?? [follower.httpUrl],
    preferLeader: false,
    maxRetries: 1,
    retryBaseMs: 10,
    requestTimeoutMs: 3_000,
    ...(options.ca !== undefined ? { ca: options.ca } : {}),
    ...(options.token !== undefined ? { token: options.token } : {}),
  });
}

describe('HTTPS', () => {
  it('serves https URLs, and the client with the CA and a token locks through a follower (relayed over verified HTTPS)', async () => {
    expect(follower.httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:/);
    const c = client({ ca: ca.pem, token: auth.tokens['worker']! });
    try {
      const lock = await c.acquire('tls/one', { ttlMs: 10_000 });
      expect(lock.token).toBeGreaterThan(0);
      expect((await c.get('tls/one')).holders).toEqual([expect.objectContaining({ owner: c.owner, token: lock.token })]);
      await lock.release();
    } finally {
      c.close();
    }
  });

  it('a client with another CA, or with no CA, refuses the cluster, and nothing is acquired', async () => {
    for (const options of [{ ca: otherCa.pem }, {}]) {
      const c = client({ ...options, token: auth.tokens['worker']! });
      try {
        await expect(c.acquire('tls/refused', { ttlMs: 10_000 })).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/certificate/) });
      } finally {
        c.close();
      }
    }
    const view = await httpJson(`${follower.httpUrl}/v1/locks/tls%2Frefused`, 'GET', undefined, 5_000, cluster.access);
    expect(view.body.holders).toEqual([]);
  });

  it('plain HTTP to the HTTPS port gets no API answer', async () => {
    const plain = follower.httpUrl.replace('https:', 'http:');
    const outcome = await fetch(`${plain}/healthz`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.status, (e: Error) => e.name);
    expect(outcome).not.toBe(200);
  });

  it('the client without a token is UnauthorizedError, with too few roles ForbiddenError', async () => {
    const anonymous = client({ ca: ca.pem });
    const worker = client({ ca: ca.pem, token: auth.tokens['worker']! });
    try {
      await expect(anonymous.get('tls/x')).rejects.toBeInstanceOf(UnauthorizedError);
      await expect(worker.forceRelease('tls/x')).rejects.toBeInstanceOf(ForbiddenError);
    } finally {
      anonymous.close();
      worker.close();
    }
  });

  it('the CLI takes --ca and RAFTLOCK_AUTH_TOKEN, and fails with another CA', async () => {
    const env = { ...process.env, RAFTLOCK_ENDPOINTS: cluster.endpoints().join(','), RAFTLOCK_AUTH_TOKEN: auth.tokens['worker']! };
    const ok = capture();
    expect(await statusCommand(['--ca', ca.certFile], env, ok.io)).toBe(0);
    expect(ok.out.join('')).toMatch(new RegExp(`${leaderId}\\s+leader`));
    const viaEnv = capture();
    expect(await statusCommand(['--json'], { ...env, RAFTLOCK_CA: ca.certFile }, viaEnv.io)).toBe(0);
    const wrong = capture();
    expect(await statusCommand(['--ca', otherCa.certFile], env, wrong.io)).toBe(1);
    expect(wrong.out.join('')).toMatch(/unreachable/);
    const forbidden = capture();
    expect(await locksCommand(['--ca', ca.certFile], env, forbidden.io)).toBe(1);
    expect(forbidden.err.join('')).toMatch(/needs role admin/);
    const admin = capture();
    expect(await locksCommand(['--ca', ca.certFile, '--token', auth.tokens['admin']!], env, admin.io)).toBe(0);
  });

  it("a follower that does not trust the leader's certificate does not relay to it, and says why", async () => {
    await cluster.kill(follower.id, 'SIGKILL');
    cluster.start(follower.id, { env: { RAFTLOCK_HTTP_CA: otherCa.certFile } });
    await waitFor('the restarted follower to know the leader', async () => {
      const r = await httpJson(`${follower.httpUrl}/readyz`, 'GET', undefined, 1_000, { ca: ca.pem }).catch(() => null);
      return r?.status === 200 && r.body.leader === leaderId ? true : undefined;
    });
    const res = await httpJson(`${follower.httpUrl}/v1/locks/tls%2Fmitm/acquire`, 'POST', { owner: 'o', ttlMs: 10_000 }, 10_000, cluster.access);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'no_leader', message: expect.stringMatching(/certificate is not trusted/) });
    // The log reaches its file through the launcher's pipe, a moment later.
    await waitFor('the refusal in the log', async () => (/relay to the leader refused: its HTTPS certificate is not trusted here/.test(readFileSync(follower.logFile, 'utf8')) ? true : undefined), 5_000);
    const view = await httpJson(`${cluster.node(leaderId).httpUrl}/v1/locks/tls%2Fmitm`, 'GET', undefined, 5_000, cluster.access);
    expect(view.body.holders).toEqual([]);
  });
});
