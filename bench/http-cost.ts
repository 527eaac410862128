/**
 * `node dist/bench/http-cost.js [--clients 8] [--seconds 3] [--rounds 2]`: what authentication and
 * HTTPS cost per request, on one node (so no replication) and apart from the
 * disk. For each of auth off/on x HTTPS off/on (interleaved, `--rounds`
 * times, since the machine is shared) it runs `--clients` keep-alive
 * connections doing GET /v1/status (no disk), then acquire + release
 * cycles, and prints requests per second and the node's CPU time per
 * request (from /proc, bench/lib/proc-stats.ts). The group-commit probe
 * (group-commit.ts --auth --https) measures the same on a 3-node cluster,
 * where fsync latency usually dominates.
 */
import { parseArgs } from 'node:util';
import { HttpConnection } from './lib/mini-http.js';
import { installSignalHandlers, runMain } from './lib/process-registry.js';
import { cpuSeconds } from './lib/proc-stats.js';
import { securitySetup } from './lib/security-setup.js';
import { raftlockLeader, startRaftlockCluster } from './lib/systems.js';

/** One measured phase: requests (or cycles) per second and the node's CPU microseconds each. */
interface Phase {
  readonly perSec: number;
  readonly cpuUsEach: number;
}

/** measure runs `op` on every connection until `seconds` pass, counting completions and the node's CPU. */
async function measure(pid: number, conns: HttpConnection[], seconds: number, op: (c: HttpConnection, i: number) => Promise<void>): Promise<Phase> {
  const cpuBefore = cpuSeconds(pid);
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
  return { perSec: count / elapsedS, cpuUsEach: ((cpuSeconds(pid) - cpuBefore) * 1e6) / Math.max(1, count) };
}

async function expectOk(res: Promise<{ status: number; body: unknown }>, what: string): Promise<any> {
  const r = await res;
  if (r.status !== 200) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function probe(auth: boolean, https: boolean, clients: number, seconds: number): Promise<string> {
  const security = securitySetup({ auth, https });
  const cluster = await startRaftlockCluster(['--log-level', 'warn', ...security.extraArgs], [], security.access, 1);
  try {
    const node = await raftlockLeader(cluster);
    const pid = node.child?.pid;
    if (pid === undefined) throw new Error('the node is not running');
    const conns = Array.from({ length: clients }, () => new HttpConnection('127.0.0.1', node.httpPort, security.access));
    try {
      // Connect (and shake hands) before measuring: the probe is about requests on open connections.
      for (const c of conns) await expectOk(c.json('GET', '/v1/status'), 'status');
      const status = await measure(pid, conns, seconds, async (c) => void (await expectOk(c.json('GET', '/v1/status'), 'status')));
      const locks = await measure(pid, conns, seconds, async (c, i) => {
        const granted = await expectOk(c.json('POST', `/v1/locks/cost-${i}/acquire`, { owner: 'probe', ttlMs: 30_000 }), 'acquire');
        await expectOk(c.json('POST', `/v1/locks/cost-${i}/release`, { owner: 'probe', token: granted.token }), 'release');
      });
      const show = (p: Phase, unit: string): string => `${p.perSec.toFixed(0)} ${unit}/s, ${p.cpuUsEach.toFixed(0)} us node CPU each`;
      return `${security.label}: GET /v1/status ${show(status, 'req')}; acquire+release ${show(locks, 'cycles')}`;
    } finally {
      for (const c of conns) c.close();
    }
  } finally {
    await cluster.stop();
    security.cleanup();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { clients: { type: 'string', default: '8' }, seconds: { type: 'string', default: '3' }, rounds: { type: 'string', default: '2' } },
    strict: true,
  });
  installSignalHandlers();
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  if (!(clients >= 1 && clients <= 256 && seconds > 0 && seconds <= 60 && rounds >= 1 && rounds <= 10)) throw new Error('--clients 1..256, --seconds 0..60, --rounds 1..10');
  for (let round = 1; round <= rounds; round++) {
    for (const [auth, https] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      console.log(`round ${round}, ${await probe(auth, https, clients, seconds)}`);
    }
  }
  return 0;
}

runMain(main);
