import { performance } from 'node:perf_hooks';
import { makeLockClient, makeSessionClient, type LockClient, type SessionClient } from './lock-clients.js';
import type { LoadTarget } from './load-target.js';
import { countOvertakes, findOverlaps, type HoldInterval } from './overlap-check.js';
import { SampleBuffer, type LatencySummary } from './percentile.js';
import { cpuSeconds } from './proc-stats.js';

/** WorkloadSpec is one workload of the benchmark. */
export type WorkloadSpec =
  | { readonly kind: 'uncontended'; readonly clients: number }
  | { readonly kind: 'hot'; readonly clients: number }
  | { readonly kind: 'sessions'; readonly sessions: number; readonly connections: number; readonly ttlMs: number };

/** workloadLabel names a workload in tables and JSON. */
export function workloadLabel(w: WorkloadSpec): string {
  if (w.kind === 'sessions') return `sessions-${w.sessions}`;
  return `${w.kind}-${w.clients}`;
}

/** RetryPolicy is the retry loop of systems without server-side queueing: exponential backoff with full jitter. */
export interface RetryPolicy {
  readonly baseMs: number;
  readonly capMs: number;
}

/** LoadJob is everything the load process needs for one run. */
export interface LoadJob {
  readonly target: LoadTarget;
  readonly workload: WorkloadSpec;
  readonly warmupMs: number;
  readonly windowMs: number;
  /** Server processes whose CPU time is read at the window's edges. */
  readonly serverPids: readonly number[];
  /** Prefix of every lock name, unique per run. */
  readonly tag: string;
  readonly retry: RetryPolicy;
}

/** LockRunResult is one run of a lock workload (uncontended or hot). */
export interface LockRunResult {
  readonly kind: 'locks';
  readonly cycles: number;
  readonly cyclesPerSec: number;
  /** Acquire latency; for the hot lock this is the wait time (first attempt to grant, all retries included). */
  readonly acquire: LatencySummary;
  /** acquire + release, as one client sees it. */
  readonly cycle: LatencySummary;
  readonly errors: number;
  readonly errorSamples: readonly string[];
  readonly intervals: number;
  readonly violations: number;
  readonly violationSamples: readonly string[];
  /** Grants that overtook a request started more than OVERTAKE_SLACK_MS earlier (FIFO check, hot lock only). */
  readonly overtakes: number;
  readonly grants: number;
  /** Failed attempts (retry-loop systems) per successful acquire. */
  readonly retriesPerAcquire: number;
  readonly serverCpuSec: number;
  /** serverCpuSec per server process, in the order of LoadJob.serverPids. */
  readonly serverCpuSecPerProcess: readonly number[];
  readonly loadCpuSec: number;
  readonly windowSec: number;
}

/** SessionRunResult is one run of the sessions workload. */
export interface SessionRunResult {
  readonly kind: 'sessions';
  readonly sessions: number;
  readonly setupSec: number;
  readonly keepalives: number;
  readonly keepalivesPerSec: number;
  readonly keepalive: LatencySummary;
  readonly lost: number;
  readonly errors: number;
  readonly errorSamples: readonly string[];
  readonly serverCpuSec: number;
  /** serverCpuSec per server process, in the order of LoadJob.serverPids. */
  readonly serverCpuSecPerProcess: readonly number[];
  readonly loadCpuSec: number;
  readonly windowSec: number;
}

export type RunResult = LockRunResult | SessionRunResult;

const OVERTAKE_SLACK_MS = 5;
/** Bound on recorded hold intervals (memory); a run past it stops recording and says so. */
const MAX_INTERVALS = 3_000_000;
const MAX_ERROR_SAMPLES = 10;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => performance.now();

class ErrorLog {
  count = 0;
  readonly samples: string[] = [];
  add(err: unknown): void {
    this.count++;
    if (this.samples.length < MAX_ERROR_SAMPLES) this.samples.push(err instanceof Error ? err.message : String(err));
  }
}

/** CpuWindow reads server and own CPU time at the start and end of the timed window, per server process. */
class CpuWindow {
  private serverStart: number[] = [];
  private loadStart = 0;
  serverSec = 0;
  /** CPU seconds of each server process in the window, in the order of the PIDs given (NaN for one that is gone). */
  serverSecPerProcess: number[] = [];
  loadSec = 0;
  private ended = false;
  constructor(private readonly pids: readonly number[]) {}
  begin(): void {
    this.serverStart = this.pids.map(cpuSeconds);
    const u = process.cpuUsage();
    this.loadStart = (u.user + u.system) / 1e6;
  }
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.serverSecPerProcess = this.pids.map((pid, i) => cpuSeconds(pid) - (this.serverStart[i] ?? Number.NaN));
    this.serverSec = this.serverSecPerProcess.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    const u = process.cpuUsage();
    this.loadSec = (u.user + u.system) / 1e6 - this.loadStart;
  }
}

/** backoffMs is the pause before retry `attempt` (1-based): full jitter over an exponentially growing ceiling. */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt - 1, 20));
  return random() * ceiling;
}

async function openAll<T extends { open(): Promise<void> }>(clients: T[]): Promise<void> {
  // Open in small batches so 256 connections do not all race through the servers' accept queues at once.
  for (let i = 0; i < clients.length; i += 32) await Promise.all(clients.slice(i, i + 32).map((c) => c.open()));
}

/**
 * runLockWorkload runs N clients doing acquire → release cycles for
 * warmupMs + windowMs and measures the window. Uncontended: client i locks
 * its own name. Hot: every client locks one name; raftlock queues with
 * waitMs (FIFO long-poll), the others retry with backoff.
 */
export async function runLockWorkload(job: LoadJob): Promise<LockRunResult> {
  const w = job.workload;
  if (w.kind === 'sessions') throw new Error('runLockWorkload: not a lock workload');
  if (!(w.clients >= 1 && w.clients <= 4096)) throw new RangeError(`clients must be within 1..4096, got ${w.clients}`);
  const clients: LockClient[] = [];
  for (let i = 0; i < w.clients; i++) clients.push(makeLockClient(job.target, i));
  await openAll(clients);

  const acquireLat = new SampleBuffer();
  const cycleLat = new SampleBuffer();
  const intervals: HoldInterval[] = [];
  const grants: { requestedMs: number; grantedMs: number }[] = [];
  const errors = new ErrorLog();
  let cycles = 0;
  let failedAttempts = 0;
  let acquires = 0;
  const cpu = new CpuWindow(job.serverPids);
  const startMs = now();
  const windowStartMs = startMs + job.warmupMs;
  const endMs = windowStartMs + job.windowMs;
  const t1 = setTimeout(() => cpu.begin(), job.warmupMs);
  const t2 = setTimeout(() => cpu.end(), job.warmupMs + job.windowMs);
  const hot = w.kind === 'hot';
  const hotName = `${job.tag}/hot`;

  const clientLoop = async (c: LockClient, index: number): Promise<void> => {
    const name = hot ? hotName : `${job.tag}/u${index}`;
    // Bounded by time: no new acquire starts after endMs; a queued long-poll is bounded by its waitMs.
    while (now() < endMs) {
      const requestedMs = now();
      let held = false;
      try {
        if (c.queues) {
          const waitMs = hot ? Math.round(Math.min(30_000, Math.max(1_000, endMs - requestedMs + 5_000))) : 0;
          held = await c.acquire(name, waitMs);
          if (!held) failedAttempts++;
        } else {
          for (let attempt = 1; ; attempt++) {
            held = await c.acquire(name, 0);
            if (held || now() >= endMs) break;
            failedAttempts++;
            await sleep(backoffMs(job.retry, attempt));
          }
        }
      } catch (err) {
        errors.add(err);
        await sleep(5);
        continue;
      }
      if (!held) {
        if (!hot) errors.add(new Error(`uncontended lock ${name} was not granted`));
        continue;
      }
      const grantedMs = now();
      acquires++;
      const releaseSentMs = now();
      if (intervals.length < MAX_INTERVALS) intervals.push({ lock: name, client: index, startMs: grantedMs, endMs: releaseSentMs });
      try {
        await c.release(name);
      } catch (err) {
        errors.add(err);
        continue;
      }
      const doneMs = now();
      if (grantedMs >= windowStartMs && grantedMs < endMs) {
        acquireLat.add(grantedMs - requestedMs);
        if (hot) grants.push({ requestedMs, grantedMs });
      }
      if (doneMs >= windowStartMs && doneMs < endMs) {
        cycles++;
        cycleLat.add(doneMs - requestedMs);
      }
    }
  };
  await Promise.all(clients.map((c, i) => clientLoop(c, i)));
  clearTimeout(t1);
  clearTimeout(t2);
  cpu.end();
  for (const c of clients) c.close();

  const overlaps = findOverlaps(intervals);
  const violationSamples = overlaps.violations.map(
    (v) => `lock ${v.lock}: client ${v.first.client} held [${v.first.startMs.toFixed(3)}, ${v.first.endMs.toFixed(3)}] ms and client ${v.second.client} [${v.second.startMs.toFixed(3)}, ${v.second.endMs.toFixed(3)}] ms: overlap ${v.overlapMs.toFixed(3)} ms`,
  );
  if (intervals.length >= MAX_INTERVALS) errors.add(new Error(`only the first ${MAX_INTERVALS} hold intervals were checked for overlaps`));
  return {
    kind: 'locks',
    cycles,
    cyclesPerSec: cycles / (job.windowMs / 1000),
    acquire: acquireLat.summary(),
    cycle: cycleLat.summary(),
    errors: errors.count,
    errorSamples: errors.samples,
    intervals: intervals.length,
    violations: overlaps.total,
    violationSamples,
    overtakes: hot ? countOvertakes(grants, OVERTAKE_SLACK_MS) : 0,
    grants: grants.length,
    retriesPerAcquire: acquires === 0 ? 0 : failedAttempts / acquires,
    serverCpuSec: cpu.serverSec,
    serverCpuSecPerProcess: cpu.serverSecPerProcess,
    loadCpuSec: cpu.loadSec,
    windowSec: job.windowMs / 1000,
  };
}

/**
 * runSessionWorkload creates `sessions` sessions that each hold one lock
 * (raftlock sessions, etcd leases, Redis keys with a TTL), then keeps every
 * one alive every ttlMs/3, spread evenly, and measures the keepalive load.
 */
export async function runSessionWorkload(job: LoadJob): Promise<SessionRunResult> {
  const w = job.workload;
  if (w.kind !== 'sessions') throw new Error('runSessionWorkload: not the sessions workload');
  if (!(w.sessions >= 1 && w.sessions <= 1_000_000 && w.connections >= 1 && w.connections <= 4096)) throw new RangeError('sessions or connections out of range');
  // Setup and keepalives use separate connections (one request at a time each), so sessions are kept alive from the
  // moment they exist: a setup longer than the TTL must not expire the first sessions before their first keepalive.
  const setupConns: SessionClient[] = [];
  const keepaliveConns: SessionClient[] = [];
  // Four keepalive connections per setup connection: each sends one keepalive at a time, so a slow answer must not
  // make the schedule fall behind by a whole TTL.
  for (let i = 0; i < w.connections; i++) setupConns.push(makeSessionClient(job.target, i));
  for (let i = 0; i < 4 * w.connections; i++) keepaliveConns.push(makeSessionClient(job.target, w.connections + i));
  await openAll([...setupConns, ...keepaliveConns]);
  const errors = new ErrorLog();

  const refs: (string | null)[] = new Array<string | null>(w.sessions).fill(null);
  const intervalMs = w.ttlMs / 3;
  const latency = new SampleBuffer();
  let keepalives = 0;
  let lost = 0;
  const cpu = new CpuWindow(job.serverPids);
  const phaseStartMs = now();
  // The timed window starts after the setup (plus warm-up): the keepalive load of all sessions at steady state.
  let windowStartMs = Infinity;
  let endMs = Infinity;
  const keepaliveLoops = Promise.all(
    keepaliveConns.map(async (conn, k) => {
      // Session j is due at phaseStart + (j / N) * interval + m * interval: an even spread of the load.
      // Bounded: every iteration sleeps until its due time, and the loop ends once a due time passes endMs.
      for (let round = 0; ; round++) {
        for (let j = k; j < w.sessions; j += keepaliveConns.length) {
          const dueMs = phaseStartMs + (j / w.sessions) * intervalMs + round * intervalMs;
          if (dueMs >= endMs) return;
          const waitMs = dueMs - now();
          if (waitMs > 1) await sleep(waitMs);
          const ref = refs[j];
          if (ref === null || ref === undefined) continue;
          const t0 = now();
          try {
            const alive = await conn.keepalive(ref, `${job.tag}/s${j}`);
            if (!alive) {
              lost++;
              refs[j] = null;
            }
          } catch (err) {
            errors.add(err);
            continue;
          }
          const t = now();
          if (t0 >= windowStartMs && t < endMs) {
            keepalives++;
            latency.add(t - t0);
          }
        }
        if (endMs === Infinity) await sleep(0); // a round of not-yet-created sessions must still yield
      }
    }),
  );

  // Setup: connection k creates sessions k, k + C, k + 2C, ...
  await Promise.all(
    setupConns.map(async (conn, k) => {
      for (let j = k; j < w.sessions; j += w.connections) {
        try {
          refs[j] = await conn.createWithLock(`${job.tag}/s${j}`, w.ttlMs);
        } catch (err) {
          errors.add(err);
        }
      }
    }),
  );
  const setupSec = (now() - phaseStartMs) / 1000;
  windowStartMs = now() + job.warmupMs;
  endMs = windowStartMs + job.windowMs;
  const t1 = setTimeout(() => cpu.begin(), job.warmupMs);
  const t2 = setTimeout(() => cpu.end(), job.warmupMs + job.windowMs);
  await keepaliveLoops;
  if (now() < endMs) await sleep(endMs - now());
  clearTimeout(t1);
  clearTimeout(t2);
  cpu.end();
  for (const c of [...setupConns, ...keepaliveConns]) c.close();
  return {
    kind: 'sessions',
    sessions: refs.filter((r) => r !== null).length + lost,
    setupSec,
    keepalives,
    keepalivesPerSec: keepalives / (job.windowMs / 1000),
    keepalive: latency.summary(),
    lost,
    errors: errors.count,
    errorSamples: errors.samples,
    serverCpuSec: cpu.serverSec,
    serverCpuSecPerProcess: cpu.serverSecPerProcess,
    loadCpuSec: cpu.loadSec,
    windowSec: job.windowMs / 1000,
  };
}
