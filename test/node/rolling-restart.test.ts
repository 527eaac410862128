import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { RaftLockClient } from '../../src/client/index.js';
import { ProcessCluster, httpJson, metricValue, waitFor, waitForLeader, type NodeProcess } from '../support/process-cluster.js';

/**
 * A rolling restart with SIGTERM: a leader hands leadership to the most
 * caught-up member before it stops (TimeoutNow), so the restart costs no
 * election timeout. A client loops acquire/release throughout; no call may
 * fail (the client's retries are allowed), and no member may start an
 * election by the timeout path.
 */

let cluster: ProcessCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

/** electionsInLogs counts the elections every member logged over all its runs, by cause. */
function electionsInLogs(nodes: readonly NodeProcess[]): { timeout: number; transfer: number } {
  const counts = { timeout: 0, transfer: 0 };
  for (const n of nodes) {
    for (const line of readFileSync(n.logFile, 'utf8').split('\n')) {
      if (!line.includes('"election started"')) continue;
      const cause = (JSON.parse(line) as { cause: 'timeout' | 'transfer' }).cause;
      counts[cause]++;
    }
  }
  return counts;
}

/** handOffsInLogs lists how long each logged hand-off took (ms). */
function handOffsInLogs(nodes: readonly NodeProcess[]): number[] {
  const took: number[] = [];
  for (const n of nodes) {
    for (const line of readFileSync(n.logFile, 'utf8').split('\n')) {
      if (line.includes('"handed leadership over before stopping"')) took.push((JSON.parse(line) as { tookMs: number }).tookMs);
    }
  }
  return took;
}

async function statusOf(url: string): Promise<{ role: string; leader: string | null; commitIndex: number; appliedIndex: number }> {
  return (await httpJson(`${url}/v1/status`, 'GET', undefined, 2_000)).body;
}

describe('rolling restart with SIGTERM', () => {
  it('hands leadership over at each leader stop: no failed operation, no election by timeout', async () => {
    cluster = await ProcessCluster.create({ nodes: 3 });
    cluster.startAll();
    await waitForLeader(cluster);
    for (const n of cluster.nodes) await waitFor(`${n.id} ready`, async () => ((await httpJson(`${n.httpUrl}/readyz`)).status === 200 ? true : undefined));
    const before = electionsInLogs(cluster.nodes);

    const client = new RaftLockClient({ endpoints: cluster.endpoints(), maxRetries: 12, requestTimeoutMs: 5_000, callTimeoutMs: 30_000 });
    let running = true;
    const done = { ops: 0, failures: [] as string[], slowestMs: 0 };
    const loop = (async () => {
      for (let i = 0; running; i++) {
        const startedMs = performance.now();
        try {
          const lock = await client.acquire(`roll/${i % 8}`, { ttlMs: 10_000 });
          await lock.release();
          done.ops++;
        } catch (err) {
          done.failures.push(`${(err as Error).name}: ${(err as Error).message}`);
        }
        done.slowestMs = Math.max(done.slowestMs, performance.now() - startedMs);
      }
    })();

    const leadersStopped: string[] = [];
    const stopMs: number[] = [];
    try {
      for (const node of cluster.nodes) {
        const leader = await waitForLeader(cluster);
        if (leader === node.id) leadersStopped.push(node.id);
        const stopStartedMs = performance.now();
        await cluster.kill(node.id, 'SIGTERM');
        stopMs.push(Math.round(performance.now() - stopStartedMs));
        cluster.start(node.id);
        // Back, and caught up with the leader, before the next member goes.
        await waitFor(`${node.id} ready`, async () => ((await httpJson(`${node.httpUrl}/readyz`)).status === 200 ? true : undefined));
        const now = await waitForLeader(cluster);
        const target = (await statusOf(cluster.node(now).httpUrl)).commitIndex;
        await waitFor(`${node.id} caught up`, async () => ((await statusOf(node.httpUrl)).appliedIndex >= target ? true : undefined));
      }
      // A few more operations after the last restart.
      const settled = done.ops + 20;
      await waitFor('operations after the last restart', async () => (done.ops >= settled ? true : undefined), 30_000);
    } finally {
      running = false;
      await loop;
    }

    const after = electionsInLogs(cluster.nodes);
    const handOffs = handOffsInLogs(cluster.nodes);
    console.log(
      `rolling restart: ${done.ops} acquire/release cycles, ${done.failures.length} failed, slowest ${Math.round(done.slowestMs)} ms; ` +
        `leaders stopped: ${leadersStopped.join(',')}; hand-offs took ${handOffs.join(', ')} ms; SIGTERM to exit ${stopMs.join(', ')} ms; ` +
        `elections during the restart: timeout ${after.timeout - before.timeout}, transfer ${after.transfer - before.transfer}`,
    );
    expect(done.failures).toEqual([]);
    expect(done.ops).toBeGreaterThan(20);
    // A member stops promptly: the hand-off is bounded by two election timeouts (1 s), and no keep-alive socket
    // holds the HTTP server open (it used to, for the 72 s keep-alive timeout).
    for (const ms of stopMs) expect(ms).toBeLessThan(10_000);
    expect(leadersStopped.length).toBeGreaterThanOrEqual(1);
    expect(handOffs).toHaveLength(leadersStopped.length);
    expect(after.timeout - before.timeout).toBe(0);
    expect(after.transfer - before.transfer).toBe(leadersStopped.length);
    // Every member is a new process now, and none has started an election by timeout.
    for (const n of cluster.nodes) expect(await metricValue(n.httpUrl, 'raftlock_elections_total{cause="timeout"}')).toBe(0);
  });
});
