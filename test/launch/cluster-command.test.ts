import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { certifiesMember } from '../../src/transport/tls-identity.js';
import { MAIN, freePort, httpJson, waitFor } from '../support/process-cluster.js';

/**
 * `raftlock cluster` (what `npm start` runs) secures its peers by itself: on
 * first start it makes a CA and member certificates in its data directory and
 * runs the members with peer TLS; a restart reuses them.
 */

let baseDir = '';
const pids: number[] = [];

afterEach(() => {
  // Members first (by the PIDs the cluster printed), then the cluster command itself.
  for (const pid of pids.splice(0).reverse()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (baseDir !== '') rmSync(baseDir, { recursive: true, force: true });
  baseDir = '';
});

/** runCluster starts `raftlock cluster --nodes 1` and resolves once its member answers with a leader; returns a stop function. */
async function runCluster(dataDir: string, httpPort: number, peerPort: number): Promise<{ output: () => string; stop: () => Promise<number | null> }> {
  const child: ChildProcess = spawn(process.execPath, [MAIN, 'cluster', '--nodes', '1', '--data-dir', dataDir, '--http-base-port', String(httpPort), '--peer-base-port', String(peerPort)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  pids.push(child.pid!);
  let output = '';
  const onData = (d: Buffer): void => {
    output += String(d);
    for (const m of output.matchAll(/pid (\d+)\)/g)) if (!pids.includes(Number(m[1]))) pids.push(Number(m[1]));
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor('a leader', async () => {
    const s = await httpJson(`http://127.0.0.1:${httpPort}/v1/status`, 'GET', undefined, 1_000);
    return s.body.leader === 'n1' ? true : undefined;
  }, 30_000);
  return {
    output: () => output,
    stop: async () => {
      child.kill('SIGINT');
      return exited;
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
});
