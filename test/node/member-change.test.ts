import { afterEach, describe, expect, it } from 'vitest';
import { RaftLockClient } from '../../src/client/index.js';
import { ProcessCluster, acquireLock, httpJson, runCli, waitFor, waitForLeader } from '../support/process-cluster.js';

/**
 * Runtime membership change on real processes (issue 13), as an operator does it with the CLI: replace founder n1
 * with a new machine n4. n4 is added as a learner, started with `--initial-cluster-state existing`, catches up,
 * is promoted, and n1 (the leader, when it leads) is removed. A client loops acquire/release throughout: no call
 * may fail (the client's retries are allowed), and a lock taken before the change keeps its holder and token.
 */

let cluster: ProcessCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

interface MemberRow {
  id: string;
  suffrage: 'voter' | 'learner';
  peerAddress: string | null;
  httpUrl: string | null;
  lag?: number;
}

/** clientLoop runs acquire/release cycles against `endpoints` until stopped, counting cycles and collecting failures. */
function clientLoop(endpoints: string[]): { done: { ops: number; failures: string[] }; stop: () => Promise<void> } {
  const client = new RaftLockClient({ endpoints, maxRetries: 12, requestTimeoutMs: 5_000, callTimeoutMs: 30_000 });
  let running = true;
  const done = { ops: 0, failures: [] as string[] };
  const loop = (async () => {
    for (let i = 0; running; i++) {
      try {
        const lock = await client.acquire(`change/${i % 8}`, { ttlMs: 10_000 });
        await lock.release();
        done.ops++;
      } catch (err) {
        done.failures.push(`${(err as Error).name}: ${(err as Error).message}`);
      }
    }
  })();
  return {
    done,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/**
 * members reads the leader's member view through `url`. A 503 no_leader is the API's retryable answer when the node's
 * idea of the leader is stale (a forward goes one hop only), so it is asked again until the leader answers (10 s).
 */
async function members(url: string): Promise<{ leader: string; members: MemberRow[] }> {
  return waitFor('GET /v1/members answered by the leader', async () => {
    const r = await httpJson(`${url}/v1/members`, 'GET', undefined, 5_000);
    if (r.status === 503) return undefined;
    if (r.status !== 200) throw new Error(`GET /v1/members: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as { leader: string; members: MemberRow[] };
  }, 10_000);
}

describe('membership change on a running cluster', () => {
  it('adds a learner that joins empty, promotes it, removes a founder: no failed operation, locks and tokens kept', async () => {
    cluster = await ProcessCluster.create({ nodes: 4, joining: 1 });
    for (const id of ['n1', 'n2', 'n3']) cluster.start(id);
    const firstLeader = await waitForLeader(cluster);
    const n1 = cluster.node('n1');
    const n4 = cluster.node('n4');
    const endpoints = ['n1', 'n2', 'n3'].map((id) => cluster!.node(id).httpUrl);
    const cli = (...args: string[]) => runCli([...args, '--endpoints', cluster!.endpoints().join(',')], 30_000);

    const held = await acquireLock(cluster.node(firstLeader).httpUrl, 'change/held', 'keeper');
    expect(held.status).toBe(200);

    const { done, stop } = clientLoop(endpoints);

    try {
      // Bad requests are refused with a reason, and change nothing.
      expect((await cli('member', 'promote', 'n9')).code).toBe(1);
      expect((await cli('member', 'add', 'n2', '--peer-address', '127.0.0.1:1', '--http-url', 'http://127.0.0.1:1')).output).toContain('already a member');
      const badAddress = await httpJson(`${n1.httpUrl}/v1/members`, 'POST', { id: 'n5', peerAddress: 'no port', httpUrl: 'http://x:1' });
      expect([badAddress.status, badAddress.body.error]).toEqual([400, 'bad_request']);
      const badPort = await httpJson(`${n1.httpUrl}/v1/members`, 'POST', { id: 'n5', peerAddress: '127.0.0.1:99999', httpUrl: 'http://127.0.0.1:1' });
      expect([badPort.status, badPort.body.message]).toEqual([400, expect.stringContaining('port 99999 is out of range')]);
      const badUrl = await httpJson(`${n1.httpUrl}/v1/members`, 'POST', { id: 'n5', peerAddress: '127.0.0.1:1', httpUrl: 'http://[::1' });
      expect(badUrl.status).toBe(400);

      const added = await cli('member', 'add', 'n4', '--peer-address', `127.0.0.1:${n4.peerPort}`, '--http-url', n4.httpUrl);
      expect(added.output).toContain('added learner n4: voters n1,n2,n3; learners n4');
      expect(added.code).toBe(0);
      // A learner that has not caught up is not promoted.
      const early = await cli('member', 'promote', 'n4');
      expect([early.code, early.output]).toEqual([1, expect.stringContaining('not_caught_up')]);

      cluster.start('n4'); // --initial-cluster-state existing: an empty store that learns its configuration from the leader
      await waitFor('n4 ready as a learner', async () => ((await httpJson(`${n4.httpUrl}/readyz`)).status === 200 ? true : undefined), 30_000);
      const listed = await members(n4.httpUrl); // relayed to the leader
      expect(listed.members.find((m) => m.id === 'n4')).toMatchObject({ suffrage: 'learner', peerAddress: `127.0.0.1:${n4.peerPort}`, httpUrl: n4.httpUrl });
      const status = await cli('status');
      expect(status.output).toMatch(/n4\s+learner/);

      const promoted = await cli('member', 'promote', 'n4', '--wait', '20000');
      expect([promoted.code, promoted.output]).toEqual([0, expect.stringContaining('promoted n4: voters n1,n2,n3,n4; learners (none)')]);

      // Remove n1 while it leads: it hands leadership to a caught-up voter as its removal commits.
      const moved = await cli('transfer-leader', '--to', 'n1');
      expect(moved.code, moved.output).toBe(0);
      expect(await waitForLeader(cluster)).toBe('n1');
      const removed = await cli('member', 'remove', 'n1');
      expect([removed.code, removed.output]).toEqual([0, expect.stringContaining('removed n1: voters n2,n3,n4')]);
      const leaderAfter = await waitForLeader(cluster, 20_000, ['n1']);
      expect(['n2', 'n3', 'n4']).toContain(leaderAfter);
      const after = await members(n4.httpUrl);
      expect(after.members.map((m) => `${m.id}:${m.suffrage}`)).toEqual(['n2:voter', 'n3:voter', 'n4:voter']);
      // The removed member says so; then it is stopped for good.
      await waitFor('n1 reports its removal', async () => {
        const r = await httpJson(`${n1.httpUrl}/readyz`, 'GET', undefined, 2_000);
        return r.body.reason === 'removed' ? true : undefined;
      }, 20_000);
      await cluster.kill('n1', 'SIGTERM');

      // The cluster of n2, n3, n4 still holds the lock taken before the change, with its token, and grants on.
      const stillHeld = await httpJson(`${cluster.node(leaderAfter).httpUrl}/v1/locks/${encodeURIComponent('change/held')}`);
      expect(stillHeld.body.holders.map((h: { token: number }) => h.token)).toEqual([held.body.token]);
      const settled = done.ops + 20;
      await waitFor('operations after the change', async () => (done.ops >= settled ? true : undefined), 30_000);
    } finally {
      await stop();
    }
    console.log(`membership change: ${done.ops} acquire/release cycles, ${done.failures.length} failed`);
    expect(done.failures).toEqual([]);
    const next = await acquireLock(cluster.node(await waitForLeader(cluster, 20_000, ['n1'])).httpUrl, 'change/next', 'later');
    expect(next.body.token).toBeGreaterThan(held.body.token);
  });

  it('grows from 3 voters to 5 and shrinks back to 3: no failed operation', async () => {
    cluster = await ProcessCluster.create({ nodes: 5, joining: 2 });
    for (const id of ['n1', 'n2', 'n3']) cluster.start(id);
    await waitForLeader(cluster);
    const cli = (...args: string[]) => runCli([...args, '--endpoints', cluster!.endpoints().join(',')], 30_000);
    const { done, stop } = clientLoop(['n1', 'n2', 'n3'].map((id) => cluster!.node(id).httpUrl));
    try {
      for (const id of ['n4', 'n5']) {
        const n = cluster.node(id);
        const added = await cli('member', 'add', id, '--peer-address', `127.0.0.1:${n.peerPort}`, '--http-url', n.httpUrl);
        expect(added.code, added.output).toBe(0);
        cluster.start(id);
        const promoted = await cli('member', 'promote', id, '--wait', '30000');
        expect(promoted.code, promoted.output).toBe(0);
      }
      const five = await members(cluster.node('n5').httpUrl);
      expect(five.members.map((m) => `${m.id}:${m.suffrage}`)).toEqual(['n1:voter', 'n2:voter', 'n3:voter', 'n4:voter', 'n5:voter']);
      // Five voters tolerate two failures: with n1 and n2 down, n3-n5 still elect and grant.
      await cluster.kill('n1');
      await cluster.kill('n2');
      const leaderOfThree = await waitForLeader(cluster, 20_000, ['n1', 'n2']);
      expect((await acquireLock(cluster.node(leaderOfThree).httpUrl, 'change/five', 'five')).status).toBe(200);
      cluster.start('n1');
      cluster.start('n2');
      for (const id of ['n1', 'n2']) await waitFor(`${id} ready`, async () => ((await httpJson(`${cluster!.node(id).httpUrl}/readyz`)).status === 200 ? true : undefined), 30_000);

      for (const id of ['n5', 'n4']) {
        const removed = await cli('member', 'remove', id);
        expect(removed.code, removed.output).toBe(0);
      }
      const three = await members(cluster.node('n1').httpUrl);
      expect(three.members.map((m) => `${m.id}:${m.suffrage}`)).toEqual(['n1:voter', 'n2:voter', 'n3:voter']);
      const settled = done.ops + 20;
      await waitFor('operations after the change', async () => (done.ops >= settled ? true : undefined), 30_000);
    } finally {
      await stop();
    }
    console.log(`grow to 5 and shrink to 3: ${done.ops} acquire/release cycles, ${done.failures.length} failed`);
    expect(done.failures).toEqual([]);
  });
});
