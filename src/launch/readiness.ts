/**
 * Waiting for a started node: until its HTTP port accepts connections (it is
 * serving), or until GET /readyz answers 200 (it knows a leader and is a
 * member). Plain HTTP and TCP from node built-ins: the launcher does not load
 * the client library or the server. HTTPS when the node serves it.
 */
import { request, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Readiness is what to wait for: `listening` (the HTTP port accepts) or `ready` (/readyz is 200). */
export type Readiness = 'listening' | 'ready';

const POLL_MS = 50;
/** Bound on one probe, so a paused node cannot hold a poll past the caller's deadline by much. */
const PROBE_TIMEOUT_MS = 1_000;

/** ReadinessTls says the node serves HTTPS and which CA (PEM) signs its certificate. */
export interface ReadinessTls {
  readonly ca: string | Buffer;
}

/**
 * waitUntil polls `host:port` until it reaches `readiness`; resolves true, or
 * false once `timeoutMs` passed or `stillRunning()` says the process is gone.
 * With `tls`, /readyz is asked over HTTPS, verifying the node's certificate.
 */
export async function waitUntil(host: string, port: number, readiness: Readiness, timeoutMs: number, stillRunning: () => boolean, tls?: ReadinessTls): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!stillRunning()) return false;
    const ok = readiness === 'listening' ? await accepts(host, port) : await readyzOk(host, port, tls);
    if (ok) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port, timeout: PROBE_TIMEOUT_MS });
    const finish = (ok: boolean): void => {
      socket.destroy();
      done(ok);
    };
    socket.once('connect', () => finish(true));
    socket.once('timeout', () => finish(false));
    socket.once('error', () => finish(false));
  });
}

function readyzOk(host: string, port: number, tls: ReadinessTls | undefined): Promise<boolean> {
  return new Promise((done) => {
    const options = { host, port, path: '/readyz', method: 'GET', timeout: PROBE_TIMEOUT_MS, agent: false } as const;
    const onResponse = (res: IncomingMessage): void => {
      res.resume();
      done(res.statusCode === 200);
    };
    const req = tls === undefined ? request(options, onResponse) : httpsRequest({ ...options, ca: tls.ca }, onResponse);
    req.once('timeout', () => req.destroy());
    req.once('error', () => done(false));
    req.end();
  });
}
