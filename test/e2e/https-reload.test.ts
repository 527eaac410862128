import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster, httpJson, waitFor, waitForLeader, type NodeProcess } from '../support/process-cluster.js';
import { makeServerCert, makeTestCa, type ServerCert, type TestCa } from '../support/test-certs.js';

/**
 * SIGHUP on a member serving HTTPS re-reads its certificate and key: new
 * connections get the new certificate, no restart; a pair that cannot be
 * served (not PEM, a key of another certificate) is refused with a warning
 * and the member keeps serving the previous one.
 */

const dir = mkdtempSync(join(tmpdir(), 'raftlock-https-reload-'));
const ca: TestCa = makeTestCa(dir, 'ca');
/** The files the member was started with, which the test overwrites. */
const served: ServerCert = makeServerCert(dir, 'served', ca);
let cluster: ProcessCluster | null = null;
let node: NodeProcess;

beforeAll(async () => {
  const c = await ProcessCluster.create({ nodes: 1, extraArgs: ['--http-cert', served.certFile, '--http-key', served.keyFile], httpsCa: ca.pem });
  cluster = c;
  c.startAll();
  await waitForLeader(c);
  node = c.nodes[0]!;
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** servedSerial is the serial number of the certificate a new TLS connection to the node gets (verified against the CA). */
function servedSerial(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: node.host, port: node.httpPort, ca: ca.pem }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      if (cert === undefined) reject(new Error('no certificate'));
      else resolve(cert.serialNumber);
    });
    socket.once('error', reject);
  });
}

function serialOf(cert: ServerCert): string {
  return new X509Certificate(readFileSync(cert.certFile)).serialNumber;
}

/** hangUp sends SIGHUP to the node's PID and waits for its log to hold `count` lines with `message`. */
async function hangUp(message: string, count: number): Promise<void> {
  process.kill(cluster!.pid(node.id)!, 'SIGHUP');
  await waitFor(`"${message}" x${count} in the log`, async () => (readFileSync(node.logFile, 'utf8').split(message).length - 1 >= count ? true : undefined), 10_000);
}

describe('SIGHUP reloads the HTTPS certificate', () => {
  it('refuses unusable files and keeps serving, then serves a renewed certificate to new connections', async () => {
    const original = serialOf(served);
    expect(await servedSerial()).toBe(original);
    const renewed = makeServerCert(dir, 'renewed', ca);
    expect(serialOf(renewed)).not.toBe(original);

    writeFileSync(served.certFile, 'not a certificate\n');
    await hangUp('refused to reload the HTTPS certificate', 1);
    copyFileSync(renewed.certFile, served.certFile); // the renewed certificate, with the old key
    await hangUp('refused to reload the HTTPS certificate', 2);
    expect(await servedSerial()).toBe(original);
    expect(cluster!.pid(node.id)).toBeDefined();

    copyFileSync(renewed.keyFile, served.keyFile);
    await hangUp('reloaded the HTTPS certificate', 1);
    expect(await servedSerial()).toBe(serialOf(renewed));
    const status = await httpJson(`${node.httpUrl}/v1/status`, 'GET', undefined, 5_000, cluster!.access);
    expect(status.status).toBe(200);
    expect(readFileSync(node.logFile, 'utf8')).toMatch(/key values mismatch|does not match|private key/i);
  });
});
