/**
 * `node dist/bench/group-commit.js [--clients 64] [--seconds 10] [--peer-security tls|secret|insecure] [--cpu-prof DIR] [--auth] [--https] [--client raw|lib]`: how well the
 * Ready loop batches. N clients do acquire → release cycles against the
 * leader of a fresh 3-node cluster; raftlock_raft_syncs_total and
 * raftlock_raft_synced_entries_total are read from /metrics of the leader and one
 * follower before and after, giving synced batches per second and entries
 * per batch (one batch = one fsync). With --cpu-prof, the nodes run under
 * `node --cpu-prof` (profiles written to DIR when they stop) and a summary of
 * where each one's time went is printed (bench/lib/profile-summary.ts).
 * --auth and --https run the cluster with bearer-token authentication and
 * HTTPS on (bench/lib/security-setup.ts), to measure what they cost.
 * --client lib drives the load through RaftLockClient instead of the minimal
 * client, to see where the library's extra server cost goes.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { HttpAccess } from './lib/load-target.js';
import { HttpConnection } from './lib/mini-http.js';
import { formatAreas, formatSummary, hrtimeUs, summarizeAreas, summarizeProfile, type ProfileWindow } from './lib/profile-summary.js';
import { installSignalHandlers, runMain } from './lib/process-registry.js';
import { runLoad } from './lib/run-load.js';
import { securitySetup } from './lib/security-setup.js';
import { parsePeerSecurityMode, raftlockLeader, startRaftlockCluster } from './lib/systems.js';

/** readCounters reads the group-commit counters (and the fsync histogram's sum and count) of one node. */
async function readCounters(url: string, access: HttpAccess): Promise<Record<string, number>> {
  const u = new URL(url);
  const conn = new HttpConnection(u.hostname, Number(u.port), access);
  try {
    const res = await conn.request('GET', '/metrics', undefined, 10_000);
    const out: Record<string, number> = {};
    for (const name of ['raftlock_raft_syncs_total', 'raftlock_raft_synced_entries_total', 'raftlock_raft_fsync_seconds_sum', 'raftlock_raft_fsync_seconds_count', 'raftlock_raft_proposals_total']) {
      const m = new RegExp(`^${name} ([0-9.e+-]+)`, 'm').exec(res.body);
      out[name] = m === null ? Number.NaN : Number(m[1]);
    }
    return out;
  } finally {
    conn.close();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '64' },
      seconds: { type: 'string', default: '10' },
      'peer-security': { type: 'string', default: 'secret' },
      'cpu-prof': { type: 'string' },
      auth: { type: 'boolean', default: false },
      https: { type: 'boolean', default: false },
      client: { type: 'string', default: 'raw' },
    },
    strict: true,
  });
  installSignalHandlers();
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  if (!(clients >= 1 && clients <= 1024 && seconds > 0 && seconds <= 600)) throw new Error('--clients 1..1024, --seconds 0..600');
  const client = values.client;
  if (client !== 'raw' && client !== 'lib') throw new Error('--client raw|lib');
  const profDir = values['cpu-prof'] === undefined ? null : resolve(values['cpu-prof']);
  if (profDir !== null) mkdirSync(profDir, { recursive: true });
  const peerSecurity = parsePeerSecurityMode(values['peer-security']);
  const security = securitySetup({ auth: values.auth === true, https: values.https === true });
  const { access } = security;
  const cluster = await startRaftlockCluster(['--log-level', 'warn', ...security.extraArgs], profDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', profDir], access, 3, peerSecurity);
  try {
    const leader = await raftlockLeader(cluster);
    const follower = cluster.nodes.find((n) => n.id !== leader.id)!;
    const pids = cluster.nodes.map((n) => n.child?.pid).filter((p): p is number => p !== undefined);
    const roles = new Map(cluster.nodes.map((n) => [n.child?.pid ?? -1, `${n.id === leader.id ? 'leader' : 'follower'} ${n.id}`]));
    const windowMs = seconds * 1000;
    // The counters are read at the window's edges while the load runs (1 s warm-up first).
    // The profiles are cut to the same window (their samples carry the monotonic clock hrtimeUs reads).
    const window = { fromUs: 0, toUs: 0 };
    const before = new Promise<[Record<string, number>, Record<string, number>]>((resolve, reject) =>
      setTimeout(() => {
        window.fromUs = hrtimeUs();
        Promise.all([readCounters(leader.httpUrl, access), readCounters(follower.httpUrl, access)]).then(resolve, reject);
      }, 1_000),
    );
    const after = new Promise<[Record<string, number>, Record<string, number>]>((resolve, reject) =>
      setTimeout(() => {
        window.toUs = hrtimeUs();
        Promise.all([readCounters(leader.httpUrl, access), readCounters(follower.httpUrl, access)]).then(resolve, reject);
      }, 1_000 + windowMs),
    );
    const result = await runLoad(
      { target: { protocol: 'raftlock', host: '127.0.0.1', port: leader.httpPort, client, access }, workload: { kind: 'uncontended', clients }, warmupMs: 1_000, windowMs, serverPids: pids, tag: 'gc', retry: { baseMs: 2, capMs: 64 } },
      windowMs + 60_000,
    );
    const [b, a] = await Promise.all([before, after]);
    if (result.kind !== 'locks') throw new Error('unexpected result');
    console.log(`group commit (peer security: ${peerSecurity}, ${security.label}, ${client} client): ${clients} clients, ${seconds} s against leader ${leader.id}: ${result.cyclesPerSec.toFixed(0)} cycles/s (${(2 * result.cyclesPerSec).toFixed(0)} writes/s), acquire p50 ${result.acquire.p50Ms.toFixed(2)} ms p99 ${result.acquire.p99Ms.toFixed(2)} ms, server CPU ${(result.serverCpuSec / seconds).toFixed(2)} cores`);
    const perNode = result.serverCpuSecPerProcess.map((sec, i) => `${roles.get(pids[i]!)} ${((sec * 1e6) / Math.max(1, result.cycles)).toFixed(0)}`);
    console.log(`  server CPU per cycle (/proc, window): ${((result.serverCpuSec * 1e6) / Math.max(1, result.cycles)).toFixed(0)} µs (${perNode.join(', ')}); cycle p50 ${result.cycle.p50Ms.toFixed(2)} ms`);
    for (const [role, id, x, y] of [['leader', leader.id, b[0], a[0]], ['follower', follower.id, b[1], a[1]]] as const) {
      const syncs = y.raftlock_raft_syncs_total! - x.raftlock_raft_syncs_total!;
      const entries = y.raftlock_raft_synced_entries_total! - x.raftlock_raft_synced_entries_total!;
      const fsyncMs = ((y.raftlock_raft_fsync_seconds_sum! - x.raftlock_raft_fsync_seconds_sum!) / Math.max(1, y.raftlock_raft_fsync_seconds_count! - x.raftlock_raft_fsync_seconds_count!)) * 1000;
      console.log(
        `  ${role.padEnd(8)} ${id}: ${(syncs / seconds).toFixed(0)} sync batches/s, ${(entries / Math.max(1, syncs)).toFixed(2)} entries per batch, ${(entries / seconds).toFixed(0)} entries/s, mean batch write+fsync ${fsyncMs.toFixed(2)} ms, disk busy ${((syncs * fsyncMs) / (seconds * 10)).toFixed(0)}%`,
      );
    }
    if (result.violations > 0) {
      console.log(`MUTUAL EXCLUSION VIOLATIONS: ${result.violations}`);
      return 1;
    }
    if (profDir !== null) {
      // The cycles the load completed in its window, as for the /proc figure above.
      const cycles = result.cycles;
      const cut: ProfileWindow = window;
      console.log(`profile window (hrtime µs): ${cut.fromUs} ${cut.toUs}`);
      // A profile is written when the process exits normally: SIGTERM, not the SIGKILL of cluster.stop().
      for (const n of cluster.nodes) await cluster.kill(n.id, 'SIGTERM');
      for (const [pid, role] of roles) {
        const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.`));
        if (file === undefined) {
          console.log(`${role}: no profile in ${profDir}`);
          continue;
        }
        console.log(formatSummary(`${role} (${join(profDir, file)})`, summarizeProfile(join(profDir, file))));
        console.log(formatAreas(`${role} by area, in the load window`, summarizeAreas(join(profDir, file), cut), cycles));
      }
    }
    return 0;
  } finally {
    await cluster.stop();
    security.cleanup();
  }
}

runMain(main);
