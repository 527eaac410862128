/**
 * How long a new member takes to join a cluster that holds many locks (issue 13): the cluster is seeded with
 * `--locks` held locks through a backup restore (no minutes of acquires first), a fourth member is added as a
 * learner and started empty with `--initial-cluster-state existing`, and the bench times, from its start:
 * ready (it knows the configuration), caught up (applied the leader's commit index), and promoted to voter.
 * A client loops acquire/release on the founders meanwhile; its failed calls are reported (they should be 0).
 *
 *   npm run build && node dist/bench/learner-catch-up.js [--locks 100000]
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { RaftLockClient } from '../src/client/index.js';
import { LeaseTable, SNAPSHOT_FORMAT } from '../src/locks/index.js';
import { restoreBackup } from '../src/node/restore-backup.js';
import { BACKUP_FORMAT_VERSION, encodeBackup } from '../src/storage/index.js';
import { ProcessCluster, httpJson, runCli, waitFor, waitForLeader } from '../test/support/process-cluster.js';

const HOLD_TTL_MS = 3_600_000;
/** Bound on each phase: a learner that has not caught up by then is a failure to report, not to wait for. */
const PHASE_TIMEOUT_MS = 300_000;

function seededBackup(locks: number): Buffer {
  const table = new LeaseTable();
  const t0 = 1_000_000;
  for (let i = 0; i < locks; i++) {
    table.apply(
      { type: 'acquire', name: `held/${i}`, owner: `o${i % 256}`, mode: 'exclusive', waitMs: 0, ttlMs: HOLD_TTL_MS, requestId: `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}` },
      { index: i + 1, timeMs: t0 },
    );
  }
  const data = table.snapshot();
  const header = {
    formatVersion: BACKUP_FORMAT_VERSION,
    clusterId: 'bench-seed',
    takenFrom: 'n1',
    takenAt: new Date().toISOString(),
    index: locks,
    term: 1,
    members: ['n1', 'n2', 'n3'],
    dataFormat: SNAPSHOT_FORMAT,
    dataBytes: data.length,
  };
  return Buffer.concat(encodeBackup({ header, data }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { locks: { type: 'string', default: '100000' } } });
  const locks = Number(values.locks);
  if (!Number.isInteger(locks) || locks < 1) throw new Error('--locks: a positive integer');
  const backup = seededBackup(locks);
  const cluster = await ProcessCluster.create({ nodes: 4, bootstrap: false });
  try {
    const clusterId = randomUUID();
    const founders = cluster.nodes.filter((n) => n.id !== 'n4');
    const peers = founders.map((n) => `${n.id}=${n.host}:${n.peerPort}`).join(',');
    for (const n of founders) {
      await restoreBackup(backup, { dataDir: n.dataDir, id: n.id, clusterId, voters: founders.map((f) => f.id) });
      cluster.start(n.id);
    }
    const leader = await waitForLeader(cluster, 60_000);
    console.log(`seeded ${locks} held locks (backup ${(backup.length / 1e6).toFixed(1)} MB) into n1-n3 (--peers ${peers}); leader ${leader}`);

    const client = new RaftLockClient({ endpoints: founders.map((n) => n.httpUrl), maxRetries: 12, requestTimeoutMs: 5_000, callTimeoutMs: 30_000 });
    let running = true;
    const ops = { ok: 0, failed: 0 };
    const loop = (async () => {
      for (let i = 0; running; i++) {
        try {
          await (await client.acquire(`bench/${i % 8}`, { ttlMs: 10_000 })).release();
          ops.ok++;
        } catch {
          ops.failed++;
        }
      }
    })();

    const n4 = cluster.node('n4');
    const cli = (...args: string[]) => runCli([...args, '--endpoints', founders.map((n) => n.httpUrl).join(',')], 60_000);
    const added = await cli('member', 'add', 'n4', '--peer-address', `127.0.0.1:${n4.peerPort}`, '--http-url', n4.httpUrl);
    if (added.code !== 0) throw new Error(`member add: ${added.output}`);
    const startedMs = performance.now();
    cluster.start('n4', { env: { RAFTLOCK_INITIAL_CLUSTER_STATE: 'existing', RAFTLOCK_CLUSTER_ID: clusterId } });
    await waitFor('n4 ready', async () => ((await httpJson(`${n4.httpUrl}/readyz`, 'GET', undefined, 2_000)).status === 200 ? true : undefined), PHASE_TIMEOUT_MS, 20);
    const readyMs = performance.now() - startedMs;
    const leaderNow = await waitForLeader(cluster, 60_000);
    const target = (await httpJson(`${cluster.node(leaderNow).httpUrl}/v1/status`)).body.commitIndex as number;
    await waitFor('n4 caught up', async () => ((await httpJson(`${n4.httpUrl}/v1/status`, 'GET', undefined, 2_000)).body.appliedIndex >= target ? true : undefined), PHASE_TIMEOUT_MS, 20);
    const caughtUpMs = performance.now() - startedMs;
    const promoted = await cli('member', 'promote', 'n4', '--wait', String(PHASE_TIMEOUT_MS));
    if (promoted.code !== 0) throw new Error(`member promote: ${promoted.output}`);
    const promotedMs = performance.now() - startedMs;
    const held = (await httpJson(`${n4.httpUrl}/v1/locks/${encodeURIComponent(`held/${locks - 1}`)}`)).body;
    running = false;
    await loop;
    console.log(
      `learner n4 with ${locks} locks: ready ${readyMs.toFixed(0)} ms, caught up ${caughtUpMs.toFixed(0)} ms, promoted ${promotedMs.toFixed(0)} ms after its start; ` +
        `client meanwhile: ${ops.ok} acquire/release cycles, ${ops.failed} failed; the last seeded lock on n4: ${held.holders?.length === 1 ? 'held' : JSON.stringify(held)}`,
    );
    if (ops.failed > 0 || held.holders?.length !== 1) process.exitCode = 1;
  } finally {
    await cluster.stop();
  }
}

await main();
