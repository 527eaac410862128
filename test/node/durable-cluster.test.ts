import { openSync, readdirSync, statSync, writeSync, closeSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessCluster, httpJson, metricValue, runCli, waitFor, waitForLeader } from '../support/process-cluster.js';

/**
 * Real `raftlock serve` processes: crashes by kill -9, restarts from disk,
 * catch-up by snapshot, and refusal to start on a damaged store.
 */

let cluster: ProcessCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

async function acquire(url: string, name: string, owner: string, ttlMs = 600_000): Promise<number> {
  const r = await httpJson(`${url}/v1/locks/${encodeURIComponent(name)}/acquire`, 'POST', { owner, ttlMs, requestId: `${owner}-${name}` });
  if (r.status !== 200) throw new Error(`acquire ${name} on ${url}: ${r.status} ${JSON.stringify(r.body)}`);
  return (r.body as { token: number }).token;
}

async function status(url: string): Promise<{ role: string; leader: string | null; commitIndex: number; appliedIndex: number; term: number }> {
  return (await httpJson(`${url}/v1/status`, 'GET', undefined, 2000)).body;
}

/** runServe starts one serve process on a data dir and returns its exit code and output (bounded by a timeout). */
function runServe(args: string[]): Promise<{ code: number | null; output: string }> {
  return runCli(['serve', ...args], 20_000, cluster?.serveEnv() ?? process.env);
}

describe('a durable 3-node cluster of real processes', () => {
  it('elects a new leader after kill -9 of the leader, keeps committing, and the restarted node catches up', async () => {
    cluster = await ProcessCluster.create({ nodes: 3 });
    cluster.startAll();
    const leader = await waitForLeader(cluster);
    const leaderUrl = cluster.node(leader).httpUrl;
    const before = await acquire(leaderUrl, 'before-crash', 'alice');

    await cluster.kill(leader, 'SIGKILL');
    const survivors = cluster.nodes.filter((n) => n.id !== leader);
    const next = await waitForLeader(cluster, 20_000, [leader]);
    expect(next).not.toBe(leader);
    const nextUrl = cluster.node(next).httpUrl;
    const after = await acquire(survivors[0]!.httpUrl, 'after-crash', 'bob');
    expect(after).toBeGreaterThan(before);
    // The lock taken before the crash is still held with the same token.
    const view = await httpJson(`${nextUrl}/v1/locks/before-crash`);
    expect(view.body.holders[0].token).toBe(before);

    cluster.start(leader);
    const target = (await status(nextUrl)).commitIndex;
    await waitFor('the restarted node to catch up', async () => {
      const s = await status(cluster!.node(leader).httpUrl);
      return s.appliedIndex >= target && s.leader === next ? true : undefined;
    });
  });

  it('keeps every acknowledged lock after kill -9 of all three nodes at once', async () => {
    cluster = await ProcessCluster.create({ nodes: 3 });
    cluster.startAll();
    const leader = await waitForLeader(cluster);
    const url = cluster.node(leader).httpUrl;
    const tokens = new Map<string, number>();
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        tokens.set(`job-${i}`, await acquire(url, `job-${i}`, `owner-${i}`));
      }),
    );
    await Promise.all(cluster.nodes.map((n) => cluster!.kill(n.id, 'SIGKILL')));
    cluster.startAll();
    const newLeader = await waitForLeader(cluster);
    const newUrl = cluster.node(newLeader).httpUrl;
    for (const [name, token] of tokens) {
      const view = await httpJson(`${newUrl}/v1/locks/${name}`);
      expect(view.status).toBe(200);
      expect(view.body.holders.map((h: { token: number }) => h.token)).toEqual([token]);
    }
  });

  it('catches up a follower restarted after compaction by sending it a snapshot', async () => {
    cluster = await ProcessCluster.create({ nodes: 3, extraArgs: ['--snapshot-every', '50'] });
    cluster.startAll();
    const leader = await waitForLeader(cluster);
    const lagging = cluster.nodes.find((n) => n.id !== leader)!;
    await cluster.kill(lagging.id, 'SIGKILL');
    const url = cluster.node(leader).httpUrl;
    for (let i = 0; i < 150; i++) await acquire(url, `compacted-${i}`, 'carol');
    expect(await metricValue(url, 'raftlock_raft_first_index')).toBeGreaterThan(50);
    cluster.start(lagging.id);
    const target = (await status(url)).commitIndex;
    await waitFor('the lagging follower to catch up', async () => ((await status(lagging.httpUrl)).appliedIndex >= target ? true : undefined));
    expect(await metricValue(lagging.httpUrl, 'raftlock_raft_snapshots_installed_total')).toBeGreaterThanOrEqual(1);
    // The follower's state came through the snapshot: it can serve as leader with the same locks.
    await cluster.kill(leader, 'SIGKILL');
    const next = await waitForLeader(cluster, 20_000, [leader]);
    const view = await httpJson(`${cluster.node(next).httpUrl}/v1/locks/compacted-7`);
    expect(view.body.holders[0].owner).toBe('carol');
  });

  it('refuses to start on a damaged store and says which file and what is wrong', async () => {
    cluster = await ProcessCluster.create({ nodes: 1, extraArgs: ['--snapshot-every', '100000'] });
    cluster.startAll();
    const only = cluster.nodes[0]!;
    await waitForLeader(cluster);
    for (let i = 0; i < 300; i++) await acquire(only.httpUrl, `damage-${i}`, 'dave');
    await cluster.kill(only.id, 'SIGKILL');
    const args = cluster.argsFor(only).slice(2);

    // A clean restart works (the kill -9 left a store that loads).
    const files = readdirSync(only.dataDir);
    const logFile = files.filter((f) => f.endsWith('.log')).map((f) => join(only.dataDir, f)).sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
    expect(statSync(logFile).size).toBeGreaterThan(4096);

    // Bytes overwritten in the middle of the LevelDB write-ahead log.
    const fd = openSync(logFile, 'r+');
    writeSync(fd, Buffer.alloc(64, 0xab), 0, 64, Math.floor(statSync(logFile).size / 2));
    closeSync(fd);
    const garbled = await runServe(args);
    expect(garbled.code).toBe(1);
    expect(garbled.output).toMatch(/refusing to start/);
    expect(garbled.output).toContain(logFile.split('/').pop()!);
  });

  it('refuses to start on a truncated LevelDB table file', async () => {
    cluster = await ProcessCluster.create({ nodes: 1 });
    cluster.startAll();
    const only = cluster.nodes[0]!;
    await waitForLeader(cluster);
    for (let i = 0; i < 200; i++) await acquire(only.httpUrl, `trunc-${i}`, 'erin');
    await cluster.kill(only.id, 'SIGTERM');
    // Reopening turns LevelDB's write-ahead log into a sorted table (.ldb); restart once, cleanly.
    cluster.start(only.id);
    await waitForLeader(cluster);
    await cluster.kill(only.id, 'SIGTERM');
    const table = readdirSync(only.dataDir).filter((f) => f.endsWith('.ldb')).map((f) => join(only.dataDir, f)).sort((a, b) => statSync(b).size - statSync(a).size)[0];
    expect(table).toBeDefined();
    truncateSync(table!, Math.floor(statSync(table!).size / 2) + 3);
    const result = await runServe(cluster.argsFor(only).slice(2));
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/refusing to start/);
    expect(result.output).toContain(table!.split('/').pop()!);
  });

  it('refuses a data dir that belongs to another node id', async () => {
    cluster = await ProcessCluster.create({ nodes: 1 });
    cluster.startAll();
    const only = cluster.nodes[0]!;
    await waitForLeader(cluster);
    await cluster.kill(only.id, 'SIGTERM');
    const args = cluster.argsFor(only).slice(2).map((a) => a.replace(/^n1=/, 'x1=').replace(/^n1$/, 'x1'));
    const result = await runServe(args);
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/refusing to start/);
    expect(result.output).toMatch(/n1/);
  });

  it('rejects bad flags with a usage message and exit code 2', async () => {
    const result = await runServe(['--id', 'n1', '--http', 'nonsense', '--peers', 'n1=127.0.0.1:1', '--data-dir', '/tmp/x']);
    expect(result.code).toBe(2);
    expect(result.output).toMatch(/--http: expected host:port/);
    expect(result.output).toMatch(/usage: raftlock serve/);
  });
});
