import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessCluster, httpJson, metricValue, waitFor, waitForLeader, type NodeProcess } from '../support/process-cluster.js';

/**
 * A member that finds it is not a healthy part of its cluster says so in its
 * log, /readyz (503 not_ready with a reason) and /metrics. Both cases start a
 * wiped member with `--initial-cluster-state new`: the operator's mistake that
 * the refusal to start guards against, made on purpose.
 */

let cluster: ProcessCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

function wipe(node: NodeProcess): void {
  rmSync(node.dataDir, { recursive: true, force: true });
  mkdirSync(node.dataDir);
}

async function readyz(url: string): Promise<{ status: number; body: any }> {
  return httpJson(`${url}/readyz`, 'GET', undefined, 2_000);
}

async function acquire(url: string, name: string, owner: string): Promise<{ status: number; body: any }> {
  return httpJson(`${url}/v1/locks/${encodeURIComponent(name)}/acquire`, 'POST', { owner, ttlMs: 600_000, requestId: `${owner}-${name}` });
}

describe('a member that is not a healthy part of its cluster', () => {
  it('says its peers refuse it when it was bootstrapped again with another cluster id', async () => {
    cluster = await ProcessCluster.create({ nodes: 3 });
    cluster.startAll();
    await waitForLeader(cluster);
    const [n1, , n3] = cluster.nodes as [NodeProcess, NodeProcess, NodeProcess];
    await cluster.kill(n3.id, 'SIGKILL');
    wipe(n3);
    cluster.start(n3.id, { env: { RAFTLOCK_INITIAL_CLUSTER_STATE: 'new', RAFTLOCK_CLUSTER_ID: 'a-new-id' } });

    const answer = await waitFor('n3 to say its peers refuse it', async () => {
      const r = await readyz(n3.httpUrl);
      return r.body?.reason === 'cluster_id_rejected' ? r : undefined;
    });
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ error: 'not_ready', reason: 'cluster_id_rejected' });
    expect(answer.body.message).toMatch(/peers n\d, n\d refuse this member/);
    expect(await metricValue(n3.httpUrl, 'raftlock_member_problem{reason="cluster_id_rejected"}')).toBe(1);
    expect(readFileSync(n3.logFile, 'utf8')).toContain('member problem: peers');
    // The healthy members count the refusals and stay ready.
    expect(await metricValue(n1.httpUrl, 'raftlock_peer_handshake_refusals_total{direction="inbound",reason="cluster_mismatch"}')).toBeGreaterThanOrEqual(1);
    expect((await readyz(n1.httpUrl)).status).toBe(200);
    expect(await metricValue(n1.httpUrl, 'raftlock_member_problem{reason="cluster_id_rejected"}')).toBe(0);
  });

  it('says it has diverged when its leader contradicts an entry it holds as committed (issue 13\'s lost lock)', async () => {
    cluster = await ProcessCluster.create({ nodes: 3 });
    cluster.startAll();
    await waitForLeader(cluster);
    const [n1, n2, n3] = cluster.nodes as [NodeProcess, NodeProcess, NodeProcess];
    await cluster.kill(n1.id, 'SIGTERM');
    await waitForLeader(cluster, 20_000, [n1.id]);
    const lost = await acquire(n2.httpUrl, 'dl/lock', 'client-a');
    expect(lost.status).toBe(200);
    // Later writes carry the commit index of the lock's entry into n2's store.
    for (let i = 0; i < 3; i++) expect((await acquire(n2.httpUrl, `dl/after-${i}`, 'client-a')).status).toBe(200);
    await cluster.kill(n2.id, 'SIGTERM');
    await cluster.kill(n3.id, 'SIGTERM');

    // The mistake: n3 wiped and bootstrapped again into the same cluster; with stale n1 it forms a majority.
    wipe(n3);
    cluster.start(n1.id);
    cluster.start(n3.id, { env: { RAFTLOCK_INITIAL_CLUSTER_STATE: 'new', RAFTLOCK_CLUSTER_ID: cluster.clusterId! } });
    const leader = await waitForLeader(cluster, 20_000, [n2.id]);
    const reused = await acquire(cluster.node(leader).httpUrl, 'dl/lock', 'client-b');
    expect(reused.status).toBe(200); // the acknowledged lock is gone: what the refusal to start prevents
    for (let i = 0; i < 3; i++) expect((await acquire(cluster.node(leader).httpUrl, `dl/more-${i}`, 'client-b')).status).toBe(200);

    cluster.start(n2.id);
    const answer = await waitFor('n2 to say it has diverged', async () => {
      const r = await readyz(n2.httpUrl).catch(() => null);
      return r?.body?.reason === 'diverged' ? r : undefined;
    });
    expect(answer.status).toBe(503);
    expect(answer.body.message).toMatch(/which this member holds as committed with term \d+: the logs have diverged/);
    expect(await metricValue(n2.httpUrl, 'raftlock_member_problem{reason="diverged"}')).toBe(1);
    expect(readFileSync(n2.logFile, 'utf8')).toContain('this member has diverged from the cluster');
    expect((await httpJson(`${n2.httpUrl}/v1/status`)).body.problems).toEqual([expect.objectContaining({ reason: 'diverged' })]);
  });
});
