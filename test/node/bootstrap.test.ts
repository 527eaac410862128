import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessCluster, freePort, httpJson, runCli, waitForLeader } from '../support/process-cluster.js';

/**
 * Explicit bootstrap (issue 13): an empty data dir never forms or joins a
 * cluster by itself, and a store's cluster id is authoritative.
 */

let cluster: ProcessCluster | null = null;
let dir: string | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
  if (dir !== null) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

async function serveArgs(dataDir: string): Promise<string[]> {
  // A secret, since serve requires peer security; these tests are about the store.
  return ['--id', 'n1', '--data-dir', dataDir, '--http', `127.0.0.1:${await freePort()}`, '--peers', `n1=127.0.0.1:${await freePort()}`, '--secret', '0123456789abcdef'];
}

describe('bootstrap of a member', () => {
  it('refuses an empty data dir without --initial-cluster-state, naming the dir and what to do, and creates nothing', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftlock-bootstrap-'));
    const r = await runCli(['serve', ...(await serveArgs(dir))]);
    expect(r.code).toBe(1);
    expect(r.output).toContain(`refusing to start: ${dir} holds no raftlock store`);
    expect(r.output).toContain('--initial-cluster-state new --cluster-id ID');
    expect(r.output).toContain('(no_store)');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes `existing` without the running cluster\'s id as a usage error (exit 2), and creates nothing', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftlock-bootstrap-'));
    const r = await runCli(['serve', ...(await serveArgs(dir)), '--initial-cluster-state', 'existing']);
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/existing needs --cluster-id: the id of the running cluster/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes `new` without a cluster id as a usage error (exit 2)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftlock-bootstrap-'));
    const r = await runCli(['serve', ...(await serveArgs(dir)), '--initial-cluster-state', 'new']);
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/new needs --cluster-id/);
    expect(r.output).toMatch(/usage: raftlock serve/);
  });

  it('keeps the cluster id it was created with: a restart needs no flag, and a disagreeing --cluster-id is refused', async () => {
    cluster = await ProcessCluster.create({ nodes: 1 });
    cluster.startAll();
    const only = cluster.nodes[0]!;
    await waitForLeader(cluster);
    expect((await httpJson(`${only.httpUrl}/v1/status`)).body.clusterId).toBe(cluster.clusterId);
    await cluster.kill(only.id, 'SIGTERM');

    const restart = cluster.argsFor(only).slice(2);
    expect(restart).not.toContain('--initial-cluster-state');
    const refused = await runCli(['serve', ...restart, '--cluster-id', 'another-cluster'], 20_000, cluster.serveEnv());
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(`belongs to cluster ${cluster.clusterId}, but --cluster-id (or RAFTLOCK_CLUSTER_ID) says another-cluster`);
    expect(refused.output).toContain('(cluster_id_mismatch)');
    const refusedNew = await runCli(['serve', ...restart, '--initial-cluster-state', 'new', '--cluster-id', 'another-cluster'], 20_000, cluster.serveEnv());
    expect([refusedNew.code, refusedNew.output]).toEqual([1, expect.stringContaining(`belongs to cluster ${cluster.clusterId}, but --cluster-id`)]);

    // `new` again on a store is ignored (etcd's rule), with the store's id; the member restarts as it was.
    cluster.start(only.id, { env: { RAFTLOCK_INITIAL_CLUSTER_STATE: 'new', RAFTLOCK_CLUSTER_ID: cluster.clusterId! } });
    await waitForLeader(cluster);
    expect((await httpJson(`${only.httpUrl}/v1/status`)).body.clusterId).toBe(cluster.clusterId);
  });
});
