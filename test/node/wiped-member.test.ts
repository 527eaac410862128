import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessCluster, acquireLock as acquire, httpJson, metricValue, waitFor, waitForLeader, type NodeProcess } from '../support/process-cluster.js';

/**
 * Issue 13's wiped data dir, as a regression test. Before explicit bootstrap,
 * n3 came back with an empty store (term 0, no vote), formed a majority with
 * a stale n1, and the pair lost an acknowledged lock and reused its token.
 * Now n3 refuses to start, and nothing is lost once n2 returns. Bootstrapped
 * again by hand anyway, the pair still loses the lock, but n2, which holds
 * it, says on its return that it has diverged.
 */

let cluster: ProcessCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

/**
 * lockMissedByN1 runs issue 13's prelude: n1 stops, a client acquires dl/lock (acknowledged by n2 and n3 alone,
 * and followed by a few more writes, which carry its commit index into their stores), all stop, and n3's data dir
 * is wiped. Returns the members and the lock's token.
 */
async function lockMissedByN1(c: ProcessCluster): Promise<{ n1: NodeProcess; n2: NodeProcess; n3: NodeProcess; token: number }> {
  c.startAll();
  await waitForLeader(c);
  const [n1, n2, n3] = c.nodes as [NodeProcess, NodeProcess, NodeProcess];
  await c.kill(n1.id, 'SIGTERM');
  await waitForLeader(c, 20_000, [n1.id]);
  const granted = await acquire(n2.httpUrl, 'dl/lock', 'client-a');
  expect(granted.status).toBe(200);
  for (let i = 0; i < 3; i++) expect((await acquire(n2.httpUrl, `dl/after-${i}`, 'client-a')).status).toBe(200);
  await c.kill(n2.id, 'SIGTERM');
  await c.kill(n3.id, 'SIGTERM');
  rmSync(n3.dataDir, { recursive: true, force: true });
  mkdirSync(n3.dataDir);
  return { n1, n2, n3, token: granted.body.token as number };
}

describe('a member whose data dir was wiped', () => {
  it('refuses to start, and no acknowledged lock is lost nor any token reused', async () => {
    cluster = await ProcessCluster.create({ nodes: 3 });
    const { n1, n2, n3, token } = await lockMissedByN1(cluster);

    cluster.start(n1.id);
    cluster.start(n3.id);
    const exit = await n3.exit!;
    expect(exit.code).toBe(1);
    const log = readFileSync(n3.logFile, 'utf8');
    expect(log).toContain(`refusing to start: ${n3.dataDir} holds no raftlock store`);
    expect(log).toContain('Replace a wiped machine');

    cluster.start(n2.id);
    const leader = await waitForLeader(cluster, 20_000, [n3.id]);
    const url = cluster.node(leader).httpUrl;
    const view = await httpJson(`${url}/v1/locks/${encodeURIComponent('dl/lock')}`);
    expect(view.body.holders.map((h: { owner: string; token: number }) => [h.owner, h.token])).toEqual([['client-a', token]]);
    // Nobody else gets it, and a new grant's token is larger than every earlier one.
    expect((await acquire(n1.httpUrl, 'dl/lock', 'client-b')).status).toBe(409);
    const fresh = await acquire(n1.httpUrl, 'dl/other', 'client-b');
    expect(fresh.status).toBe(200);
    expect(fresh.body.token).toBeGreaterThan(token);
  });

  it('bootstrapped again by hand: the member holding the lost lock says it has diverged', async () => {
    cluster = await ProcessCluster.create({ nodes: 3 });
    const { n1, n2, n3 } = await lockMissedByN1(cluster);

    // The mistake the refusal guards against: n3 bootstrapped again into the same cluster; with stale n1 it leads.
    cluster.start(n1.id);
    cluster.start(n3.id, { env: { RAFTLOCK_INITIAL_CLUSTER_STATE: 'new', RAFTLOCK_CLUSTER_ID: cluster.clusterId! } });
    const leader = await waitForLeader(cluster, 20_000, [n2.id]);
    const reused = await acquire(cluster.node(leader).httpUrl, 'dl/lock', 'client-b');
    expect(reused.status).toBe(200); // the acknowledged lock is gone
    for (let i = 0; i < 3; i++) expect((await acquire(cluster.node(leader).httpUrl, `dl/more-${i}`, 'client-b')).status).toBe(200);

    cluster.start(n2.id);
    const answer = await waitFor('n2 to say it has diverged', async () => {
      const r = await httpJson(`${n2.httpUrl}/readyz`, 'GET', undefined, 2_000).catch(() => null);
      return r?.body?.reason === 'diverged' ? r : undefined;
    });
    expect([answer.status, answer.body.error]).toEqual([503, 'not_ready']);
    expect(answer.body.message).toMatch(/which this member holds as committed with term \d+: the logs have diverged/);
    expect(await metricValue(n2.httpUrl, 'raftlock_member_problem{reason="diverged"}')).toBe(1);
    expect(readFileSync(n2.logFile, 'utf8')).toContain('this member has diverged from the cluster');
    expect((await httpJson(`${n2.httpUrl}/v1/status`)).body.problems).toEqual([expect.objectContaining({ reason: 'diverged' })]);
  });
});
