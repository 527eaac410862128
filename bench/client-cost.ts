/**
 * `node dist/bench/client-cost.js [--clients 64] [--seconds 2] [--rounds 3] [--only raw|lib]`: the CPU a client spends per
 * acquire+release cycle, RaftLockClient (one shared client, as an application would use it) against the bench's
 * minimal HTTP client (one connection per task), apart from any cluster: the server is a stub in a child process
 * that answers every call at once with a canned body, so neither Raft, the disk nor the server's CPU enters the
 * figure. Rounds alternate the two clients (the machine is shared); the CPU is this process's own
 * (process.cpuUsage), which holds only the clients.
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { HOLD_TTL_MS, RaftlockLibClient, RaftlockRawClient, type LockClient } from './lib/lock-clients.js';
import { installSignalHandlers, runMain, track } from './lib/process-registry.js';

/** serveStub answers the lock API's calls with canned bodies, and tells its parent the port. */
function serveStub(): void {
  let token = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      let body: string;
      if (url === '/v1/status') body = '{"role":"leader","nodeId":"stub","appliedIndex":1}';
      else if (url.endsWith('/acquire')) {
        const owner = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { owner: string }).owner;
        body = `{"name":"x","owner":${JSON.stringify(owner)},"token":${++token},"mode":"exclusive","expiresInMs":${HOLD_TTL_MS},"holdCount":1}`;
      } else if (url.endsWith('/release')) body = '{"released":true}';
      else if (url.endsWith('/renew')) body = `{"expiresInMs":${HOLD_TTL_MS}}`;
      else body = '{}';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('disconnect', () => process.exit(0));
}

interface Phase {
  readonly cyclesPerSec: number;
  readonly cpuUsPerCycle: number;
}

/** WARMUP_MS of unmeasured cycles first: the JIT and the connection pool settle before the window. */
const WARMUP_MS = 500;

/** measure runs acquire+release cycles on every client for a warm-up, then `seconds`, and reads this process's CPU. */
async function measure(clients: LockClient[], seconds: number, tag: string): Promise<Phase> {
  await Promise.all(clients.map((c) => c.open()));
  const startedMs = performance.now();
  const windowStartMs = startedMs + WARMUP_MS;
  const endMs = windowStartMs + seconds * 1000;
  let cpu0: NodeJS.CpuUsage | null = null;
  let cycles = 0;
  await Promise.all(
    clients.map(async (c, i) => {
      const name = `${tag}/u${i}`;
      // Bounded by time: one cycle at a time per client until the window ends.
      for (let nowMs = performance.now(); nowMs < endMs; nowMs = performance.now()) {
        if (nowMs >= windowStartMs && cpu0 === null) cpu0 = process.cpuUsage();
        if (!(await c.acquire(name, 0))) throw new Error('the stub refused an acquire');
        await c.release(name);
        if (cpu0 !== null) cycles++;
      }
    }),
  );
  const elapsedS = (performance.now() - windowStartMs) / 1000;
  const cpu = process.cpuUsage(cpu0 ?? undefined);
  for (const c of clients) c.close();
  return { cyclesPerSec: cycles / elapsedS, cpuUsPerCycle: (cpu.user + cpu.system) / Math.max(1, cycles) };
}

async function main(): Promise<number> {
  if (process.argv.includes('--stub')) {
    serveStub();
    return new Promise<number>(() => undefined);
  }
  const { values } = parseArgs({ options: { clients: { type: 'string', default: '64' }, seconds: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' }, only: { type: 'string' } } });
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  if (!(clients >= 1 && clients <= 1024 && seconds > 0 && seconds <= 60 && rounds >= 1 && rounds <= 20)) throw new Error('clients, seconds or rounds out of range');
  installSignalHandlers();
  const stub = track(fork(new URL(import.meta.url).pathname, ['--stub'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const port = await new Promise<number>((resolve) => stub.once('message', (m: { port: number }) => resolve(m.port)));
  const loadAvg = (): string => (loadavg()[0] ?? 0).toFixed(1);
  try {
    for (let round = 1; round <= rounds; round++) {
      // Alternate which client goes first: load on the shared machine tends to drift within a round.
      const order = round % 2 === 1 ? (['raw', 'lib'] as const) : (['lib', 'raw'] as const);
      for (const kind of order) {
        if (values.only !== undefined && values.only !== kind) continue;
        const list: LockClient[] = [];
        for (let i = 0; i < clients; i++) list.push(kind === 'raw' ? new RaftlockRawClient('127.0.0.1', port, `c${i}`) : new RaftlockLibClient(`http://127.0.0.1:${port}`, `c${i}`));
        const p = await measure(list, seconds, `r${round}${kind}`);
        console.log(`round ${round} ${kind === 'raw' ? 'minimal       ' : 'RaftLockClient'}: ${p.cyclesPerSec.toFixed(0).padStart(6)} cycles/s, client CPU ${p.cpuUsPerCycle.toFixed(1).padStart(6)} µs/cycle (load average ${loadAvg()})`);
      }
    }
  } finally {
    stub.kill('SIGKILL');
  }
  return 0;
}

runMain(main);
