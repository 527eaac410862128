import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freeLoopbackPorts } from '../../src/launch/loopback-port.js';
import { certifiesMember } from '../../src/transport/tls-identity.js';
import { MAIN, freePort, httpJson, waitFor } from '../support/process-cluster.js';

/**
 * `raftlock cluster` (what `npm start` runs) secures its peers by itself: on
 * first start it makes a CA and member certificates in its data directory and
 * runs the members with peer TLS; a restart reuses them.
 */

let baseDir = '';
const pids: number[] = [];

let busy: Server | null = null;

afterEach(async () => {
  // Members first (by the PIDs the cluster printed), then the cluster command itself (and npm, when it ran it).
  for (const pid of pids.splice(0).reverse()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (baseDir !== '') rmSync(baseDir, { recursive: true, force: true });
  baseDir = '';
  await new Promise<void>((done) => (busy === null ? done() : busy.close(() => done())));
  busy = null;
});

/** alive says whether a process with this PID exists (signal 0 checks without sending). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The repo root, where package.json (and so `npm start`) is. */
const REPO_ROOT = resolve(dirname(MAIN), '../../..');

/**
 * launch spawns `command args` (the cluster command, or npm running it), tracks its PID and every PID the cluster
 * prints (its own and its members'), and gathers its output.
 */
function launch(command: string, args: string[]): { child: ChildProcess; output: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  pids.push(child.pid!);
  let output = '';
  const onData = (d: Buffer): void => {
    output += String(d);
    for (const m of output.matchAll(/pid (\d+)\)/g)) if (!pids.includes(Number(m[1]))) pids.push(Number(m[1]));
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => output, exited };
}

/** printedPids are the cluster process's own PID and its members', as it printed them. */
function printedPids(output: string): { cluster: number; members: number[] } {
  const cluster = Number(/this process: pid (\d+)\)/.exec(output)?.[1]);
  const members = [...output.matchAll(/\(peer [^,]+, pid (\d+)\)/g)].map((m) => Number(m[1]));
  return { cluster, members };
}

/** runCluster starts `raftlock cluster --nodes 1` and resolves once its member answers with a leader; returns a stop function. */
async function runCluster(dataDir: string, httpPort: number, peerPort: number): Promise<{ output: () => string; stop: () => Promise<number | null> }> {
  const run = launch(process.execPath, [MAIN, 'cluster', '--nodes', '1', '--data-dir', dataDir, '--http-base-port', String(httpPort), '--peer-base-port', String(peerPort)]);
  await waitFor('a leader', async () => {
    const s = await httpJson(`http://127.0.0.1:${httpPort}/v1/status`, 'GET', undefined, 1_000);
    return s.body.leader === 'n1' ? true : undefined;
  }, 30_000);
  return {
    output: run.output,
    stop: async () => {
      run.child.kill('SIGINT');
      return (await run.exited).code;
    },
  };
}

describe('raftlock cluster', () => {
  it('makes a CA and member certificates on first start, runs the members with peer TLS, and reuses them on restart', async () => {
    baseDir = mkdtempSync(join(tmpdir(), 'raftlock-cluster-'));
    const [httpPort, peerPort] = [await freePort(), await freePort()];
    const first = await runCluster(baseDir, httpPort, peerPort);
    expect(first.output()).toMatch(/peer TLS with certificates in .*certs \(made now for n1\)/);
    expect(first.output()).toMatch(/"security":"tls"/);
    expect(await first.stop()).toBe(0);
    const certDir = join(baseDir, 'certs');
    const caPem = readFileSync(join(certDir, 'ca.crt'), 'utf8');
    const memberPem = readFileSync(join(certDir, 'n1.crt'), 'utf8');
    // The certificates name the cluster the first start bootstrapped (a random id).
    const clusterId = /bootstrapping a new cluster (\S+)/.exec(first.output())?.[1];
    expect(clusterId).toBeDefined();
    expect(certifiesMember(new X509Certificate(memberPem), clusterId!, 'n1')).toBe(true);
    expect(certifiesMember(new X509Certificate(memberPem), 'another-cluster', 'n1')).toBe(false);
    expect(new X509Certificate(memberPem).verify(new X509Certificate(caPem).publicKey)).toBe(true);
    expect(statSync(join(certDir, 'ca.key')).mode & 0o077).toBe(0);
    expect(statSync(join(certDir, 'n1.key')).mode & 0o077).toBe(0);

    const second = await runCluster(baseDir, httpPort, peerPort);
    expect(second.output()).not.toMatch(/made now/);
    expect(await second.stop()).toBe(0);
    expect(readFileSync(join(certDir, 'ca.crt'), 'utf8')).toBe(caPem);
    expect(readFileSync(join(certDir, 'n1.crt'), 'utf8')).toBe(memberPem);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`npm start: ${signal} to the npm process stops the cluster and all three members`, async () => {
      baseDir = mkdtempSync(join(tmpdir(), 'raftlock-npm-start-'));
      const [http, peer] = [await freeLoopbackPorts(3), await freeLoopbackPorts(3)];
      // --ignore-scripts skips prestart (the build): the process tests run the build that is there.
      const npm = launch('npm', ['start', '--ignore-scripts', '--', '--data-dir', baseDir, '--http-base-port', String(http[0]), '--peer-base-port', String(peer[0])]);
      await waitFor('a leader on every member', async () => {
        const all = await Promise.all(http.map((p) => httpJson(`http://127.0.0.1:${p}/v1/status`, 'GET', undefined, 1_000).catch(() => null)));
        return all.every((s) => typeof s?.body.leader === 'string') ? true : undefined;
      }, 60_000);
      const { cluster, members } = printedPids(npm.output());
      expect(members).toHaveLength(3);
      expect(alive(cluster)).toBe(true);
      npm.child.kill(signal);
      await npm.exited;
      await waitFor('the cluster and its members to exit', async () => ([cluster, ...members].some(alive) ? undefined : true), 30_000);
      expect(npm.output()).toMatch(/stopping all nodes/);
    });
  }

  it('a cluster whose members cannot start (a port in use) stops the rest and exits 1, saying why', async () => {
    baseDir = mkdtempSync(join(tmpdir(), 'raftlock-busy-'));
    const [http, peer] = [await freeLoopbackPorts(3), await freeLoopbackPorts(3)];
    // It holds the port and drops every connection (the launcher's readiness probes among them).
    busy = createServer((socket) => socket.destroy());
    await new Promise<void>((done) => busy!.listen(http[1], '127.0.0.1', done));
    const run = launch(process.execPath, [MAIN, 'cluster', '--data-dir', baseDir, '--http-base-port', String(http[0]), '--peer-base-port', String(peer[0])]);
    const end = await run.exited;
    expect(end.code).toBe(1);
    expect(run.output()).toMatch(/EADDRINUSE/);
    expect(run.output()).toMatch(new RegExp(`failed to start: n2 \\(http 127\\.0\\.0\\.1:${http[1]}, .*exited \\(code 1\\)`));
    expect(run.output()).toMatch(/is a port in use/);
    const { members } = printedPids(run.output());
    expect(members).toHaveLength(3);
    await waitFor('every member to exit', async () => (members.some(alive) ? undefined : true), 30_000);
  });
});
