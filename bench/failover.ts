/**
 * `node dist/bench/failover.js [--rounds 20]`: leader failover time of a
 * 3-node cluster. Each round finds the leader, kills it with SIGKILL, and
 * measures the time until the survivors agree on a new leader AND an
 * acquire on it succeeds; then restarts the killed node and waits until it
 * has applied everything the leader committed. Prints the median and max.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { HttpConnection } from './lib/mini-http.js';
import { median, percentile } from './lib/percentile.js';
import { installSignalHandlers, runMain } from './lib/process-registry.js';
import { raftlockLeader, startRaftlockCluster } from './lib/systems.js';

type Status = { id: string; role: string; leader: string | null; commitIndex: number; appliedIndex: number };

async function status(port: number, timeoutMs = 500): Promise<Status | null> {
  const conn = new HttpConnection('127.0.0.1', port);
  try {
    const res = await conn.json('GET', '/v1/status', undefined, timeoutMs);
    return res.status === 200 ? (res.body as Status) : null;
  } catch {
    return null;
  } finally {
    conn.close();
  }
}

async function tryAcquire(port: number, name: string): Promise<boolean> {
  const conn = new HttpConnection('127.0.0.1', port);
  try {
    const res = await conn.request('POST', `/v1/locks/${name}/acquire`, '{"owner":"failover","ttlMs":5000}', 2_000);
    return res.status === 200;
  } catch {
    return false;
  } finally {
    conn.close();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '20' } }, strict: true });
  installSignalHandlers();
  const rounds = Number(values.rounds);
  if (!(rounds >= 1 && rounds <= 1000)) throw new Error('--rounds 1..1000');
  const cluster = await startRaftlockCluster(['--log-level', 'warn']);
  const electedMs: number[] = [];
  const writeMs: number[] = [];
  const catchUpMs: number[] = [];
  try {
    await raftlockLeader(cluster);
    for (let round = 1; round <= rounds; round++) {
      const old = await raftlockLeader(cluster, 30_000);
      // A write before the kill, so the new leader has something to carry over.
      if (!(await tryAcquire(old.httpPort, `before-${round}`))) throw new Error(`round ${round}: the leader refused a write before the kill`);
      const survivors = cluster.nodes.filter((n) => n.id !== old.id);
      const t0 = performance.now();
      await cluster.kill(old.id, 'SIGKILL');
      let elected = Number.NaN;
      let wrote = Number.NaN;
      // Bounded: 30 s per round.
      while (performance.now() - t0 < 30_000) {
        const views = await Promise.all(survivors.map((n) => status(n.httpPort)));
        const leader = views.find((v): v is Status => v !== null && v.role === 'leader' && v.id !== old.id);
        if (leader !== undefined && views.every((v) => v !== null && v.leader === leader.id)) {
          if (!Number.isFinite(elected)) elected = performance.now() - t0;
          const node = cluster.node(leader.id);
          if (await tryAcquire(node.httpPort, `after-${round}`)) {
            wrote = performance.now() - t0;
            break;
          }
        }
        await sleep(10);
      }
      if (!Number.isFinite(wrote)) throw new Error(`round ${round}: no new leader accepted a write within 30 s`);
      electedMs.push(elected);
      writeMs.push(wrote);
      // Restart the old leader and wait until it has applied everything committed.
      const leaderNow = await raftlockLeader(cluster, 30_000, [old.id]);
      const target = (await status(leaderNow.httpPort))?.commitIndex ?? 0;
      const t1 = performance.now();
      cluster.start(old.id);
      let caughtUp = Number.NaN;
      while (performance.now() - t1 < 60_000) {
        const s = await status(old.httpPort);
        if (s !== null && s.appliedIndex >= target) {
          caughtUp = performance.now() - t1;
          break;
        }
        await sleep(20);
      }
      if (!Number.isFinite(caughtUp)) throw new Error(`round ${round}: the restarted node did not catch up within 60 s`);
      catchUpMs.push(caughtUp);
      console.log(`round ${String(round).padStart(2)}: killed ${old.id}; new leader ${leaderNow.id} elected after ${elected.toFixed(0)} ms, first write after ${wrote.toFixed(0)} ms; restarted node caught up after ${caughtUp.toFixed(0)} ms`);
    }
  } finally {
    await cluster.stop();
  }
  const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
  console.log(`failover over ${rounds} rounds (kill -9 of the leader; election timeout 10 ticks x 50 ms, randomized):`);
  console.log(`  new leader elected: median ${median(electedMs).toFixed(0)} ms, p90 ${percentile(sorted(electedMs), 90).toFixed(0)} ms, max ${Math.max(...electedMs).toFixed(0)} ms`);
  console.log(`  first write accepted: median ${median(writeMs).toFixed(0)} ms, p90 ${percentile(sorted(writeMs), 90).toFixed(0)} ms, max ${Math.max(...writeMs).toFixed(0)} ms`);
  console.log(`  restarted node caught up: median ${median(catchUpMs).toFixed(0)} ms, max ${Math.max(...catchUpMs).toFixed(0)} ms`);
  return 0;
}

runMain(main);
