/**
 * Replacing a running node's HTTPS certificate without a restart: `raftlock
 * serve` re-reads --http-cert and --http-key on SIGHUP (serve-command.ts) and
 * hands them to the server with setSecureContext. New TLS handshakes get the
 * new certificate; connections already open keep the one they shook hands
 * with. A pair that cannot work (unreadable, not PEM, the key does not match
 * the certificate, expired or not yet valid) is refused and the node keeps
 * serving the one it has, so a half-copied renewal cannot take the API down.
 * Peer TLS certificates (--peer-cert) and the relays' --http-ca are read at
 * start only.
 */
import { X509Certificate } from 'node:crypto';
import type { Server as HttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { FastifyBaseLogger } from 'fastify';
import { readHttpsPair } from './http-security.js';

/** HttpsFiles are the paths of the node's HTTPS certificate and key. */
export interface HttpsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** HttpsReload is what a reload did: the new certificate's serial and end of validity, or why nothing changed. */
export type HttpsReload = { readonly ok: true; readonly serial: string; readonly validTo: string } | { readonly ok: false; readonly reason: string };

/** checkPair says why a certificate and key cannot be served, or null when they can. */
function checkPair(pair: { cert: Buffer; key: Buffer }, nowMs: number): string | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pair.cert);
    // Throws when the key is not a key, or is not the certificate's.
    createSecureContext({ cert: pair.cert, key: pair.key });
  } catch (err) {
    return (err as Error).message;
  }
  if (Date.parse(cert.validFrom) > nowMs) return `the certificate is not valid before ${cert.validFrom}`;
  if (Date.parse(cert.validTo) < nowMs) return `the certificate expired on ${cert.validTo}`;
  return null;
}

/**
 * reloadHttpsCertificate re-reads `files` and, if they can be served, makes
 * `server` present them to new connections. Never throws: a refusal is
 * returned and logged, and the old certificate stays.
 */
export async function reloadHttpsCertificate(server: HttpsServer, files: HttpsFiles, logger: FastifyBaseLogger): Promise<HttpsReload> {
  let result: HttpsReload;
  try {
    const pair = await readHttpsPair(files);
    const problem = checkPair(pair, Date.now());
    if (problem === null) {
      server.setSecureContext({ cert: pair.cert, key: pair.key });
      const cert = new X509Certificate(pair.cert);
      result = { ok: true, serial: cert.serialNumber, validTo: cert.validTo };
    } else {
      result = { ok: false, reason: problem };
    }
  } catch (err) {
    result = { ok: false, reason: (err as Error).message };
  }
  if (result.ok) logger.info({ certFile: files.certFile, serial: result.serial, validTo: result.validTo }, 'reloaded the HTTPS certificate');
  else logger.warn({ certFile: files.certFile, keyFile: files.keyFile, reason: result.reason }, 'refused to reload the HTTPS certificate; still serving the previous one');
  return result;
}
