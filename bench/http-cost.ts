/**
 * `node dist/bench/http-cost.js [--nodes 3] [--clients 64] [--seconds 5] [--rounds 6]
 * [--configs plain,auth,https,all] [--status]`: what security costs, in one run.
 *
 * It starts one cluster per configuration, all at once, and keeps them
 * running; then, round after round, it drives each in turn with `--clients`
 * keep-alive connections to the leader doing acquire + release cycles on a
 * lock of their own (no contention) for `--seconds`, reading the CPU time of
 * every node process from /proc/PID/stat (bench/lib/proc-stats.ts) at the
 * window's edges. The order alternates between rounds (forward, then
 * reversed), so a machine whose load drifts favours no configuration, and
 * each configuration is compared with `plain` of the same round: the report
 * gives, per configuration, cycles/s and node CPU per cycle (median and range
 * over the rounds) and the median and range of the per-round ratios to plain.
 * With `--status` each window also measures GET /v1/status (no disk).
 *
 * Configurations (peers / API):
 *   plain        --insecure peers, plain HTTP, no authentication: the baseline
 *   auth         bearer tokens only
 *   https        HTTPS only
 *   peer-secret  peers prove a shared secret and MAC every frame (the launcher's default)
 *   peer-tls     peers over mutual TLS
 *   all          peers over mutual TLS, HTTPS and bearer tokens: a secured production cluster
 */
import { parseArgs } from 'node:util';
import { HttpConnection } from './lib/mini-http.js';
import { installSignalHandlers, runMain } from './lib/process-registry.js';
import { cpuSeconds } from './lib/proc-stats.js';
import { securitySetup, type SecuritySetup } from './lib/security-setup.js';
import { raftlockLeader, startRaftlockCluster, type PeerSecurityMode } from './lib/systems.js';

/** CostConfig is one configuration: how peers and the HTTP API are secured. */
interface CostConfig {
  readonly auth: boolean;
  readonly https: boolean;
  readonly peers: PeerSecurityMode;
}

const CONFIGS: Readonly<Record<string, CostConfig>> = {
  plain: { auth: false, https: false, peers: 'insecure' },
  auth: { auth: true, https: false, peers: 'insecure' },
  https: { auth: false, https: true, peers: 'insecure' },
  'peer-secret': { auth: false, https: false, peers: 'secret' },
  'peer-tls': { auth: false, https: false, peers: 'tls' },
  all: { auth: true, https: true, peers: 'tls' },
};

/** One measured window: operations per second, and node CPU microseconds per operation (all nodes, and the leader). */
interface Phase {
  readonly perSec: number;
  readonly cpuUsEach: number;
  readonly leaderCpuUsEach: number;
}

/** Idle connections must survive the other configurations' windows: far above a round's length. */
const IDLE_TIMEOUT_MS = 600_000;
const WARMUP_S = 2;

/** measure runs `op` on every connection until `seconds` pass, counting completions and the nodes' CPU. */
async function measure(pids: readonly number[], leaderPid: number, conns: HttpConnection[], seconds: number, op: (c: HttpConnection, i: number) => Promise<void>): Promise<Phase> {
  const cpuBefore = pids.map(cpuSeconds);
  const startedMs = Date.now();
  let count = 0;
  await Promise.all(
    conns.map(async (c, i) => {
      // Bounded by time: each connection does one request at a time until the window ends.
      while (Date.now() - startedMs < seconds * 1000) {
        await op(c, i);
        count++;
      }
    }),
  );
  const elapsedS = (Date.now() - startedMs) / 1000;
  const cpuAfter = pids.map(cpuSeconds);
  const used = cpuAfter.map((after, i) => after - cpuBefore[i]!);
  if (used.some((s) => !Number.isFinite(s))) throw new Error('a node exited during the window');
  const total = used.reduce((a, b) => a + b, 0);
  const leader = used[pids.indexOf(leaderPid)]!;
  const each = (s: number): number => (s * 1e6) / Math.max(1, count);
  return { perSec: count / elapsedS, cpuUsEach: each(total), leaderCpuUsEach: each(leader) };
}

async function expectOk(res: Promise<{ status: number; body: unknown }>, what: string): Promise<any> {
  const r = await res;
  if (r.status !== 200) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** RunningConfig is one configuration's cluster with its open connections to the leader. */
interface RunningConfig {
  readonly name: string;
  readonly security: SecuritySetup;
  readonly pids: number[];
  readonly leaderPid: number;
  readonly conns: HttpConnection[];
  stop(): Promise<void>;
}

async function startConfig(name: string, c: CostConfig, nodes: number, clients: number): Promise<RunningConfig> {
  const security = securitySetup({ auth: c.auth, https: c.https });
  const cluster = await startRaftlockCluster(['--log-level', 'warn', '--http-idle-timeout-ms', String(IDLE_TIMEOUT_MS), ...security.extraArgs], [], security.access, nodes, c.peers);
  try {
    const leader = await raftlockLeader(cluster);
    const pids = cluster.nodes.map((n) => n.child?.pid);
    if (pids.some((p) => p === undefined) || leader.child?.pid === undefined) throw new Error(`${name}: a node is not running`);
    const conns = Array.from({ length: clients }, () => new HttpConnection('127.0.0.1', leader.httpPort, security.access));
    // Connect (and shake hands) before measuring: the probe is about requests on open connections.
    for (const conn of conns) await expectOk(conn.json('GET', '/v1/status'), `${name} status`);
    return {
      name,
      security,
      pids: pids as number[],
      leaderPid: leader.child.pid,
      conns,
      stop: async () => {
        for (const conn of conns) conn.close();
        await cluster.stop();
        security.cleanup();
      },
    };
  } catch (err) {
    await cluster.stop();
    security.cleanup();
    throw err;
  }
}

/** cycles measures acquire + release cycles, each connection on its own lock. */
function cycles(r: RunningConfig, seconds: number): Promise<Phase> {
  return measure(r.pids, r.leaderPid, r.conns, seconds, async (c, i) => {
    const granted = await expectOk(c.json('POST', `/v1/locks/cost-${i}/acquire`, { owner: 'probe', ttlMs: 30_000 }), `${r.name} acquire`);
    await expectOk(c.json('POST', `/v1/locks/cost-${i}/release`, { owner: 'probe', token: granted.token }), `${r.name} release`);
  });
}

function statusReads(r: RunningConfig, seconds: number): Promise<Phase> {
  return measure(r.pids, r.leaderPid, r.conns, seconds, async (c) => void (await expectOk(c.json('GET', '/v1/status'), `${r.name} status`)));
}

/** spread is "median (min-max)" of `values` (the median of an even count is the mean of the middle two). */
function spread(values: readonly number[], digits: number): string {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return `${median.toFixed(digits)} (${sorted[0]!.toFixed(digits)}-${sorted[sorted.length - 1]!.toFixed(digits)})`;
}

/** report prints one measure's table: per configuration its values and its per-round ratios to the first configuration. */
function report(title: string, names: readonly string[], rounds: readonly Map<string, Phase>[]): void {
  console.log(`\n${title}: median (min-max) over ${rounds.length} rounds; ratios are per round against ${names[0]} of the same round`);
  for (const name of names) {
    const mine = rounds.map((r) => r.get(name)!);
    const base = rounds.map((r) => r.get(names[0]!)!);
    const ratio = (f: (p: Phase) => number): string => spread(mine.map((p, i) => f(p) / f(base[i]!)), 2);
    console.log(
      `  ${name.padEnd(12)} ${spread(mine.map((p) => p.perSec), 0)} /s (x ${ratio((p) => p.perSec)}); ` +
        `node CPU ${spread(mine.map((p) => p.cpuUsEach), 0)} us each (x ${ratio((p) => p.cpuUsEach)}), leader's ${spread(mine.map((p) => p.leaderCpuUsEach), 0)} us`,
    );
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '3' },
      clients: { type: 'string', default: '64' },
      seconds: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '6' },
      configs: { type: 'string', default: 'plain,auth,https,all' },
      status: { type: 'boolean', default: false },
    },
    strict: true,
  });
  installSignalHandlers();
  const nodes = Number(values.nodes);
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  if (!((nodes === 1 || nodes === 3 || nodes === 5) && clients >= 1 && clients <= 256 && seconds > 0 && seconds <= 60 && rounds >= 1 && rounds <= 20)) {
    throw new Error('--nodes 1|3|5, --clients 1..256, --seconds 0..60, --rounds 1..20');
  }
  const names = values.configs.split(',');
  for (const n of names) if (CONFIGS[n] === undefined) throw new Error(`--configs: unknown "${n}"; known: ${Object.keys(CONFIGS).join(', ')}`);
  if (new Set(names).size !== names.length || names.length < 2) throw new Error('--configs: at least two, each once (the first is the baseline)');

  const running: RunningConfig[] = [];
  try {
    for (const name of names) running.push(await startConfig(name, CONFIGS[name]!, nodes, clients));
    console.log(`security cost: ${nodes} node(s) per cluster, ${clients} clients on the leader, ${seconds} s windows, ${rounds} rounds, order alternating; clusters ${running.map((r) => `${r.name} pids ${r.pids.join('/')}`).join('; ')}`);
    for (const r of running) await cycles(r, WARMUP_S);
    const cycleRounds: Map<string, Phase>[] = [];
    const statusRounds: Map<string, Phase>[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? running : [...running].reverse();
      const c = new Map<string, Phase>();
      const s = new Map<string, Phase>();
      for (const r of order) {
        const p = await cycles(r, seconds);
        c.set(r.name, p);
        if (values.status) s.set(r.name, await statusReads(r, seconds));
        console.log(`round ${round + 1} ${r.name.padEnd(12)} ${p.perSec.toFixed(0)} cycles/s, ${p.cpuUsEach.toFixed(0)} us node CPU per cycle (leader ${p.leaderCpuUsEach.toFixed(0)})`);
      }
      cycleRounds.push(c);
      if (values.status) statusRounds.push(s);
    }
    report(`acquire+release cycles (${clients} clients)`, names, cycleRounds);
    if (values.status) report(`GET /v1/status (${clients} clients)`, names, statusRounds);
    return 0;
  } finally {
    for (const r of running) await r.stop();
  }
}

runMain(main);
