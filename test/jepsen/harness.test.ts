import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyCommand } from '../../src/cli/verify-command.js';
import { parseHistoryJsonl } from '../../src/verify/history-jsonl.js';
import { ClientPauses } from '../../src/verify/harness/client-pause.js';
import { harnessLockModel, fillFreeFinalReads } from '../../src/verify/harness/lock-model-adapter.js';
import { httpCall } from '../../src/verify/harness/http-call.js';
import { waitForAgreedLeader } from '../../src/verify/harness/leader-monitor.js';
import { LinkNetwork } from '../../src/verify/harness/link-network.js';
import { NodeProcesses } from '../../src/verify/harness/node-processes.js';
import { NEMESIS_FAMILIES, parseNemesisFamilies, planNemesis } from '../../src/verify/harness/nemesis-plan.js';
import { ToyResource } from '../../src/verify/harness/resource-server.js';
import { RunClock } from '../../src/verify/harness/run-clock.js';
import { defaultMainPath, runVerify } from '../../src/verify/harness/run.js';
import { TcpProxy } from '../../src/verify/harness/tcp-proxy.js';
import { checkLinearizability } from '../../src/verify/linearizability.js';
import { checkLockHistory } from '../../src/verify/lock-model.js';
import type { Operation, ReadOp } from '../../src/verify/history.js';

// ---- helpers ------------------------------------------------------------------------

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An echo server on a free loopback port that counts the bytes it received. */
async function echoServer(): Promise<{ port: number; received: () => number }> {
  let received = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.on('data', (d: Buffer) => {
      received += d.length;
      s.write(d);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((done) => server.close(() => done()));
  });
  const addr = server.address();
  return { port: typeof addr === 'object' && addr !== null ? addr.port : 0, received: () => received };
}

/** A client connection that collects what it reads and reports how it ended. */
function dial(port: number): { socket: Socket; data: () => string; closed: Promise<void>; connected: Promise<void> } {
  let data = '';
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  socket.on('data', (d: Buffer) => (data += d.toString('utf8')));
  const closed = new Promise<void>((done) => socket.once('close', () => done()));
  const connected = new Promise<void>((done) => socket.once('connect', () => done()));
  cleanups.push(() => void socket.destroy());
  return { socket, data: () => data, closed, connected };
}

/** until polls `cond` every 10 ms up to timeoutMs and fails the test if it never holds. */
async function until(what: string, cond: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function startProxy(targetPort: number): Promise<TcpProxy> {
  const p = new TcpProxy('test', targetPort);
  await p.start();
  cleanups.push(() => p.stop());
  return p;
}

// ---- the proxy ----------------------------------------------------------------------------

describe('TcpProxy', () => {
  it('relays bytes both ways', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port);
    const c = dial(proxy.port);
    c.socket.write('hello');
    await until('the echo', () => c.data() === 'hello');
    expect(echo.received()).toBe(5);
    expect(proxy.stats().bytesForwarded).toBe(10);
  });

  it('block() resets current connections and refuses new ones until unblock()', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port);
    const c1 = dial(proxy.port);
    c1.socket.write('a');
    await until('the first echo', () => c1.data() === 'a');

    proxy.block();
    await c1.closed; // the established connection is cut
    const c2 = dial(proxy.port);
    c2.socket.on('connect', () => c2.socket.write('lost'));
    await c2.closed; // a new one is accepted and reset at once
    expect(c2.data()).toBe('');
    expect(echo.received()).toBe(1); // nothing crossed while blocked
    expect(proxy.stats().refused).toBeGreaterThanOrEqual(1);

    proxy.unblock();
    const c3 = dial(proxy.port);
    c3.socket.write('back');
    await until('the echo after unblock', () => c3.data() === 'back');
  });

  it('blackhole() keeps connections up but forwards nothing; unblock() resets the swallowed ones', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port);
    const c = dial(proxy.port);
    c.socket.write('x');
    await until('the first echo', () => c.data() === 'x');
    proxy.blackhole();
    c.socket.write('swallowed');
    await until('the proxy to read the bytes', () => proxy.stats().bytesDiscarded === 9);
    expect(c.socket.destroyed).toBe(false);
    expect(echo.received()).toBe(1);
    expect(c.data()).toBe('x');
    proxy.unblock();
    await c.closed; // a stream that lost bytes is never resumed
  });

  it('a one-way cut of i->j blocks only the proxy of that direction', async () => {
    const a = await echoServer();
    const b = await echoServer();
    const net = await LinkNetwork.create([
      { id: 'a', peerPort: a.port, httpPort: a.port },
      { id: 'b', peerPort: b.port, httpPort: b.port },
    ]);
    cleanups.push(() => net.stop());
    net.apply((from, to) => !(from === 'a' && to === 'b'), 'blocked');
    expect(net.cutLinks()).toEqual(['a->b']);
    const port = (addr: string): number => Number(addr.split(':')[1]);
    // a -> b is cut, for the peer link and the HTTP link alike.
    for (const kind of ['peer', 'http'] as const) {
      const cut = dial(net.proxy('a', 'b', kind).port);
      cut.socket.on('connect', () => cut.socket.write('nope'));
      await cut.closed;
      expect(cut.data()).toBe('');
    }
    // b -> a still works.
    const open = dial(port(net.peerAddress('b', 'a')));
    open.socket.write('yes');
    await until('b->a to relay', () => open.data() === 'yes');
    expect(b.received()).toBe(0);
    net.heal();
    expect(net.cutLinks()).toEqual([]);
    const healed = dial(port(net.peerAddress('a', 'b')));
    healed.socket.write('ok');
    await until('a->b to relay after heal', () => healed.data() === 'ok');
  });
});

// ---- the nemesis schedule ------------------------------------------------------------------

describe('planNemesis', () => {
  const opts = { families: NEMESIS_FAMILIES, nodeCount: 5, durationMs: 120_000 };

  it('is a pure function of the seed', () => {
    expect(planNemesis({ ...opts, seed: 42 })).toEqual(planNemesis({ ...opts, seed: 42 }));
    expect(JSON.stringify(planNemesis({ ...opts, seed: 42 }))).not.toBe(JSON.stringify(planNemesis({ ...opts, seed: 43 })));
  });

  it('fills the duration with the requested families only, within the configured bounds', () => {
    for (let seed = 0; seed < 50; seed++) {
      const plan = planNemesis({ seed, families: ['partition', 'pause'], nodeCount: 3, durationMs: 60_000 });
      const covered = plan.reduce((t, f) => t + f.gapBeforeMs + f.durationMs, 0);
      expect(covered).toBeGreaterThanOrEqual(60_000);
      for (const f of plan) {
        expect(['partition', 'pause']).toContain(f.spec.family);
        expect(f.gapBeforeMs).toBeGreaterThanOrEqual(2_000);
        expect(f.gapBeforeMs).toBeLessThanOrEqual(6_000);
        if (f.spec.family === 'partition') {
          expect(f.durationMs).toBeGreaterThanOrEqual(1_000);
          expect(f.durationMs).toBeLessThanOrEqual(8_000);
          expect([...f.spec.pick].sort()).toEqual([0, 1, 2]);
        }
      }
    }
  });

  it('draws every fault variant over enough seeds', () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < 200; seed++) {
      for (const f of planNemesis({ ...opts, seed })) seen.add(`${f.spec.family}:${'variant' in f.spec ? f.spec.variant : 'holder'}`);
    }
    for (const v of ['isolate-one', 'isolate-leader', 'majority-minority', 'bridge', 'majorities-ring', 'one-way']) expect(seen).toContain(`partition:${v}`);
    for (const v of ['one', 'leader', 'minority', 'all']) expect(seen).toContain(`kill:${v}`);
    for (const v of ['leader', 'other']) expect(seen).toContain(`pause:${v}`);
    for (const v of ['replace', 'replace-leader']) expect(seen).toContain(`member:${v}`);
    expect(seen).toContain('client-pause:holder');
  });

  it('parses --nemesis lists', () => {
    expect(parseNemesisFamilies('all')).toEqual([...NEMESIS_FAMILIES]);
    expect(parseNemesisFamilies('kill,partition,kill')).toEqual(['kill', 'partition']);
    expect(() => parseNemesisFamilies('partition,flood')).toThrow(/unknown nemesis "flood"/);
  });
});

// ---- workload pieces -------------------------------------------------------------------------

describe('workload pieces', () => {
  it('the fenced resource rejects stale tokens on reads and writes; the unfenced one accepts them', async () => {
    const clock = new RunClock();
    const fenced = new ToyResource(true, clock);
    expect(await fenced.read('k', 5)).toEqual({ ok: true, value: 0 });
    expect(await fenced.read('k', 6)).toEqual({ ok: true, value: 0 });
    expect(await fenced.write('k', 1, 5)).toBe(false); // 6 was seen: 5 is stale
    expect(await fenced.write('k', 1, 6)).toBe(true);
    expect(await fenced.read('k', 4)).toEqual({ ok: false, highest: 6 });
    expect(fenced.total()).toBe(1);
    const open = new ToyResource(false, clock);
    await open.read('k', 6);
    expect(await open.write('k', 7, 1)).toBe(true);
    expect(open.total()).toBe(7);
  });

  it('a client pause goes to a lock holder only, and lasts past its TTL', async () => {
    const pauses = new ClientPauses(new RunClock());
    const pending = pauses.request(20, 2_000);
    await pauses.gate(1, null); // holds nothing: not paused
    const t0 = performance.now();
    await pauses.gate(2, { key: 'k', token: 9, ttlMs: 30 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    const p = await pending;
    expect(p).not.toBeNull();
    expect(p!.process).toBe(2);
    expect(p!.token).toBe(9);
    expect(await pauses.request(1, 30)).toBeNull(); // nobody came
  });

  it('the free-read adapter accepts a free read with lastToken 0 after grants, and still rejects a wrong holder', () => {
    const op = (o: Partial<Operation> & Pick<Operation, 'id' | 'f'>): Operation => ({ process: 1, key: 'k', status: 'ok', invokeMs: o.id * 10, completeMs: o.id * 10 + 5, ...o }) as Operation;
    const history: Operation[] = [
      op({ id: 1, f: 'acquire', input: { owner: 'a', ttlMs: 10_000 }, output: { token: 7 } }),
      op({ id: 2, f: 'release', input: { owner: 'a', token: 7 }, output: {} }),
      op({ id: 3, f: 'read', input: {}, output: { holders: [], lastToken: 0 } }),
      op({ id: 4, f: 'acquire', input: { owner: 'b', ttlMs: 10_000 }, output: { token: 9 } }),
    ];
    expect(checkLockHistory(history, { marginMs: 0 }).result).toBe('illegal'); // the raw model reads lastToken 0 literally
    expect(checkLinearizability(history, harnessLockModel({ marginMs: 0 })).result).toBe('ok');
    const wrong = [...history, op({ id: 5, f: 'read', input: {}, output: { holders: [], lastToken: 0 } })];
    expect(checkLinearizability(wrong, harnessLockModel({ marginMs: 0 })).result).toBe('illegal'); // b holds it
    const filled = fillFreeFinalReads(history, [history[2] as ReadOp]);
    expect(filled[0]!.output).toEqual({ holders: [], lastToken: 7 });
  });

  it('the dead-lease rule lets a renew past the lease deadline be refused while reads still show the holder, and no earlier', () => {
    const op = (o: Partial<Operation> & Pick<Operation, 'id' | 'f'>): Operation => ({ process: 1, key: 'k', status: 'ok', ...o }) as Operation;
    const grant = op({ id: 1, f: 'acquire', input: { owner: 'a', ttlMs: 1_000 }, output: { token: 3 }, invokeMs: 0, completeMs: 5 });
    const read = (id: number, at: number): Operation => op({ id, f: 'read', input: {}, output: { holders: [{ owner: 'a', token: 3 }], lastToken: 3 }, invokeMs: at, completeMs: at + 5 });
    const refused = (at: number): Operation => op({ id: 2, f: 'renew', input: { owner: 'a', token: 3, ttlMs: 1_000 }, status: 'fail', output: { error: 'not_holder' }, invokeMs: at, completeMs: at + 50 });
    const late = [grant, refused(1_000), read(3, 1_200)];
    expect(checkLockHistory(late, { marginMs: 0 }).result).toBe('illegal');
    expect(checkLinearizability(late, harnessLockModel({ marginMs: 0 })).result).toBe('ok');
    const early = [grant, refused(200), read(3, 400)]; // the lease cannot be dead yet: still a violation
    expect(checkLinearizability(early, harnessLockModel({ marginMs: 0 })).result).toBe('illegal');
  });
});

// ---- the command line -------------------------------------------------------------------------

describe('verifyCommand', () => {
  it('rejects bad flags with exit 2 and prints usage for --help', async () => {
    const io = { outText: '', errText: '', out(s: string) { this.outText += s; }, err(s: string) { this.errText += s; } };
    expect(await verifyCommand(['--help'], {}, io)).toBe(0);
    expect(io.outText).toContain('usage: raftlock verify');
    expect(await verifyCommand(['--nodes', '4'], {}, io)).toBe(2);
    expect(await verifyCommand(['--nemesis', 'flood'], {}, io)).toBe(2);
    expect(await verifyCommand(['--workload', 'linearizable', '--keys', '5'], {}, io)).toBe(2);
    expect(await verifyCommand(['--security', 'tls'], {}, io)).toBe(2);
    expect(io.errText).toMatch(/--nodes must be 3 or 5[\s\S]*unknown nemesis "flood"[\s\S]*at least 20 lock names[\s\S]*--security must be one of secret, tls-auth, got "tls"/);
  });
});

// ---- a secured cluster --------------------------------------------------------------------------

describe('--security tls-auth', () => {
  it('runs members on peer TLS and HTTPS with tokens, and the harness\'s requests (relays through the proxies included) get through', async () => {
    const base = mkdtempSync(join(tmpdir(), 'raftlock-jepsen-sec-'));
    const nodes = await NodeProcesses.create({ mainPath: defaultMainPath(), nodeCount: 3, baseDir: base, security: 'tls-auth' });
    const network = await LinkNetwork.create(nodes.nodes.map((n) => ({ id: n.id, peerPort: n.peerPort, httpPort: n.httpPort })));
    cleanups.push(async () => {
      await nodes.stopAll();
      await network.stop();
      rmSync(base, { recursive: true, force: true });
    });
    nodes.attach(network);
    nodes.startAll();
    const endpoints = nodes.nodes.map((n) => n.httpUrl);
    expect(endpoints.every((u) => u.startsWith('https://127.0.0.1:'))).toBe(true);
    const { access } = nodes;
    const leader = await waitForAgreedLeader(endpoints, 30_000, access);
    expect(leader, `no leader; logs in ${base}`).not.toBeNull();
    for (const n of nodes.nodes) expect(readFileSync(n.logFile!, 'utf8')).toMatch(/"security":"tls"/);

    const follower = nodes.nodes.find((n) => n.id !== leader)!;
    const acquire = { owner: 'o', ttlMs: 30_000, requestId: `sec-${Date.now()}` };
    // Without a token: refused. Without the CA: the handshake fails, so nothing was sent.
    const anonymous = await httpCall(follower.httpUrl, 'POST', '/v1/locks/sec/acquire', acquire, 5_000, { ca: access.ca! });
    expect(anonymous.kind === 'response' && anonymous.status).toBe(401);
    const untrusted = await httpCall(follower.httpUrl, 'POST', '/v1/locks/sec/acquire', acquire, 5_000, { token: access.token! });
    expect(untrusted.kind).toBe('not_sent');
    // With both, a follower relays to the leader over HTTPS through the proxy, signing the caller's identity.
    const granted = await httpCall(follower.httpUrl, 'POST', '/v1/locks/sec/acquire', acquire, 10_000, access);
    expect(granted.kind === 'response' ? [granted.status, granted.body['owner']] : granted).toEqual([200, 'o']);
    const read = await httpCall(nodes.nodes.find((n) => n.id === leader)!.httpUrl, 'GET', '/v1/locks/sec', undefined, 10_000, access);
    expect(read.kind === 'response' ? read.body['holders'] : read).toEqual([expect.objectContaining({ owner: 'o' })]);
  }, 60_000);
});

// ---- real runs ---------------------------------------------------------------------------------

describe('verify runs against real processes', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('a 3-node cluster under partitions for 15 s passes every checker and leaves a complete run folder', async () => {
    expect(existsSync(defaultMainPath()), 'run npm run build first').toBe(true);
    const out = mkdtempSync(join(tmpdir(), 'raftlock-jepsen-test-'));
    const r = await runVerify({ nodes: 3, families: ['partition'], workload: 'linearizable', timeS: 15, seed: 1, outDir: out });
    if (!r.valid) throw new Error(`run failed (folder kept: ${out}):\n${r.summary.join('\n')}`);
    dirs.push(out);
    // A generous liveness bound: 15 s of partitions on a loaded 2-core machine did 499 once (about 3,000 when idle).
    expect(r.verdict.ops.ok).toBeGreaterThan(200);
    expect(r.verdict.linearizability.keys.length).toBeGreaterThanOrEqual(20);
    for (const f of ['history.jsonl', 'nemesis.jsonl', 'leader.jsonl', 'verdict.json', 'timeline.html', 'nodes/n1.log', 'nodes/n3.log']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(parseHistoryJsonl(readFileSync(join(out, 'history.jsonl'), 'utf8')).length).toBe(r.verdict.ops.total);
    const faults = readFileSync(join(out, 'nemesis.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { family: string; startMs: number; endMs: number });
    expect(faults.length).toBeGreaterThanOrEqual(1);
    for (const f of faults) {
      expect(f.family).toBe('partition');
      expect(f.endMs).toBeGreaterThan(f.startMs);
    }
    expect(readFileSync(join(out, 'timeline.html'), 'utf8')).toContain('<svg');
  }, 60_000);

  it('under membership faults with tls-auth, a member is removed, wiped, added back and promoted with the admin token, and every checker passes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'raftlock-jepsen-test-'));
    const r = await runVerify({ nodes: 3, families: ['member'], workload: 'linearizable', timeS: 15, seed: 3, outDir: out, security: 'tls-auth' });
    if (!r.valid) throw new Error(`run failed (folder kept: ${out}):\n${r.summary.join('\n')}`);
    const faults = readFileSync(join(out, 'nemesis.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { family: string; skipped: boolean; targets: string[]; detail: string });
    const replaced = faults.filter((f) => f.family === 'member' && !f.skipped);
    expect(replaced.length, JSON.stringify(faults)).toBeGreaterThanOrEqual(1);
    expect(replaced[0]!.detail).toMatch(/removed n\d .*wiped its data dir; added n\d as a learner.*started n\d empty \(existing\), caught up and promoted/);
    // The replaced member's next start joined the running cluster with an empty store.
    const log = readFileSync(join(out, 'nodes', `${replaced[0]!.targets[0]!}.log`), 'utf8');
    expect(log).toContain('start #2 of');
    expect(log).toContain('knows no configuration yet');
    expect(r.verdict.violations).toEqual([]);
    dirs.push(out);
  }, 120_000);

  it('the unfenced negative control loses updates under client pauses (the nemesis bites)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'raftlock-jepsen-test-'));
    const r = await runVerify({ nodes: 3, families: ['client-pause'], workload: 'control', timeS: 15, seed: 2, outDir: out });
    if (!r.valid) throw new Error(`control run failed (folder kept: ${out}):\n${r.summary.join('\n')}`);
    dirs.push(out);
    expect(r.verdict.control).not.toBeNull();
    expect(r.verdict.control!.lostUpdates).toBeGreaterThan(0);
  }, 60_000);
});
