import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessCluster, httpJson, metricValue, waitFor, waitForLeader, type NodeProcess } from '../support/process-cluster.js';

/**
 * A member that finds it is not a healthy part of its cluster says so in its
 * log, /readyz (503 not_ready with a reason) and /metrics. Here a wiped member
 * is bootstrapped again with a new cluster id, and its peers refuse it. (A
 * diverged member: wiped-member.test.ts. A removed one needs membership
 * change; member-health.test.ts covers the check.)
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
});
