/**
 * One verify run, end to end: start a 3- or 5-node cluster whose every peer and
 * forwarding link passes through a harness proxy, drive a workload from clients
 * that talk to every node, inject the seeded nemesis schedule, then heal
 * everything, restart dead nodes, wait for a leader, read the final state of every
 * lock, run the checkers and write the run folder:
 *
 *   history.jsonl    every operation (src/verify/history.ts format)
 *   nemesis.jsonl    every fault with its start and end
 *   leader.jsonl     every observed leader change
 *   resource.jsonl   the toy resource's write log (fenced workloads)
 *   verdict.json     configuration, checker reports, violations
 *   timeline.html    operations per client over time, faults shaded, leader changes marked
 *   nodes/nN.log     each node's output over all its restarts
 *   nodes/security/  with --security tls-auth: the run's CA, member certificates and auth file
 *
 * Everything is bounded by time, and every process started is killed by PID at
 * the end, on error, and on SIGINT.
 */
import { ClockSkew, libfaketimePath } from './clock-skew.js';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Operation, ReadOp } from '../history.js';
import { writeHistoryJsonl } from '../history-jsonl.js';
import { HarnessError } from './harness-error.js';
import { HistoryRecorder } from './history-recorder.js';
import { LeaderMonitor, waitForAgreedLeader } from './leader-monitor.js';
import { LinkNetwork } from './link-network.js';
import { LockClient } from './lock-client.js';
import { Nemesis } from './nemesis.js';
import { planNemesis, type NemesisFamily } from './nemesis-plan.js';
import { NodeProcesses } from './node-processes.js';
import { RunClock, sleep } from './run-clock.js';
import type { RunSecurityMode } from './run-security.js';
import { renderTimelineHtml } from './timeline.js';
import { FINAL_PROCESS, judgeRun, type JudgeOptions, type RunVerdict } from './verdict.js';
import { FencedWorkload } from './workload-fenced.js';
import { LinearizableWorkload } from './workload-linearizable.js';
import type { Workload, WorkloadName } from './workload.js';

/** VerifyOptions configures one run. */
export interface VerifyOptions {
  readonly nodes: number;
  readonly families: readonly NemesisFamily[];
  readonly workload: WorkloadName;
  /** Length of the fault phase in seconds. */
  readonly timeS: number;
  readonly seed: number;
  /** The run folder (created; must not hold a previous run's data). */
  readonly outDir: string;
  /** The raftlock CLI entry to test (default: this checkout's dist/src/cli/main.js). */
  readonly mainPath?: string;
  /** How the cluster is secured (run-security.ts); default `secret` (peers MAC every frame; plain, open HTTP). */
  readonly security?: RunSecurityMode;
  /** Number of workload clients (default: 10 linearizable, 5 fenced). */
  readonly clients?: number;
  /** Number of lock names (default: 24 linearizable, 2 fenced). */
  readonly keys?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
  /** Install SIGINT/SIGTERM handlers that kill the cluster and exit (CLI runs; not tests). */
  readonly handleSignals?: boolean;
  /** Keep node data directories even when the run passes. */
  readonly keepData?: boolean;
  readonly judge?: Partial<JudgeOptions>;
}

/** VerifyResult is what a run returns. */
export interface VerifyResult {
  readonly valid: boolean;
  readonly verdict: RunVerdict;
  readonly outDir: string;
  /** The human summary, also printed by the CLI. */
  readonly summary: readonly string[];
}

const DEFAULT_JUDGE: JudgeOptions = { marginMs: 100, graceMs: 3_000, maxUnavailableOutside: 0.25, linearizabilityMaxMs: 20_000 };
const START_LEADER_TIMEOUT_MS = 30_000;
const HEAL_LEADER_TIMEOUT_MS = 30_000;
const FINAL_READ_TIMEOUT_MS = 30_000;
/** Lease of the final grants (long enough to outlive the checks; the cluster is killed anyway). */
const FINAL_LEASE_MS = 60_000;

/** defaultMainPath finds this checkout's built CLI by walking up to its package.json. */
export function defaultMainPath(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 8; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'raftlock') return join(dir, 'dist', 'src', 'cli', 'main.js');
      } catch {
        // not ours; keep walking
      }
    }
    dir = dirname(dir);
  }
  throw new HarnessError('build_missing', 'cannot find the raftlock checkout; pass --build PATH/TO/main.js');
}

/** rerunCommand is the command line that replays a run's schedule. */
export function rerunCommand(o: Pick<VerifyOptions, 'nodes' | 'families' | 'workload' | 'timeS' | 'seed' | 'security'>): string {
  const nemesis = o.families.length === 0 ? 'none' : o.families.join(',');
  const security = o.security === undefined || o.security === 'secret' ? '' : ` --security ${o.security}`;
  return `raftlock verify --nodes ${o.nodes} --nemesis ${nemesis} --workload ${o.workload} --time ${o.timeS} --seed ${o.seed}${security}`;
}

function buildWorkload(o: VerifyOptions, clients: LockClient[], clock: RunClock): Workload {
  const seed = o.seed ^ 0x5eed;
  if (o.workload === 'linearizable') return new LinearizableWorkload({ clients, keyCount: o.keys ?? 24, seed, clock });
  return new FencedWorkload({ clients, fenced: o.workload === 'fenced', keyCount: o.keys ?? 2, seed, clock });
}

/** RunSetup is a run's validated options and prepared folder. */
interface RunSetup {
  readonly outDir: string;
  /** nodes/: each node's log, and data/ (removed after a passing run). */
  readonly nodesDir: string;
  readonly nemesisPath: string;
  readonly mainPath: string;
  readonly judgeOptions: JudgeOptions;
  /** The nodes' fake wall clocks when the run has clock faults, else null (nodes run on the real clock). */
  readonly clocks: ClockSkew | null;
}

/** RunResources are what a run started; runVerify stops each in its finally. */
interface RunResources {
  readonly nodes: NodeProcesses;
  network: LinkNetwork | null;
  monitor: LeaderMonitor | null;
  nemesis: Nemesis | null;
}

/** FaultPhase is what the fault phase leaves for the final reads and the verdict. */
interface FaultPhase {
  readonly clock: RunClock;
  readonly recorder: HistoryRecorder;
  readonly requestIdPrefix: string;
  readonly clientCount: number;
  readonly workload: Workload;
  readonly monitor: LeaderMonitor;
  readonly nemesis: Nemesis;
  readonly plan: ReturnType<typeof planNemesis>;
}

/** runVerify performs one run and writes its folder. Throws only for harness failures (e.g. the cluster never started). */
export async function runVerify(o: VerifyOptions): Promise<VerifyResult> {
  const setup = prepareRun(o);
  const clocks = setup.clocks;
  const nodes = await NodeProcesses.create({
    mainPath: setup.mainPath,
    nodeCount: o.nodes,
    baseDir: setup.nodesDir,
    ...(o.security !== undefined ? { security: o.security } : {}),
    // libfaketime preloaded through env (which execs node: same PID). The faketime command's fixed -f offset would
    // win over the timestamp file, and a live process's clock could not be stepped. Each start draws a new offset.
    ...(clocks === null ? {} : { wrap: (id: string) => ({ command: 'env', args: [], env: clocks.envFor(id) }) }),
  });
  const res: RunResources = { nodes, network: null, monitor: null, nemesis: null };
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\nraftlock verify: ${signal}; killing the cluster. seed ${o.seed}\n`);
    // The launcher's 'exit' hook kills every child by PID (a signal's default action would skip it).
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  if (o.handleSignals === true) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  let passed = false;
  try {
    const result = await runPhases(o, setup, res);
    passed = result.valid;
    return result;
  } finally {
    res.nemesis?.stop();
    if (o.handleSignals === true) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await res.monitor?.stop().catch(() => {});
    await nodes.stopAll();
    await res.network?.stop();
    // A passing run's data directories are of no further use; a failing run keeps them.
    if (passed && o.keepData !== true) rmSync(join(setup.nodesDir, 'data'), { recursive: true, force: true });
  }
}

/** clockSkewFor sets up the nodes' fake clocks when the run has clock faults; they need Debian's faketime package. */
function clockSkewFor(o: VerifyOptions, nodesDir: string): ClockSkew | null {
  if (!o.families.includes('clock')) return null;
  const lib = libfaketimePath();
  if (lib === null) throw new HarnessError('bad_options', 'the clock nemesis needs libfaketime: apt-get install faketime');
  mkdirSync(nodesDir, { recursive: true });
  return new ClockSkew(nodesDir, lib, o.seed);
}

/** prepareRun checks the options and the build, and creates the run folder. */
function prepareRun(o: VerifyOptions): RunSetup {
  if (!(o.nodes === 3 || o.nodes === 5)) throw new HarnessError('bad_options', `--nodes must be 3 or 5, got ${o.nodes}`);
  if (!(o.timeS > 0 && o.timeS <= 3_600)) throw new HarnessError('bad_options', `--time must be in (0, 3600] seconds, got ${o.timeS}`);
  const outDir = resolve(o.outDir);
  mkdirSync(outDir, { recursive: true });
  const nodesDir = join(outDir, 'nodes');
  if (existsSync(join(nodesDir, 'data'))) throw new HarnessError('out_dir_in_use', `${outDir} already holds a run's data; choose another --out`);
  const mainPath = o.mainPath ?? defaultMainPath();
  if (!existsSync(mainPath)) throw new HarnessError('build_missing', `${mainPath} does not exist; run npm run build (or pass --build)`);
  const judgeOptions: JudgeOptions = { ...DEFAULT_JUDGE, ...o.judge };
  const nemesisPath = join(outDir, 'nemesis.jsonl');
  writeFileSync(nemesisPath, '');
  return { outDir, nodesDir, nemesisPath, mainPath, judgeOptions, clocks: clockSkewFor(o, nodesDir) };
}

/** runPhases starts the cluster, runs the fault phase, heals, reads the final state, judges and writes the folder. */
async function runPhases(o: VerifyOptions, setup: RunSetup, res: RunResources): Promise<VerifyResult> {
  const log = o.log ?? (() => {});
  const { nodes } = res;
  const network = await LinkNetwork.create(nodes.nodes.map((n) => ({ id: n.id, peerPort: n.peerPort, httpPort: n.httpPort })));
  res.network = network;
  nodes.attach(network);
  nodes.startAll();
  const endpoints = nodes.nodes.map((n) => n.httpUrl);
  const { access } = nodes;
  log(`started ${o.nodes} nodes (pids ${JSON.stringify(nodes.pids())}, security ${nodes.runSecurity.mode}); waiting for a leader`);
  const first = await waitForAgreedLeader(endpoints, START_LEADER_TIMEOUT_MS, access);
  if (first === null) throw new HarnessError('no_initial_leader', `the cluster elected no leader within ${START_LEADER_TIMEOUT_MS} ms; see ${setup.nodesDir}/*.log`);
  log(`leader ${first}; running ${o.workload} for ${o.timeS} s under ${o.families.join(',') || 'no faults'} (seed ${o.seed})`);

  const phase = await runFaultPhase(o, setup, res, network, endpoints);
  const { clock, recorder, workload, monitor, nemesis } = phase;

  // Heal, restart, and wait for a leader.
  const healMs = clock.nowMs();
  await nemesis.healAll();
  log(`fault phase over at ${(healMs / 1000).toFixed(1)} s: ${nemesis.records.filter((r) => !r.skipped).length} faults; healing`);
  const healed = await waitForAgreedLeader(endpoints, HEAL_LEADER_TIMEOUT_MS, access);
  const leaderAfterHealMs = healed === null ? null : Math.round(clock.nowMs() - healMs);

  const finalClient = new LockClient({ process: FINAL_PROCESS, endpoints, home: 0, clock, recorder, requestIdPrefix: `${phase.requestIdPrefix}f`, access });
  const { finalReads, unreadKeys } = await readFinalState(finalClient, workload.keys, clock);
  await monitor.stop();
  const endMs = clock.nowMs();

  const history = [...recorder.operations];
  const verdict = judgeRun({
    workload: o.workload,
    history,
    finalReads,
    unreadKeys,
    faults: nemesis.windows(true),
    clusterFaults: nemesis.windows(false),
    leaderObservations: monitor.observations,
    leaderAfterHealMs,
    tally: workload.tally,
    unexpectedExits: nodes.unexpectedExits,
    membershipProblems: nemesis.membershipProblems,
    resourceWrites: workload.resource?.writes ?? [],
    resourceTotal: workload.resource?.total() ?? null,
    options: setup.judgeOptions,
  });
  const summary = summarize(o, verdict, nemesis, setup.outDir);
  await writeRunFolder(o, setup, phase, { history, verdict, summary, endMs });
  return { valid: verdict.valid, verdict, outDir: setup.outDir, summary };
}

/** runFaultPhase drives the workload and the nemesis for the run's length; the run clock starts here. */
async function runFaultPhase(o: VerifyOptions, setup: RunSetup, res: RunResources, network: LinkNetwork, endpoints: string[]): Promise<FaultPhase> {
  const clock = new RunClock();
  res.nodes.setClock(() => clock.nowMs());
  const recorder = new HistoryRecorder();
  const requestIdPrefix = `v${o.seed.toString(36)}${Date.now().toString(36)}`;
  const clientCount = o.clients ?? (o.workload === 'linearizable' ? 10 : 5);
  const clients = Array.from(
    { length: clientCount },
    (_, i) => new LockClient({ process: i, endpoints, home: i % o.nodes, clock, recorder, requestIdPrefix, access: res.nodes.access }),
  );
  const workload = buildWorkload(o, clients, clock);
  const monitor = new LeaderMonitor(() => endpoints, clock, res.nodes.access);
  res.monitor = monitor;
  monitor.start();
  const durationMs = o.timeS * 1_000;
  const plan = planNemesis({ seed: o.seed, families: o.families, nodeCount: o.nodes, durationMs });
  const nemesis = new Nemesis({
    plan,
    network,
    nodes: res.nodes,
    monitor,
    pauses: workload.pauses,
    maxTtlMs: workload.maxTtlMs,
    clock,
    logPath: setup.nemesisPath,
    clocks: setup.clocks,
  });
  res.nemesis = nemesis;
  const phase = await Promise.allSettled([workload.run(durationMs), nemesis.run(durationMs)]);
  for (const r of phase) if (r.status === 'rejected') throw r.reason;
  return { clock, recorder, requestIdPrefix, clientCount, workload, monitor, nemesis, plan };
}

/**
 * readFinalState reads every lock name, recorded like any other read, then
 * grants every free lock once: its token must exceed every token granted
 * before (the fencing checker's real-time order), which catches a rolled-back
 * table even where a free lock's read cannot show its last token.
 */
async function readFinalState(finalClient: LockClient, keys: readonly string[], clock: RunClock): Promise<{ finalReads: ReadOp[]; unreadKeys: string[] }> {
  const finalReads: ReadOp[] = [];
  const unreadKeys: string[] = [];
  const readDeadline = clock.nowMs() + FINAL_READ_TIMEOUT_MS;
  for (const key of keys) {
    let got: ReadOp | null = null;
    while (got === null && clock.nowMs() < readDeadline) {
      const r = await finalClient.read(key);
      if (r.status === 'ok') got = r;
      else await sleep(200);
    }
    if (got === null) unreadKeys.push(key);
    else finalReads.push(got);
  }
  for (const key of keys) {
    for (let attempt = 0; attempt < 5 && clock.nowMs() < readDeadline + FINAL_READ_TIMEOUT_MS; attempt++) {
      const r = await finalClient.acquire(key, `final-${key}`, FINAL_LEASE_MS);
      if (r.status === 'ok' || (r.status === 'fail' && r.output.error === 'lock_held')) break;
    }
  }
  return { finalReads, unreadKeys };
}

/** writeRunFolder writes history, leader changes, the resource's log, the verdict and the timeline. */
async function writeRunFolder(
  o: VerifyOptions,
  setup: RunSetup,
  phase: FaultPhase,
  result: { history: Operation[]; verdict: RunVerdict; summary: string[]; endMs: number },
): Promise<void> {
  const { outDir } = setup;
  const { workload, monitor, nemesis } = phase;
  const { history, verdict, summary } = result;
  await writeHistoryJsonl(join(outDir, 'history.jsonl'), history);
  writeFileSync(join(outDir, 'leader.jsonl'), monitor.changes.map((c) => JSON.stringify(c)).join('\n') + '\n');
  if (workload.resource !== null) {
    writeFileSync(join(outDir, 'resource.jsonl'), workload.resource.writes.map((w) => JSON.stringify(w)).join('\n') + '\n');
  }
  const config = {
    nodes: o.nodes,
    nemesis: o.families,
    workload: o.workload,
    timeS: o.timeS,
    seed: o.seed,
    security: o.security ?? 'secret',
    clients: phase.clientCount,
    keys: workload.keys.length,
    mainPath: setup.mainPath,
    judge: setup.judgeOptions,
    rerun: rerunCommand(o),
    plan: phase.plan,
  };
  writeFileSync(join(outDir, 'verdict.json'), JSON.stringify({ config, summary, ...verdict }, null, 2) + '\n');
  if (verdict.linearizability.report !== '') writeFileSync(join(outDir, 'linearizability.txt'), verdict.linearizability.report + '\n');
  writeFileSync(
    join(outDir, 'timeline.html'),
    renderTimelineHtml({
      title: `raftlock verify seed ${o.seed}: ${verdict.valid ? 'PASS' : 'FAIL'}`,
      summaryLines: summary,
      history,
      nemesis: nemesis.records,
      leaderChanges: monitor.changes,
      endMs: result.endMs,
    }),
  );
}

function fmtMs(v: number | null): string {
  return v === null ? '-' : `${Math.round(v)} ms`;
}

function pct(f: number): string {
  return `${(f * 100).toFixed(1)}%`;
}

/** summarize renders the human summary of a run. */
export function summarize(o: VerifyOptions, v: RunVerdict, nemesis: Nemesis, outDir: string): string[] {
  const lines: string[] = [];
  lines.push(`raftlock verify: ${o.nodes} nodes, nemesis ${o.families.join(',') || 'none'}, workload ${o.workload}, ${o.timeS} s, seed ${o.seed}, security ${o.security ?? 'secret'}`);
  const f = v.ops;
  const byF = Object.entries(f.byFunction)
    .map(([k, c]) => `${k} ${c.ok}/${c.fail}/${c.unknown}`)
    .join(', ');
  lines.push(`ops: ${f.total} (ok ${f.ok}, fail ${f.fail}, unknown ${f.unknown}); ok/fail/unknown by call: ${byF}`);
  const codes = Object.entries(f.failCodes)
    .sort(([, a], [, b]) => b - a)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  if (codes.length > 0) lines.push(`failures by code: ${codes}`);
  const done = nemesis.records.filter((r) => !r.skipped);
  const byFamily = new Map<string, number>();
  for (const r of done) byFamily.set(`${r.family}:${r.variant}`, (byFamily.get(`${r.family}:${r.variant}`) ?? 0) + 1);
  lines.push(
    `faults: ${done.length} (${[...byFamily.entries()].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'})${
      nemesis.records.length > done.length ? `, ${nemesis.records.length - done.length} skipped` : ''
    }`,
  );
  const fo = v.failover;
  lines.push(
    `time to new leader after faults: median ${fmtMs(fo.medianMs)}, p99 ${fmtMs(fo.p99Ms)}, max ${fmtMs(fo.maxMs)} (${fo.newLeaderCount} new leader, ${fo.sameLeaderCount} same leader, ${fo.noLeaderSeenCount} none seen); leader after final heal: ${fmtMs(v.leaderAfterHealMs)}`,
  );
  const a = v.availability;
  lines.push(
    `availability: outside faults ${a.outside.unavailable}/${a.outside.total} unavailable (${pct(a.outside.fraction)}); inside faults ${a.inside.unavailable}/${a.inside.total} (${pct(a.inside.fraction)})`,
  );
  const lin = v.linearizability;
  const bad = lin.keys.filter((k) => k.result !== 'ok');
  lines.push(`linearizability: ${lin.result} (${lin.keys.length} keys, ${lin.elapsedMs} ms${bad.length > 0 ? `; failed: ${bad.map((k) => `${k.key}=${k.result}`).join(', ')}` : ''})`);
  lines.push(`fencing: ${v.fencing.valid ? 'ok' : `${v.fencing.violations.length} violations`} (${v.fencing.grantsChecked} grants, ${v.fencing.writesChecked} resource writes checked)`);
  if (v.counter !== null) {
    lines.push(
      `counter: final ${v.counter.finalValue}, acknowledged increments ${v.counter.tally.acknowledged} (${v.counter.valid ? 'equal' : v.counter.violation}); stale writes rejected ${v.counter.tally.rejected}, stale reads rejected ${v.counter.tally.abandoned}`,
    );
  }
  if (v.control !== null) {
    lines.push(`control (unfenced): lost updates ${v.control.lostUpdates} (acknowledged ${v.control.acknowledged}, final ${v.control.finalValue})${v.control.lostUpdates > 0 ? ' — the nemesis bites' : ''}`);
  }
  const n = v.noLostAck;
  lines.push(`no lost ack: ${n.valid ? 'ok' : `${n.violations.length} violations`} (${n.grantsRequired} live grants required, ${n.grantsExcused} excused, ${n.releasesChecked} releases checked)`);
  for (const viol of v.violations.slice(0, 20)) lines.push(`VIOLATION ${viol.checker}/${viol.kind}: ${viol.detail}`);
  if (v.violations.length > 20) lines.push(`... and ${v.violations.length - 20} more violations (verdict.json)`);
  lines.push(`verdict: ${v.valid ? 'PASS' : `FAIL (${v.violations.length} violations)`}; run folder ${outDir}`);
  if (!v.valid) lines.push(`FAILED seed ${o.seed}; rerun: ${rerunCommand(o)}`);
  return lines;
}
