import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftLockClient } from '../../src/client/index.js';
import { ProcessCluster, httpJson, waitFor, waitForLeader, type NodeProcess } from '../support/process-cluster.js';

/**
 * A bounded connection flood on loopback against one node, while another
 * client keeps working. The flood comes from other loopback addresses
 * (127.0.0.2 and up) than the client's (127.0.0.1): a few hundred
 * connections that send nothing, or send their headers a line at a time,
 * kept up for a few seconds and never more than FLOOD_ATTEMPTS_MAX opened
 * in all. The node's caps are small so the flood crosses them: per address,
 * per node (closing never-served connections to make room), and the headers
 * timeout. The node runs with 256 open files (prlimit), so without the caps
 * the flood would exhaust its descriptors. Every socket is destroyed at the
 * end, and the node is stopped by PID (its process group) also on failure.
 */

const OPEN_FILES = 256;
const MAX_CONNECTIONS = 120;
const MAX_PER_ADDRESS = 40;
const HEADERS_TIMEOUT_MS = 1_500;
const FLOOD_MS = 4_000;
/** Connections the flood keeps open at once, and the bound on all it opens. */
const FLOOD_TARGET = 300;
const FLOOD_ATTEMPTS_MAX = 4_000;
/** Pause before the flood reopens a connection the node closed. */
const REOPEN_MS = 500;
/** The generous bound on one acquire-read-release cycle of the client under flood (unloaded: a few ms). */
const CYCLE_MS_MAX = 2_000;

let cluster: ProcessCluster;
let node: NodeProcess;

beforeAll(async () => {
  cluster = await ProcessCluster.create({
    nodes: 1,
    // The setting: a node with 256 file descriptors, which 400 unguarded connections used to stall.
    wrap: () => ({ command: 'prlimit', args: [`--nofile=${OPEN_FILES}:${OPEN_FILES}`, '--'] }),
    extraArgs: [
      '--http-max-connections', String(MAX_CONNECTIONS),
      '--http-max-connections-per-address', String(MAX_PER_ADDRESS),
      '--http-headers-timeout-ms', String(HEADERS_TIMEOUT_MS),
      '--http-request-timeout-ms', '3000',
      '--http-idle-timeout-ms', '2000',
    ],
  });
  cluster.startAll();
  node = cluster.node(await waitForLeader(cluster));
});

afterAll(async () => {
  await cluster?.stop();
});

/** Flood keeps up to FLOOD_TARGET idle or slow-header connections open from `addresses`, reopening closed ones. */
class Flood {
  readonly sockets = new Set<Socket>();
  attempts = 0;
  /** Connections the node closed within a moment of accepting them (refused by a cap). */
  closedAtOnce = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly port: number, private readonly addresses: readonly string[]) {}

  start(): void {
    for (let i = 0; i < FLOOD_TARGET; i++) this.open(i);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  private open(i: number): void {
    if (this.stopped || this.attempts >= FLOOD_ATTEMPTS_MAX) return;
    this.attempts++;
    const socket = connect({ host: '127.0.0.1', port: this.port, localAddress: this.addresses[i % this.addresses.length]! });
    const openedAt = Date.now();
    this.sockets.add(socket);
    socket.on('error', () => {});
    // Every other connection sends its request head one line every 250 ms, never finishing it (slowloris).
    if (i % 2 === 1) {
      socket.once('connect', () => {
        socket.write('GET /v1/status HTTP/1.1\r\nHost: flood\r\n');
        const timer = setInterval(() => socket.write(`X-Slow-${i}: ${Date.now()}\r\n`), 250);
        this.timers.add(timer);
        socket.once('close', () => {
          clearInterval(timer);
          this.timers.delete(timer);
        });
      });
    }
    socket.once('close', () => {
      this.sockets.delete(socket);
      if (Date.now() - openedAt < 300) this.closedAtOnce++;
      // Keep the pressure up: the flood reopens what the node closed, within its bound.
      setTimeout(() => this.open(i), REOPEN_MS);
    });
  }
}

function metricValue(text: string, limit: string): number {
  const m = new RegExp(`^raftlock_http_limit_hits_total\\{limit="${limit}"\\} (\\d+)`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

describe('connection flood', () => {
  it('a few hundred idle and slow-header connections do not stop another client being served', async () => {
    const flood = new Flood(node.httpPort, Array.from({ length: 5 }, (_, i) => `127.0.0.${i + 2}`));
    const client = new RaftLockClient({ endpoints: [node.httpUrl], preferLeader: false, requestTimeoutMs: 5_000 });
    const cycles: number[] = [];
    try {
      flood.start();
      // Let the flood reach the caps before the client starts measuring.
      await new Promise((r) => setTimeout(r, 300));
      const until = Date.now() + FLOOD_MS;
      while (Date.now() < until) {
        const started = Date.now();
        const lock = await client.acquire('flood/x', { ttlMs: 5_000 });
        expect((await client.get('flood/x')).holders).toHaveLength(1);
        await lock.release();
        cycles.push(Date.now() - started);
      }
      expect(flood.sockets.size).toBeGreaterThan(0);
    } finally {
      flood.stop();
      client.close();
    }
    console.log(`flood: ${flood.attempts} connections opened, ${flood.closedAtOnce} closed at once; client: ${cycles.length} cycles, slowest ${Math.max(...cycles)} ms`);
    expect(cycles.length).toBeGreaterThanOrEqual(10);
    expect(Math.max(...cycles)).toBeLessThan(CYCLE_MS_MAX);
    expect(flood.closedAtOnce).toBeGreaterThan(0);

    const metrics = (await httpJson(`${node.httpUrl}/metrics`)).body as string;
    expect(metricValue(metrics, 'connections_per_address')).toBeGreaterThan(0);
    expect(metricValue(metrics, 'connections_per_node_idle_closed')).toBeGreaterThan(0);
    await waitFor('the limits in the log', async () => (/http limit: connections_per_address/.test(readFileSync(node.logFile, 'utf8')) ? true : undefined), 5_000);
    // The flood's sockets are gone; the node's count follows.
    await waitFor('the connections to close', async () => {
      const m = /^raftlock_http_connections (\d+)/m.exec((await httpJson(`${node.httpUrl}/metrics`)).body as string);
      return m !== null && Number(m[1]) <= 5 ? true : undefined;
    }, 5_000);
  });

  it('connections that send nothing, or their headers too slowly, are answered 408 and closed at the headers timeout', async () => {
    const startedAt = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        new Promise<{ closedAfterMs: number; answer: string }>((resolve) => {
          const socket = connect({ host: '127.0.0.1', port: node.httpPort, localAddress: '127.0.0.20' });
          let answer = '';
          let timer: NodeJS.Timeout | undefined;
          socket.on('error', () => {});
          socket.on('data', (d: Buffer) => (answer += d.toString()));
          if (i % 2 === 1) {
            socket.once('connect', () => {
              socket.write('GET /v1/status HTTP/1.1\r\nHost: slow\r\n');
              timer = setInterval(() => socket.write('X-Slow: 1\r\n'), 200);
            });
          }
          socket.once('close', () => {
            clearInterval(timer);
            resolve({ closedAfterMs: Date.now() - startedAt, answer });
          });
          // Bounded even if the node never closed it: the assertions below then fail.
          setTimeout(() => socket.destroy(), HEADERS_TIMEOUT_MS + 5_000);
        }),
      ),
    );
    for (const o of outcomes) {
      expect(o.closedAfterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
      expect(o.closedAfterMs).toBeLessThan(HEADERS_TIMEOUT_MS + 2_000);
      expect(o.answer).toMatch(/^HTTP\/1\.1 408 [^]*"error":"request_timeout"/);
    }
    const metrics = (await httpJson(`${node.httpUrl}/metrics`)).body as string;
    expect(metricValue(metrics, 'headers_timeout')).toBeGreaterThanOrEqual(6);
  });

  it('an idle keep-alive connection is closed after the idle timeout', async () => {
    const socket = connect({ host: '127.0.0.1', port: node.httpPort, localAddress: '127.0.0.21' });
    socket.on('error', () => {});
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    await new Promise((r) => socket.once('connect', r));
    socket.write('GET /healthz HTTP/1.1\r\nHost: idle\r\n\r\n');
    const answeredAt = await new Promise<number>((resolve) => socket.once('data', () => resolve(Date.now())));
    const timer = setTimeout(() => socket.destroy(), 8_000);
    const idleMs = (await closed) - answeredAt;
    clearTimeout(timer);
    expect(idleMs).toBeGreaterThanOrEqual(1_900);
    expect(idleMs).toBeLessThan(4_000);
    expect(metricValue((await httpJson(`${node.httpUrl}/metrics`)).body as string, 'idle_timeout')).toBeGreaterThan(0);
  });
});
