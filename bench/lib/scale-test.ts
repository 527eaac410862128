import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { LeaseTable } from '../../src/locks/index.js';
import type { ProcessCluster } from '../../test/support/process-cluster.js';
import { HttpConnection } from './mini-http.js';
import { dirBytes, statusKb } from './proc-stats.js';
import { raftlockLeader, startRaftlockCluster } from './systems.js';

/** ScaleResult is the 1M-held-locks test. */
export interface ScaleResult {
  readonly locks: number;
  readonly acquired: number;
  readonly loadSec: number;
  readonly acquiresPerSec: number;
  /** Times the leader changed while the locks were loaded (the target: none). */
  readonly leaderChanges: number;
  readonly heapBeforeBytes: number;
  readonly heapAfterBytes: number;
  readonly heapBytesPerLock: number;
  readonly followerHeapBytesPerLock: number;
  readonly leaderRssMiB: number;
  readonly snapshotBytes: number;
  readonly snapshotIndex: number;
  readonly snapshotsLogged: number;
  readonly levelDbBytes: readonly number[];
  /** LeaseTable.snapshot() / restore() of the same 1M locks, timed in the bench process. */
  readonly snapshotEncodeMs: number;
  readonly snapshotDecodeMs: number;
  readonly restartToHttpMs: number;
  readonly restartToServingMs: number;
}

export interface ScaleOptions {
  readonly locks: number;
  readonly clients: number;
  readonly log: (line: string) => void;
  /** Bound on the load phase. */
  readonly maxLoadMs?: number;
}

const HOLD_TTL_MS = 3_600_000;
/** The load gives up when this many attempts in a row failed (the cluster is down, not slow). */
const MAX_CONSECUTIVE_FAILURES = 5_000;

async function metric(url: string, name: string): Promise<number> {
  const conn = new HttpConnection(new URL(url).hostname, Number(new URL(url).port));
  try {
    const res = await conn.request('GET', '/metrics', undefined, 10_000);
    const m = new RegExp(`^${name} ([0-9.e+]+)`, 'm').exec(res.body);
    return m === null ? Number.NaN : Number(m[1]);
  } finally {
    conn.close();
  }
}

/** settledHeap samples heap use for `ms` and returns the minimum: V8's memory reducer collects garbage once a node idles. */
async function settledHeap(url: string, ms: number): Promise<number> {
  let min = Infinity;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    min = Math.min(min, await metric(url, 'nodejs_heap_size_used_bytes'));
    await sleep(500);
  }
  return min;
}

async function status(url: string): Promise<{ role: string; commitIndex: number; appliedIndex: number } | null> {
  const conn = new HttpConnection(new URL(url).hostname, Number(new URL(url).port));
  try {
    const res = await conn.json('GET', '/v1/status', undefined, 1_000);
    return res.status === 200 ? res.body : null;
  } catch {
    return null;
  } finally {
    conn.close();
  }
}

/** timeSnapshotOffline builds a LeaseTable holding `locks` locks shaped like the cluster's and times snapshot and restore. */
function timeSnapshotOffline(locks: number): { encodeMs: number; decodeMs: number; bytes: number } {
  const table = new LeaseTable();
  const t0 = Date.now();
  for (let i = 0; i < locks; i++) {
    table.apply(
      { type: 'acquire', name: `k${i}`, owner: `o${i % 256}`, mode: 'exclusive', waitMs: 0, ttlMs: HOLD_TTL_MS, requestId: `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}` },
      { index: i + 1, timeMs: t0 + Math.floor(i / 10) },
    );
  }
  let s = performance.now();
  const bytes = table.snapshot();
  const encodeMs = performance.now() - s;
  s = performance.now();
  const restored = LeaseTable.restore(bytes);
  const decodeMs = performance.now() - s;
  if (restored.size !== table.size) throw new Error(`offline snapshot restore lost locks: ${restored.size} != ${table.size}`);
  return { encodeMs, decodeMs, bytes: bytes.length };
}

function lastSnapshotLine(logFile: string): { bytes: number; index: number; count: number } {
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return { bytes: Number.NaN, index: Number.NaN, count: 0 };
  }
  let last = { bytes: Number.NaN, index: Number.NaN, count: 0 };
  for (const line of text.split('\n')) {
    if (!line.includes('snapshot taken')) continue;
    try {
      const j = JSON.parse(line) as { bytes: number; index: number };
      last = { bytes: j.bytes, index: j.index, count: last.count + 1 };
    } catch {
      // not JSON
    }
  }
  return last;
}

/**
 * runScaleTest holds `locks` locks in a fresh 3-node cluster
 * (--snapshot-every 100000), then reports heap per lock, snapshot size and
 * time, and how long a follower killed with SIGKILL takes from process start
 * to serving with everything applied.
 */
export async function runScaleTest(opts: ScaleOptions): Promise<ScaleResult> {
  const { log } = opts;
  log(`scale: starting a 3-node cluster for ${opts.locks} held locks`);
  const cluster: ProcessCluster = await startRaftlockCluster(['--log-level', 'info', '--snapshot-every', '100000']);
  let ok = false;
  try {
    const leader = await raftlockLeader(cluster);
    await sleep(1_000);
    const heapsBefore = await Promise.all(cluster.nodes.map((n) => settledHeap(n.httpUrl, 3_000)));
    const heapBefore = heapsBefore[cluster.nodes.indexOf(leader)]!;
    log(`scale: leader ${leader.id} heap ${(heapBefore / 1048576).toFixed(1)} MiB before; acquiring with ${opts.clients} clients`);

    let next = 0;
    let acquired = 0;
    let failures = 0;
    let consecutiveFailures = 0;
    const started = performance.now();
    const deadline = started + (opts.maxLoadMs ?? 30 * 60_000);
    const progress = setInterval(() => log(`scale: ${acquired} locks held, ${(acquired / ((performance.now() - started) / 1000)).toFixed(0)}/s`), 15_000);
    // Follow the leader (a snapshot pause can cost the leadership): a follower would forward every request.
    let leaderPort = leader.httpPort;
    let leaderChanges = 0;
    const follow = setInterval(() => {
      void Promise.all(cluster.nodes.map(async (n) => ({ n, s: await status(n.httpUrl) }))).then((views) => {
        const l = views.find((v) => v.s?.role === 'leader');
        if (l !== undefined && l.n.httpPort !== leaderPort) {
          leaderPort = l.n.httpPort;
          leaderChanges++;
          log(`scale: the leader is now ${l.n.id}`);
        }
      });
    }, 1_000);
    try {
      await Promise.all(
        Array.from({ length: opts.clients }, async (_, c) => {
          let conn = new HttpConnection('127.0.0.1', leaderPort);
          try {
            // Bounded by the lock count and the deadline.
            while (next < opts.locks && performance.now() < deadline && consecutiveFailures < MAX_CONSECUTIVE_FAILURES) {
              const i = next++;
              let done = false;
              if (conn.port !== leaderPort) {
                conn.close();
                conn = new HttpConnection('127.0.0.1', leaderPort);
              }
              for (let attempt = 0; attempt < 20 && !done; attempt++) {
                try {
                  const res = await conn.request('POST', `/v1/locks/k${i}/acquire`, `{"owner":"o${c}","ttlMs":${HOLD_TTL_MS}}`);
                  if (res.status === 200) {
                    done = true;
                    consecutiveFailures = 0;
                  }
                  else if (res.status === 503) await sleep(10);
                  else throw new Error(`acquire k${i}: ${res.status} ${res.body.slice(0, 200)}`);
                } catch (err) {
                  failures++;
                  consecutiveFailures++;
                  if (failures < 5) log(`scale: ${(err as Error).message}`);
                  await sleep(10);
                }
              }
              if (done) acquired++;
            }
          } finally {
            conn.close();
          }
        }),
      );
    } finally {
      clearInterval(progress);
      clearInterval(follow);
    }
    if (consecutiveFailures >= MAX_CONSECUTIVE_FAILURES) throw new Error(`the cluster stopped accepting acquires after ${acquired} locks (${failures} failed attempts; logs in ${cluster.baseDir})`);
    const loadSec = (performance.now() - started) / 1000;
    log(`scale: ${acquired} locks held in ${loadSec.toFixed(1)} s (${(acquired / loadSec).toFixed(0)}/s), ${failures} failed attempts, ${leaderChanges} leader changes`);

    const leaderNow = cluster.nodes.find((n) => n.httpPort === leaderPort)!;
    const leaderStatus = await status(leaderNow.httpUrl);
    if (leaderStatus === null) throw new Error('the leader stopped answering');
    // Every follower applies everything before memory is read and the follower is killed.
    for (const n of cluster.nodes) {
      const end = performance.now() + 120_000;
      while (performance.now() < end) {
        const s = await status(n.httpUrl);
        if (s !== null && s.appliedIndex >= leaderStatus.commitIndex) break;
        await sleep(100);
      }
    }
    // Memory is read on the node that led when the load started (it holds the same table whatever its role now).
    log('scale: reading settled heap use (10 s)');
    const heapAfter = await settledHeap(leader.httpUrl, 10_000);
    const leaderRssMiB = statusKb(cluster.pid(leader.id) ?? 0, 'VmRSS') / 1024;
    const snap = lastSnapshotLine(leader.logFile);
    const levelDbBytes = cluster.nodes.map((n) => dirBytes(n.dataDir));
    const follower = cluster.nodes.find((n) => n.id !== leaderNow.id)!;
    const followerHeapBefore = heapsBefore[cluster.nodes.indexOf(follower)]!;

    log(`scale: killing follower ${follower.id} (SIGKILL) and restarting it`);
    await cluster.kill(follower.id, 'SIGKILL');
    const target = (await status(leaderNow.httpUrl))?.commitIndex ?? leaderStatus.commitIndex;
    const t0 = performance.now();
    cluster.start(follower.id);
    let restartToHttpMs = Number.NaN;
    let restartToServingMs = Number.NaN;
    const end = t0 + 120_000;
    while (performance.now() < end) {
      const s = await status(follower.httpUrl);
      if (s !== null && !Number.isFinite(restartToHttpMs)) restartToHttpMs = performance.now() - t0;
      if (s !== null && s.appliedIndex >= target) {
        restartToServingMs = performance.now() - t0;
        break;
      }
      await sleep(20);
    }
    log(`scale: follower answered after ${(restartToHttpMs / 1000).toFixed(2)} s, caught up after ${(restartToServingMs / 1000).toFixed(2)} s`);
    const followerHeapAfter = await settledHeap(follower.httpUrl, 10_000);

    log('scale: timing LeaseTable snapshot/restore of the same lock count in this process');
    const offline = timeSnapshotOffline(acquired);
    ok = true;
    return {
      locks: opts.locks,
      acquired,
      loadSec,
      acquiresPerSec: acquired / loadSec,
      leaderChanges,
      heapBeforeBytes: heapBefore,
      heapAfterBytes: heapAfter,
      heapBytesPerLock: (heapAfter - heapBefore) / Math.max(1, acquired),
      followerHeapBytesPerLock: (followerHeapAfter - followerHeapBefore) / Math.max(1, acquired),
      leaderRssMiB,
      snapshotBytes: Number.isFinite(snap.bytes) ? snap.bytes : offline.bytes,
      snapshotIndex: snap.index,
      snapshotsLogged: snap.count,
      levelDbBytes,
      snapshotEncodeMs: offline.encodeMs,
      snapshotDecodeMs: offline.decodeMs,
      restartToHttpMs,
      restartToServingMs,
    };
  } finally {
    // On failure the node logs stay for a post-mortem.
    if (!ok) log(`scale: node logs kept in ${cluster.baseDir}`);
    await cluster.stop(!ok);
  }
}

/** scaleReport renders a ScaleResult as text. */
export function scaleReport(s: ScaleResult): string {
  const mib = (b: number): string => (b / 1048576).toFixed(1);
  return [
    `Scale: ${s.acquired} held locks (target ${s.locks}) in one 3-node cluster, loaded in ${s.loadSec.toFixed(1)} s (${s.acquiresPerSec.toFixed(0)} acquires/s), ${s.leaderChanges} leader change(s) while loading`,
    `  leader heap ${mib(s.heapBeforeBytes)} -> ${mib(s.heapAfterBytes)} MiB: ${s.heapBytesPerLock.toFixed(0)} B per lock (restarted follower: ${s.followerHeapBytesPerLock.toFixed(0)} B per lock); leader RSS ${s.leaderRssMiB.toFixed(0)} MiB`,
    `  last snapshot: ${mib(s.snapshotBytes)} MiB at index ${s.snapshotIndex} (${s.snapshotsLogged} taken by the leader); LevelDB dirs ${s.levelDbBytes.map(mib).join(' / ')} MiB`,
    `  LeaseTable snapshot encode ${s.snapshotEncodeMs.toFixed(0)} ms, restore ${s.snapshotDecodeMs.toFixed(0)} ms (same lock count, timed in the bench process)`,
    `  follower restart (SIGKILL, then process start): HTTP up after ${(s.restartToHttpMs / 1000).toFixed(2)} s, caught up (appliedIndex >= leader commit) after ${(s.restartToServingMs / 1000).toFixed(2)} s`,
  ].join('\n');
}
