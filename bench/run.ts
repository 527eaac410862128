/**
 * `npm run bench`: raftlock against etcd and Redis on this machine.
 *
 *   node dist/bench/run.js [--quick] [--scale | --no-scale] [--runs N] [--window-ms MS] [--warmup-ms MS]
 *                          [--systems raftlock,etcd,redis-aof,redis-nopersist] [--workloads uncontended-64,hot-16,...]
 *                          [--raftlock-client raw|lib] [--lib-workloads uncontended-64,...] [--sessions N] [--scale-locks N] [--out DIR]
 *
 * `--workloads none --scale` runs only the 1M-lock scale test. The system `raftlock-lib` (raftlock through
 * RaftLockClient) runs only on `--lib-workloads` (default uncontended-64), beside the minimal client's row.
 *
 * Every run gets fresh servers (fresh data directories) and a load process of
 * its own; the table, latest.json and latest.svg go to bench/results/. Exits
 * non-zero if any run saw two clients hold one exclusive lock at once.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ALL_SYSTEMS, LIB_WORKLOADS_DEFAULT, type SystemName } from './lib/load-target.js';
import { installSignalHandlers, runMain } from './lib/process-registry.js';
import { statusKb } from './lib/proc-stats.js';
import { aggregate, lockTable, sessionTable, svgChart, type LockRow, type Row, type RunRecord, type SessionRow } from './lib/report.js';
import { runLoad } from './lib/run-load.js';
import { runScaleTest, scaleReport, type ScaleResult } from './lib/scale-test.js';
import { ensureTools, settle, startSystem, toolVersion } from './lib/systems.js';
import { workloadLabel, type LockRunResult, type WorkloadSpec } from './lib/workloads.js';

const RESULTS_DIR = resolve(import.meta.dirname, import.meta.dirname.includes('dist') ? '../../bench/results' : 'results');

function parseWorkload(label: string, sessions: number): WorkloadSpec {
  const m = /^(uncontended|hot|sessions)-(\d+)$/.exec(label);
  if (m === null) throw new Error(`unknown workload ${label} (uncontended-N, hot-N, sessions-N)`);
  const n = Number(m[2]);
  if (m[1] === 'sessions') return { kind: 'sessions', sessions: n || sessions, connections: 64, ttlMs: 15_000 };
  return { kind: m[1] as 'uncontended' | 'hot', clients: n };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      scale: { type: 'boolean', default: false },
      'no-scale': { type: 'boolean', default: false },
      runs: { type: 'string' },
      'window-ms': { type: 'string' },
      'warmup-ms': { type: 'string' },
      systems: { type: 'string' },
      workloads: { type: 'string' },
      'raftlock-client': { type: 'string', default: 'raw' },
      'lib-workloads': { type: 'string', default: LIB_WORKLOADS_DEFAULT.join(',') },
      sessions: { type: 'string', default: '10000' },
      'scale-locks': { type: 'string', default: '1000000' },
      'retry-base-ms': { type: 'string', default: '2' },
      'retry-cap-ms': { type: 'string', default: '64' },
      out: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  installSignalHandlers();
  const quick = values.quick === true;
  const runs = Number(values.runs ?? (quick ? 1 : 3));
  const windowMs = Number(values['window-ms'] ?? (quick ? 3_000 : 10_000));
  const warmupMs = Number(values['warmup-ms'] ?? (quick ? 1_000 : 2_000));
  const sessions = Number(values.sessions);
  const raftlockClient = values['raftlock-client'] === 'lib' ? 'lib' : 'raw';
  const retry = { baseMs: Number(values['retry-base-ms']), capMs: Number(values['retry-cap-ms']) };
  const withScale = values.scale === true || (!quick && values['no-scale'] !== true);
  const outDir = values.out !== undefined ? resolve(values.out) : RESULTS_DIR;
  if (!(runs >= 1 && runs <= 20 && windowMs >= 500 && windowMs <= 600_000 && warmupMs >= 0 && warmupMs <= 60_000)) throw new Error('runs, window or warm-up out of range');

  const log = (line: string): void => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
  let systems = (values.systems?.split(',') ?? [...ALL_SYSTEMS]) as SystemName[];
  for (const s of systems) if (!ALL_SYSTEMS.includes(s)) throw new Error(`unknown system ${s}`);
  const tools = ensureTools(log, { etcd: systems.includes('etcd'), redis: systems.some((s) => s.startsWith('redis')) });
  if (!tools.etcd) {
    log('etcd is not available: skipping it');
    systems = systems.filter((s) => s !== 'etcd');
  }
  if (!tools.redis) {
    log('redis-server is not available: skipping it');
    systems = systems.filter((s) => !s.startsWith('redis'));
  }
  const workloadLabels = values.workloads === 'none' ? [] : values.workloads?.split(',') ?? ['uncontended-1', 'uncontended-16', 'uncontended-64', 'uncontended-256', 'hot-16', 'hot-64', `sessions-${sessions}`];
  const workloads = workloadLabels.map((l) => parseWorkload(l, sessions));
  const libWorkloads = new Set(values['lib-workloads']?.split(',') ?? []);
  const versions = {
    node: process.version,
    etcd: tools.etcd ? toolVersion('etcd') : null,
    redis: tools.redis ? toolVersion('redis-server') : null,
  };
  log(`systems ${systems.join(', ')}; workloads ${workloads.map(workloadLabel).join(', ')}; ${runs} run(s) of ${warmupMs} ms warm-up + ${windowMs} ms; raftlock client: ${raftlockClient}`);

  const started = Date.now();
  // Other work on the machine skews every number (fsync latency above all): record how busy it was.
  const loadAvgStart = os.loadavg()[0]!;
  const records: RunRecord[] = [];
  const failures: string[] = [];
  for (const workload of workloads) {
    const label = workloadLabel(workload);
    for (let run = 1; run <= runs; run++) {
      for (const system of systems) {
        if (system === 'raftlock-lib' && !libWorkloads.has(label)) continue;
        const tag = `b${run}-${label}`;
        let sys;
        try {
          sys = await startSystem(system, raftlockClient);
        } catch (err) {
          failures.push(`${system} ${label} run ${run}: ${(err as Error).message}`);
          log(`${system} ${label} run ${run}: could not start: ${(err as Error).message}`);
          continue;
        }
        try {
          await settle();
          const pids = sys.pids();
          const setupAllowanceMs = workload.kind === 'sessions' ? 300_000 : 60_000;
          const result = await runLoad({ target: sys.target, workload, warmupMs, windowMs, serverPids: pids, tag, retry }, warmupMs + windowMs + setupAllowanceMs);
          const rssPer = pids.map((p) => statusKb(p, 'VmHWM') / 1024);
          records.push({ system, workload: label, run, result, peakRssMiB: rssPer.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0), peakRssMiBPerProcess: rssPer });
          if (result.kind === 'locks') {
            log(`${label} ${system} run ${run}: ${result.cyclesPerSec.toFixed(0)} cycles/s, acquire p50 ${result.acquire.p50Ms.toFixed(2)} p99 ${result.acquire.p99Ms.toFixed(2)} ms, errors ${result.errors}, violations ${result.violations}`);
            for (const e of result.errorSamples.slice(0, 3)) log(`  error: ${e}`);
            if (result.violations > 0) {
              failures.push(`${system} ${label} run ${run}: ${result.violations} mutual-exclusion violation(s)`);
              for (const v of result.violationSamples) log(`  VIOLATION ${v}`);
            }
          } else {
            log(`${label} ${system} run ${run}: setup ${result.setupSec.toFixed(1)} s, ${result.keepalivesPerSec.toFixed(0)} keepalives/s, p99 ${result.keepalive.p99Ms.toFixed(2)} ms, lost ${result.lost}, errors ${result.errors}`);
            for (const e of result.errorSamples.slice(0, 3)) log(`  error: ${e}`);
          }
        } catch (err) {
          failures.push(`${system} ${label} run ${run}: ${(err as Error).message}`);
          log(`${system} ${label} run ${run} failed: ${(err as Error).message}`);
        } finally {
          await sys.stop();
        }
      }
    }
  }

  const rows = aggregate(records);
  let scale: ScaleResult | null = null;
  if (withScale) {
    try {
      scale = await runScaleTest({ locks: Number(values['scale-locks']), clients: 256, log });
    } catch (err) {
      failures.push(`scale: ${(err as Error).message}`);
      log(`scale test failed: ${(err as Error).message}`);
    }
  }
  const targets = evaluateTargets(rows, scale);
  const loadAvgEnd = os.loadavg()[0]!;
  const text = [
    `raftlock benchmark (${quick ? 'quick' : 'full'}: ${runs} run(s), ${warmupMs} ms warm-up + ${windowMs} ms window, medians; raftlock client: ${raftlockClient === 'raw' ? 'minimal keep-alive HTTP/1.1' : 'RaftLockClient (node:http keep-alive)'}; retry loop: full-jitter backoff ${retry.baseMs}..${retry.capMs} ms)`,
    `machine: ${os.cpus().length} cores, 1-min load average ${loadAvgStart.toFixed(1)} at start and ${loadAvgEnd.toFixed(1)} at end (above ~2, other work skews the numbers)`,
    '',
    lockTable(rows),
    '',
    sessionTable(rows),
    '',
    scale === null ? '' : scaleReport(scale),
    '',
    'Targets:',
    ...targets.map((t) => `  [${t.met === null ? ' ? ' : t.met ? 'met' : 'MISS'}] ${t.name}: ${t.detail}`),
    ...(failures.length > 0 ? ['', 'Failures:', ...failures.map((f) => `  ${f}`)] : []),
  ].join('\n');
  console.log(text);

  mkdirSync(outDir, { recursive: true });
  const json = {
    generatedAt: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    durationSec: (Date.now() - started) / 1000,
    settings: { runs, warmupMs, windowMs, systems, workloads: workloads.map(workloadLabel), raftlockClient, retry, sessions },
    machine: { cpus: os.cpus().length, loadAvgStart, loadAvgEnd, ...versions },
    rows,
    runs: records,
    scale,
    targets,
    failures,
  };
  writeFileSync(resolve(outDir, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(resolve(outDir, 'latest.svg'), svgChart(rows, `Lock cycles/s (acquire+release), ${quick ? 'quick' : 'full'} run, 2 cores, fsync on`));
  writeFileSync(resolve(outDir, 'latest.txt'), `${text}\n`);
  log(`wrote ${resolve(outDir, 'latest.json')}, latest.svg and latest.txt in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const violations = records.some((r) => r.result.kind === 'locks' && (r.result as LockRunResult).violations > 0);
  return violations ? 1 : 0;
}

interface Target {
  readonly name: string;
  readonly met: boolean | null;
  readonly detail: string;
}

function evaluateTargets(rows: readonly Row[], scale: ScaleResult | null): Target[] {
  const lock = (system: SystemName, workload: string): LockRow | undefined =>
    rows.find((r): r is LockRow => r.kind === 'locks' && r.system === system && r.workload === workload);
  const out: Target[] = [];
  const u64 = lock('raftlock', 'uncontended-64');
  const e64 = lock('etcd', 'uncontended-64');
  if (u64 !== undefined) {
    const x = e64 === undefined ? Number.NaN : u64.cyclesPerSec / e64.cyclesPerSec;
    out.push({
      name: 'uncontended 64 clients >= 5x etcd cycles/s with p99 <= 10 ms',
      met: e64 === undefined ? null : x >= 5 && u64.acquireP99Ms <= 10,
      detail: `raftlock ${u64.cyclesPerSec.toFixed(0)}/s vs etcd ${e64?.cyclesPerSec.toFixed(0) ?? '-'}/s = ${x.toFixed(2)}x; acquire p99 ${u64.acquireP99Ms.toFixed(2)} ms`,
    });
  }
  const l64 = lock('raftlock-lib', 'uncontended-64');
  if (u64 !== undefined && l64 !== undefined) {
    out.push({
      name: 'RaftLockClient at 64 clients costs at most 20% of the minimal client\'s cycles/s',
      met: l64.cyclesPerSec >= 0.8 * u64.cyclesPerSec,
      detail: `RaftLockClient ${l64.cyclesPerSec.toFixed(0)}/s vs minimal ${u64.cyclesPerSec.toFixed(0)}/s = ${((100 * l64.cyclesPerSec) / u64.cyclesPerSec).toFixed(0)}%; acquire p99 ${l64.acquireP99Ms.toFixed(2)} ms; server CPU ${l64.cpuUsPerCycle.toFixed(0)} vs ${u64.cpuUsPerCycle.toFixed(0)} µs/cycle`,
    });
  }
  const cpuRows = rows.filter((r): r is LockRow => r.kind === 'locks' && r.system === 'raftlock' && r.workload.startsWith('uncontended'));
  if (cpuRows.length > 0) {
    const worst = cpuRows.reduce((a, b) => (b.cpuUsPerCycle > a.cpuUsPerCycle ? b : a));
    out.push({
      name: 'server CPU per acquire+release cycle <= 200 µs (three nodes summed, uncontended)',
      met: cpuRows.every((r) => r.cpuUsPerCycle <= 200),
      detail: cpuRows.map((r) => `${r.workload} ${r.cpuUsPerCycle.toFixed(0)} µs (${r.cpuUsPerCyclePerProcess.map((v) => v.toFixed(0)).join('/')})`).join(', ') + `; worst ${worst.workload}`,
    });
  }
  const h16 = lock('raftlock', 'hot-16');
  const eh16 = lock('etcd', 'hot-16');
  if (h16 !== undefined) {
    const x = eh16 === undefined ? Number.NaN : h16.cyclesPerSec / eh16.cyclesPerSec;
    out.push({
      name: 'hot lock 16 clients >= 10x etcd hand-offs/s, FIFO visible',
      met: eh16 === undefined ? null : x >= 10 && h16.overtakePct <= 1,
      detail: `raftlock ${h16.cyclesPerSec.toFixed(0)}/s vs etcd ${eh16?.cyclesPerSec.toFixed(0) ?? '-'}/s = ${x.toFixed(2)}x; raftlock wait p50/p99/max ${h16.acquireP50Ms.toFixed(1)}/${h16.acquireP99Ms.toFixed(1)}/${h16.acquireMaxMs.toFixed(1)} ms, overtakes ${h16.overtakePct.toFixed(2)}%${eh16 !== undefined ? `; etcd wait p50/p99/max ${eh16.acquireP50Ms.toFixed(1)}/${eh16.acquireP99Ms.toFixed(1)}/${eh16.acquireMaxMs.toFixed(1)} ms, overtakes ${eh16.overtakePct.toFixed(1)}%` : ''}`,
    });
  }
  const u1 = lock('raftlock', 'uncontended-1');
  if (u1 !== undefined) out.push({ name: '1 client acquire+release p50 < 1 ms', met: u1.cycleP50Ms < 1, detail: `p50 ${u1.cycleP50Ms.toFixed(2)} ms (acquire alone ${u1.acquireP50Ms.toFixed(2)} ms)` });
  const sess = rows.find((r): r is SessionRow => r.kind === 'sessions' && r.system === 'raftlock');
  if (sess !== undefined) out.push({ name: `${sess.sessions} sessions kept alive (reported, no target)`, met: sess.lost === 0 && sess.errors === 0 ? true : false, detail: `${sess.keepalivesPerSec.toFixed(0)} keepalives/s using ${sess.serverCores.toFixed(2)} cores, lost ${sess.lost}` });
  if (scale !== null) {
    out.push({ name: '1M held locks: <= 500 B heap per lock', met: scale.heapBytesPerLock <= 500, detail: `${scale.heapBytesPerLock.toFixed(0)} B/lock (leader heap delta; restarted follower ${scale.followerHeapBytesPerLock.toFixed(0)} B/lock)` });
    out.push({ name: '1M held locks: no leader change while loading', met: scale.leaderChanges === 0, detail: `${scale.leaderChanges} leader change(s) in ${scale.loadSec.toFixed(1)} s of loading` });
    out.push({ name: '1M held locks: restart from snapshot < 10 s', met: scale.restartToServingMs < 10_000, detail: `${(scale.restartToServingMs / 1000).toFixed(2)} s to serving and caught up` });
  }
  return out;
}

runMain(main);
