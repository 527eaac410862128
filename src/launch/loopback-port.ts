import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { LaunchMember } from './node-launcher.js';

/**
 * Ports for processes that are told their port before they bind it (raftlock
 * nodes, restarted after a kill on the same ports). Taking them from `listen(0)`
 * would pick the kernel's ephemeral range, where the run's own outbound
 * connections take source ports too: one can grab the port between the choice
 * and the bind (EADDRINUSE), or a stale client lands on the wrong listener.
 * So choose below the ephemeral range, check the port binds, and never hand
 * the same port out twice in this process.
 */
const handedOut = new Set<number>();

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const RANGE_LOW = 10_000;
const RANGE_HIGH = ephemeralLow();

function canBind(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.unref();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** freeLoopbackPort returns a 127.0.0.1 port below the ephemeral range that binds now and was not handed out before. */
export async function freeLoopbackPort(): Promise<number> {
  return (await freeLoopbackPorts(1))[0]!;
}

/**
 * freeLoopbackPorts is a run of `count` consecutive free loopback ports (for
 * `raftlock cluster --http-base-port`, which numbers its members' ports up
 * from one base), in the same range and never handed out twice.
 */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  if (!Number.isInteger(count) || count < 1 || count > 16) throw new RangeError(`freeLoopbackPorts: count ${count} is not 1..16`);
  for (let attempt = 0; attempt < 500; attempt++) {
    const base = RANGE_LOW + Math.floor(Math.random() * (RANGE_HIGH - RANGE_LOW - count));
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if (ports.some((p) => handedOut.has(p))) continue;
    if ((await Promise.all(ports.map(canBind))).every((ok) => ok)) {
      for (const p of ports) handedOut.add(p);
      return ports;
    }
  }
  throw new Error(`no ${count} free consecutive loopback ports found in ${RANGE_LOW}..${RANGE_HIGH}`);
}

/** MemberFiles are where one member keeps its data and its log. */
export interface MemberFiles {
  readonly dataDir: string;
  readonly logFile?: string;
}

/**
 * loopbackMembers names `count` members n1..nN on 127.0.0.1, each with a free
 * HTTP port and a free peer port (taken in that order), and the files
 * `filesOf` gives it.
 */
export async function loopbackMembers(count: number, filesOf: (id: string) => MemberFiles): Promise<LaunchMember[]> {
  const members: LaunchMember[] = [];
  for (let i = 0; i < count; i++) {
    const id = `n${i + 1}`;
    const httpPort = await freeLoopbackPort();
    const peerPort = await freeLoopbackPort();
    members.push({ id, host: '127.0.0.1', httpPort, peerPort, ...filesOf(id) });
  }
  return members;
}
