/**
 * `node dist/bench/snapshot-stall.js [--locks 300000] [--rounds 2] [--step-records N]`: how long a snapshot of a
 * large lease table blocks the event loop, encoded at once (LeaseTable.snapshot(), what the host did before) and in
 * slices with a turn of the event loop between them (SnapshotEncoder, what RaftHost does now). For each it prints the
 * longest gap between two turns of the loop (a 1 ms interval timer's; perf_hooks.monitorEventLoopDelay's max beside
 * it, which misses a single long block), the longest single slice in wall time and in CPU time, the wall time to
 * the finished snapshot, and checks that both give the same bytes. Rounds alternate the order.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { LeaseTable, SNAPSHOT_STEP_RECORDS } from '../src/locks/index.js';
import { median } from './lib/percentile.js';
import { runMain } from './lib/process-registry.js';

interface Measured {
  /** The longest gap between two runs of a 1 ms interval timer: how long a peer message or a tick could wait. */
  readonly turnGapMaxMs: number;
  readonly loopDelayMaxMs: number;
  /** The most CPU one slice took (this process's, from process.cpuUsage): steadier than wall time on a loaded machine. */
  readonly sliceCpuMaxMs: number;
  readonly sliceCpuMedianMs: number;
  readonly sliceMaxMs: number;
  readonly slices: number;
  readonly wallMs: number;
  readonly bytes: Uint8Array;
}

/** measure runs `encode` while a loop-delay histogram (1 ms resolution) and a 1 ms interval timer watch the loop. */
async function measure(encode: (sliceTimes: number[], sliceCpuTimes: number[]) => Promise<Uint8Array>): Promise<Measured> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  // A timer that wants a turn every millisecond, as peer traffic and ticks would; its longest gap is the stall.
  let lastTickMs = performance.now();
  let turnGapMaxMs = 0;
  const ticker = setInterval(() => {
    const nowMs = performance.now();
    turnGapMaxMs = Math.max(turnGapMaxMs, nowMs - lastTickMs);
    lastTickMs = nowMs;
  }, 1);
  await new Promise((r) => setTimeout(r, 20));
  histogram.enable();
  turnGapMaxMs = 0;
  lastTickMs = performance.now();
  const sliceTimes: number[] = [];
  const sliceCpuTimes: number[] = [];
  const t0 = performance.now();
  const bytes = await encode(sliceTimes, sliceCpuTimes);
  const wallMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 5));
  histogram.disable();
  clearInterval(ticker);
  return { turnGapMaxMs, loopDelayMaxMs: histogram.max / 1e6, sliceCpuMaxMs: Math.max(...sliceCpuTimes), sliceCpuMedianMs: median(sliceCpuTimes), sliceMaxMs: Math.max(...sliceTimes), slices: sliceTimes.length, wallMs, bytes };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { locks: { type: 'string', default: '300000' }, rounds: { type: 'string', default: '2' }, 'step-records': { type: 'string', default: String(SNAPSHOT_STEP_RECORDS) } } });
  const locks = Number(values.locks);
  const rounds = Number(values.rounds);
  const stepRecords = Number(values['step-records']);
  if (!(locks >= 1 && locks <= 5_000_000 && rounds >= 1 && rounds <= 10 && stepRecords >= 1)) throw new Error('locks, rounds or step-records out of range');
  const table = new LeaseTable();
  const buildStartMs = performance.now();
  for (let i = 0; i < locks; i++) {
    table.apply({ type: 'acquire', name: `bench/lock-${i}`, owner: `owner-${i % 1000}`, mode: 'exclusive', ttlMs: 3_600_000, waitMs: 0, requestId: i % 4 === 0 ? `req-${i}` : undefined }, { index: i + 1, timeMs: 1_000_000 + i });
  }
  console.log(`table: ${locks} held locks, ${table.dedupeSize} dedupe entries, built in ${((performance.now() - buildStartMs) / 1000).toFixed(1)} s; slices of ${stepRecords} records`);

  const cpuMs = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const atOnce = (sliceTimes: number[], sliceCpuTimes: number[]): Promise<Uint8Array> => {
    const t = performance.now();
    const c = cpuMs();
    const bytes = table.snapshot();
    sliceTimes.push(performance.now() - t);
    sliceCpuTimes.push(cpuMs() - c);
    return Promise.resolve(bytes);
  };
  const sliced = async (sliceTimes: number[], sliceCpuTimes: number[]): Promise<Uint8Array> => {
    const encoder = table.snapshotEncoder();
    // Bounded: every step packs at least one record.
    for (;;) {
      const t = performance.now();
      const c = cpuMs();
      const bytes = encoder.step(stepRecords);
      sliceTimes.push(performance.now() - t);
      sliceCpuTimes.push(cpuMs() - c);
      if (bytes !== null) return bytes;
      await new Promise((r) => setImmediate(r));
    }
  };
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? (['at once', 'sliced'] as const) : (['sliced', 'at once'] as const);
    const results = new Map<string, Measured>();
    for (const kind of order) {
      const m = await measure(kind === 'at once' ? atOnce : sliced);
      results.set(kind, m);
      console.log(
        `round ${round} ${kind.padEnd(7)}: longest gap between loop turns ${m.turnGapMaxMs.toFixed(1).padStart(7)} ms (loop-delay histogram max ${m.loopDelayMaxMs.toFixed(1)} ms), longest slice ${m.sliceMaxMs.toFixed(1).padStart(7)} ms wall / ${m.sliceCpuMaxMs.toFixed(1).padStart(6)} ms CPU (median ${m.sliceCpuMedianMs.toFixed(1)} ms) over ${String(m.slices).padStart(4)} slice(s), snapshot ready after ${m.wallMs.toFixed(0).padStart(5)} ms, ${(m.bytes.length / 1048576).toFixed(1)} MiB (load average ${(loadavg()[0] ?? 0).toFixed(1)})`,
      );
    }
    const a = results.get('at once')!.bytes;
    const b = results.get('sliced')!.bytes;
    if (!Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))) throw new Error('the sliced snapshot differs from the one encoded at once');
  }
  console.log('both encodings gave the same bytes in every round');
  return 0;
}

runMain(main);
