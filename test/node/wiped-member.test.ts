import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessCluster, httpJson, waitFor, waitForLeader } from '../support/process-cluster.js';

/**
 * Issue 13's wiped data dir, as a regression test. Before explicit bootstrap,
 * n3 came back with an empty store (term 0, no vote), formed a majority with
 * a stale n1, and the pair lost an acknowledged lock and reused its token.
 * Now n3 refuses to start, and nothing is lost once n2 returns.
 */

let cluster: ProcessCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

async function acquire(url: string, name: string, owner: string): Promise<{ status: number; body: any }> {
  return httpJson(`${url}/v1/locks/${encodeURIComponent(name)}/acquire`, 'POST', { owner, ttlMs: 600_000, requestId: `${owner}-${name}` });
}

describe('a member whose data dir was wiped', () => {
  it('refuses to start, and no acknowledged lock is lost nor any token reused', async () => {
    cluster = await ProcessCluster.create({ nodes: 3 });
    cluster.startAll();
    await waitForLeader(cluster);
    const [n1, n2, n3] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]];

    // n1 misses the lock: it is acknowledged by n2 and n3 alone.
    await cluster.kill(n1.id, 'SIGTERM');
    await waitForLeader(cluster, 20_000, [n1.id]);
    const granted = await acquire(n2.httpUrl, 'dl/lock', 'client-a');
    expect(granted.status).toBe(200);
    const token = granted.body.token as number;

    await cluster.kill(n2.id, 'SIGTERM');
    await cluster.kill(n3.id, 'SIGTERM');
    rmSync(n3.dataDir, { recursive: true, force: true });
    mkdirSync(n3.dataDir);

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
    await waitFor('n1 to apply the new grant', async () => ((await httpJson(`${n1.httpUrl}/v1/status`)).body.appliedIndex >= fresh.body.token ? true : undefined));
  });
});
