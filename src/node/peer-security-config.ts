/**
 * The peer-security flags of `raftlock serve`, checked before anything
 * starts: --peer-ca, --peer-cert and --peer-key (mutual TLS), --secret (a
 * shared secret, every frame authenticated), or --insecure (neither, asked for
 * explicitly). A node refuses to start with none of them, and with files that
 * could never work: unreadable, not PEM, a key that does not match its
 * certificate, a certificate that the CA did not sign, that has expired, or
 * that does not name this member of this cluster. Better a clear refusal now
 * than peers that cannot connect later.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { NodeId } from '../raft/index.js';
import { certifiesMember, describeCertificate, memberUri } from '../transport/tls-identity.js';
import type { PeerSecurity } from '../transport/index.js';

/** PeerSecurityFlags are the raw values (flag or environment) of the peer-security options. */
export interface PeerSecurityFlags {
  readonly peerCa: string | undefined;
  readonly peerCert: string | undefined;
  readonly peerKey: string | undefined;
  readonly secret: string | undefined;
  /** --insecure (or RAFTLOCK_INSECURE=1|true). */
  readonly insecure: string | undefined;
}

/** MIN_SECRET_CHARS bounds how guessable a shared secret may be: the handshake lets an eavesdropper test guesses offline. */
export const MIN_SECRET_CHARS = 16;

/** PeerSecurityResult is the checked setting, or the message of a usage error. */
export type PeerSecurityResult = { readonly ok: true; readonly security: PeerSecurity } | { readonly ok: false; readonly message: string };

const NOT_SECURED = `peer traffic is not secured: give --peer-ca, --peer-cert and --peer-key (mutual TLS; \`raftlock certs\` makes them), or --secret (at least ${MIN_SECRET_CHARS} characters, e.g. \`openssl rand -hex 32\`), or --insecure to let anyone who reaches the peer port act as a member`;

/**
 * buildPeerSecurity checks the peer-security flags of member `id` of cluster `clusterId`. A null `clusterId` (a
 * restart: the store names the cluster) leaves the certificate's cluster name to checkTlsMember once it is known.
 */
export function buildPeerSecurity(flags: PeerSecurityFlags, id: NodeId, clusterId: string | null): PeerSecurityResult {
  const fail = (message: string): PeerSecurityResult => ({ ok: false, message });
  const insecure = parseSwitch(flags.insecure);
  if (insecure === null) return fail(`--insecure (RAFTLOCK_INSECURE): expected 1, true, 0 or false, got "${flags.insecure}"`);
  const tlsGiven = [flags.peerCa, flags.peerCert, flags.peerKey].filter((v) => v !== undefined && v !== '').length;
  const secret = flags.secret === '' ? undefined : flags.secret;
  if (insecure && (tlsGiven > 0 || secret !== undefined)) return fail('--insecure turns peer security off: give it alone, without --peer-* or --secret');
  if (tlsGiven > 0 && secret !== undefined) return fail('give either peer TLS (--peer-ca, --peer-cert, --peer-key) or --secret, not both');
  if (insecure) return { ok: true, security: { mode: 'insecure' } };
  if (secret !== undefined) {
    if (secret.length < MIN_SECRET_CHARS) return fail(`--secret: use at least ${MIN_SECRET_CHARS} characters (e.g. \`openssl rand -hex 32\`)`);
    return { ok: true, security: { mode: 'secret', secret } };
  }
  if (tlsGiven === 0) return fail(NOT_SECURED);
  if (tlsGiven < 3) return fail('peer TLS needs all three of --peer-ca, --peer-cert and --peer-key');
  try {
    return { ok: true, security: checkTlsFiles(flags.peerCa!, flags.peerCert!, flags.peerKey!, id, clusterId) };
  } catch (err) {
    if (err instanceof TlsFileError) return fail(err.message);
    throw err;
  }
}

class TlsFileError extends Error {}

/** checkTlsFiles reads the three files and checks that they can work together for member `id`. */
function checkTlsFiles(caFile: string, certFile: string, keyFile: string, id: NodeId, clusterId: string | null): PeerSecurity {
  const ca = readPem('--peer-ca', caFile);
  const cert = readPem('--peer-cert', certFile);
  const key = readPem('--peer-key', keyFile);
  const caCert = parseCertificate('--peer-ca', caFile, ca);
  const ownCert = parseCertificate('--peer-cert', certFile, cert);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new TlsFileError(`--peer-key: ${keyFile} is not a PEM private key (${(err as Error).message})`);
  }
  if (!caCert.ca) throw new TlsFileError(`--peer-ca: ${caFile} is not a CA certificate (basicConstraints CA:TRUE)`);
  if (!ownCert.checkPrivateKey(privateKey)) throw new TlsFileError(`--peer-key: ${keyFile} is not the key of --peer-cert ${certFile}`);
  if (ownCert.checkIssued(caCert) === false || !ownCert.verify(caCert.publicKey)) {
    throw new TlsFileError(`--peer-cert: ${certFile} is not signed by the CA in --peer-ca ${caFile}`);
  }
  const nowMs = Date.now();
  for (const [flag, file, c] of [['--peer-ca', caFile, caCert], ['--peer-cert', certFile, ownCert]] as const) {
    if (Date.parse(c.validTo) < nowMs) throw new TlsFileError(`${flag}: ${file} expired on ${c.validTo}`);
    if (Date.parse(c.validFrom) > nowMs) throw new TlsFileError(`${flag}: ${file} is not valid before ${c.validFrom}`);
  }
  const security: PeerSecurity = { mode: 'tls', ca, cert, key };
  const misnamed = clusterId === null ? null : checkTlsMember(security, id, clusterId);
  if (misnamed !== null) throw new TlsFileError(misnamed);
  return security;
}

/** checkTlsMember says why a TLS setting's own certificate does not name member `id` of `clusterId`, or null when it does. */
export function checkTlsMember(security: PeerSecurity, id: NodeId, clusterId: string): string | null {
  if (security.mode !== 'tls') return null;
  const ownCert = new X509Certificate(security.cert);
  if (certifiesMember(ownCert, clusterId, id)) return null;
  return (
    `--peer-cert does not name member ${id} of cluster ${clusterId} (${describeCertificate(ownCert)}); ` +
    `it needs the subjectAltName URI ${memberUri(clusterId, id)}, or CN=${id} and OU=${clusterId}`
  );
}

function readPem(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new TlsFileError(`${flag}: cannot read ${file}: ${(err as Error).message}`);
  }
}

function parseCertificate(flag: string, file: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new TlsFileError(`${flag}: ${file} is not a PEM certificate (${(err as Error).message})`);
  }
}

/** parseSwitch reads a boolean flag's value: undefined or empty is off; null for nonsense. */
function parseSwitch(value: string | undefined): boolean | null {
  if (value === undefined || value === '') return false;
  const v = value.toLowerCase();
  if (v === '1' || v === 'true' || v === 'yes') return true;
  if (v === '0' || v === 'false' || v === 'no') return false;
  return null;
}
