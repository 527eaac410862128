import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessCluster, acquireLock as acquire, httpJson, runCli, waitForLeader } from '../support/process-cluster.js';

/**
 * Backup and restore like etcdctl snapshot save / etcdutl snapshot restore:
 * a consistent backup of a cluster holding locks, restored into a NEW
 * 3-member cluster, keeps the locks and their tokens, and new grants get
 * larger tokens. A damaged or truncated file is refused.
 */

const clusters: ProcessCluster[] = [];
let filesDir: string | null = null;
afterEach(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
  clusters.length = 0;
  if (filesDir !== null) rmSync(filesDir, { recursive: true, force: true });
  filesDir = null;
});

describe('snapshot save and restore', () => {
  it('restores the locks and their tokens into a new cluster, whose new grants get larger tokens', async () => {
    const source = await ProcessCluster.create({ nodes: 3 });
    clusters.push(source);
    source.startAll();
    const leader = await waitForLeader(source);
    const url = source.node(leader).httpUrl;
    const tokens = new Map<string, number>();
    for (let i = 0; i < 12; i++) {
      const r = await acquire(url, `jobs/${i}`, `worker-${i}`);
      expect(r.status).toBe(200);
      tokens.set(`jobs/${i}`, r.body.token);
    }
    const released = await acquire(url, 'jobs/released', 'worker-x');
    await httpJson(`${url}/v1/locks/jobs%2Freleased/release`, 'POST', { owner: 'worker-x', token: released.body.token });
    filesDir = mkdtempSync(join(tmpdir(), 'raftlock-backup-'));
    const file = join(filesDir, 'cluster.backup');

    // A follower names the leader; the CLI tries the endpoints in turn.
    const follower = source.nodes.find((n) => n.id !== leader)!;
    const fromFollower = await httpJson(`${follower.httpUrl}/v1/snapshot`);
    expect([fromFollower.status, fromFollower.body.leader]).toEqual([503, leader]);
    const saved = await runCli(['snapshot', 'save', file, '--endpoints', [follower.httpUrl, url].join(',')]);
    expect(saved.code).toBe(0);
    expect(saved.output).toMatch(new RegExp(`^saved a backup of cluster ${source.clusterId} at index \\d+ \\(term \\d+, members n1,n2,n3, taken on ${leader}\\)`));
    expect(readdirSync(filesDir)).toEqual(['cluster.backup']);
    await source.stop();

    const target = await ProcessCluster.create({ nodes: 3, bootstrap: false });
    clusters.push(target);
    const newId: string = randomUUID();
    const peers = target.nodes.map((n) => `${n.id}=${n.host}:${n.peerPort}`).join(',');
    const restore = (dataDir: string, id: string, clusterId = newId, from = file) =>
      runCli(['snapshot', 'restore', from, '--data-dir', dataDir, '--id', id, '--peers', peers, '--cluster-id', clusterId]);

    // Refused: the same cluster id (a restore makes a new cluster), a truncated file, a damaged one.
    const [t1] = target.nodes;
    const same = await restore(t1!.dataDir, t1!.id, source.clusterId!);
    expect([same.code, same.output]).toEqual([1, expect.stringContaining('a restore makes a NEW cluster')]);
    const bytes = readFileSync(file);
    const truncated = join(filesDir, 'truncated.backup');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 1000));
    const cut = await restore(t1!.dataDir, t1!.id, newId, truncated);
    expect(cut.code).toBe(1);
    expect(cut.output).toContain(`snapshot restore: ${truncated} is not an intact backup: truncated`);
    const damaged = join(filesDir, 'damaged.backup');
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 500] = flipped[flipped.length - 500]! ^ 0x10;
    writeFileSync(damaged, flipped);
    const bad = await restore(t1!.dataDir, t1!.id, newId, damaged);
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('is not an intact backup: damaged: the SHA-256 checksum does not match');
    expect(readdirSync(t1!.dataDir)).toEqual([]);

    for (const n of target.nodes) {
      const r = await restore(n.dataDir, n.id);
      expect(r.code, r.output).toBe(0);
      expect(r.output).toContain(`as member ${n.id} of the new cluster ${newId}`);
    }
    // Never over an existing store.
    const again = await restore(t1!.dataDir, t1!.id);
    expect([again.code, again.output]).toEqual([1, expect.stringContaining('already holds a store')]);

    target.startAll();
    const newLeader = await waitForLeader(target);
    const newUrl = target.node(newLeader).httpUrl;
    expect((await httpJson(`${newUrl}/v1/status`)).body.clusterId).toBe(newId);
    for (const [name, token] of tokens) {
      const view = await httpJson(`${newUrl}/v1/locks/${encodeURIComponent(name)}`);
      expect(view.body.holders.map((h: { token: number }) => h.token), name).toEqual([token]);
    }
    expect((await acquire(newUrl, 'jobs/3', 'someone-else')).status).toBe(409);
    const newest = Math.max(...tokens.values(), released.body.token);
    const fresh = await acquire(newUrl, 'jobs/released', 'worker-y');
    expect(fresh.status).toBe(200);
    expect(fresh.body.token).toBeGreaterThan(newest);
    const other = await acquire(newUrl, 'jobs/new', 'worker-z');
    expect(other.body.token).toBeGreaterThan(newest);
  });

  it('reads a usage error as one, and a missing file or directory as a failure', async () => {
    expect((await runCli(['snapshot'])).code).toBe(2);
    const unwritable = await runCli(['snapshot', 'save', '/nonexistent/dir/x.backup', '--endpoints', 'http://127.0.0.1:1']);
    expect([unwritable.code, unwritable.output]).toEqual([1, expect.stringContaining('cannot write /nonexistent/dir/x.backup')]);
    expect((await runCli(['snapshot', 'restore', 'x.backup', '--id', 'n1'])).code).toBe(2);
    const missing = await runCli(['snapshot', 'restore', '/nonexistent/x.backup', '--data-dir', '/tmp/nowhere', '--id', 'n1', '--peers', 'n1=127.0.0.1:1', '--cluster-id', 'c']);
    expect(missing.code).toBe(1);
    expect(missing.output).toMatch(/ENOENT/);
  });
});
