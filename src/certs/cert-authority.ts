/**
 * A cluster's certificate authority: a CA certificate and key, and the member
 * certificates it signs, made with @peculiar/x509 over node's WebCrypto.
 * ECDSA P-256 with SHA-256: small certificates and fast TLS handshakes.
 *
 * A member certificate names its member both ways tls-identity.ts accepts: the
 * subjectAltName URI raftlock://<cluster>/<id>, and CN=<id>, OU=<cluster>. It
 * is good for both TLS roles (serverAuth and clientAuth), because every member
 * both listens for its peers and dials them.
 */
// @peculiar/x509 needs the Reflect metadata API (its dependency injection); it must be loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { memberUri } from '../transport/tls-identity.js';

x509.cryptoProvider.set(webcrypto);

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Certificates start a little in the past, so a member whose clock is slightly behind accepts them. */
const BACKDATE_MS = 60 * 60 * 1000;

/** CLUSTER_ID_PATTERN and MEMBER_ID_PATTERN are the ids `raftlock serve` accepts. */
export const CLUSTER_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const MEMBER_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** PemPair is a certificate and its private key (PKCS#8), both PEM. */
export interface PemPair {
  readonly certPem: string;
  readonly keyPem: string;
}

/** CertError is an expected failure (bad input, a CA this code cannot sign with); the CLI prints it and exits 2. */
export class CertError extends Error {
  override readonly name = 'CertError';
}

/** createClusterCa makes a self-signed CA for cluster `clusterId`, valid for `days` days. */
export async function createClusterCa(clusterId: string, days: number): Promise<PemPair> {
  checkId('cluster id', clusterId, CLUSTER_ID_PATTERN);
  checkDays(days);
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=raftlock CA ${clusterId}, OU=${clusterId}, O=raftlock`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + days * DAY_MS),
    signingAlgorithm: EC_P256,
    keys,
    extensions: [
      // pathLen 0: this CA signs members, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/** MemberCertOptions describe one member certificate. */
export interface MemberCertOptions {
  readonly id: string;
  /** Default: the CA's cluster (its OU). */
  readonly clusterId?: string;
  readonly days: number;
  /** Extra DNS names or IP addresses to list (for operators' tools; members are checked by id, not by host). */
  readonly hosts?: readonly string[];
}

/** issueMemberCertificate signs a certificate for member `id` with the CA `ca` (made by createClusterCa, or any ECDSA P-256 CA). */
export async function issueMemberCertificate(ca: PemPair, o: MemberCertOptions): Promise<PemPair> {
  checkId('member id', o.id, MEMBER_ID_PATTERN);
  checkDays(o.days);
  const caCert = parseCaCertificate(ca.certPem);
  const clusterId = o.clusterId ?? caClusterId(caCert);
  checkId('cluster id', clusterId, CLUSTER_ID_PATTERN);
  const signingKey = await importCaKey(ca.keyPem);
  const issuer = new x509.X509Certificate(ca.certPem);
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  const notAfter = new Date(Math.min(notBefore.getTime() + o.days * DAY_MS, Date.parse(caCert.validTo)));
  const names: { type: 'url' | 'dns' | 'ip'; value: string }[] = [{ type: 'url', value: memberUri(clusterId, o.id) }, { type: 'dns', value: o.id }];
  for (const host of o.hosts ?? []) names.push({ type: isIpAddress(host) ? 'ip' : 'dns', value: host });
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${o.id}, OU=${clusterId}, O=raftlock`,
    issuer: issuer.subject,
    notBefore,
    notAfter,
    signingAlgorithm: EC_P256,
    publicKey: keys.publicKey,
    signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/** caClusterId is the cluster a CA certificate is for: its OU. */
export function caClusterId(caCert: X509Certificate): string {
  const ous = caCert.subject.split('\n').filter((l) => l.startsWith('OU=')).map((l) => l.slice(3));
  if (ous.length !== 1) throw new CertError(`the CA certificate names no single cluster (OU) in "${caCert.subject.replace(/\n/g, ', ')}"; give --cluster-id`);
  return ous[0]!;
}

/** parseCaCertificate parses a CA certificate and checks that it is one. */
export function parseCaCertificate(pem: string): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (err) {
    throw new CertError(`not a PEM certificate: ${(err as Error).message}`);
  }
  if (!cert.ca) throw new CertError('the certificate is not a CA certificate (basicConstraints CA:TRUE)');
  return cert;
}

async function importCaKey(keyPem: string): Promise<webcrypto.CryptoKey> {
  let der: Buffer;
  try {
    const key = createPrivateKey(keyPem);
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new CertError(`the CA key is ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}; raftlock certs signs with ECDSA P-256 only (use openssl for other CAs)`);
    }
    der = key.export({ type: 'pkcs8', format: 'der' });
  } catch (err) {
    if (err instanceof CertError) throw err;
    throw new CertError(`not a PEM private key: ${(err as Error).message}`);
  }
  return webcrypto.subtle.importKey('pkcs8', der, EC_P256, false, ['sign']);
}

async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** serialNumber is 16 random bytes as hex, positive (RFC 5280 §4.1.2.2). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

function checkId(what: string, value: string, pattern: RegExp): void {
  if (!pattern.test(value)) throw new CertError(`bad ${what} "${value}" (${pattern.source})`);
}

function checkDays(days: number): void {
  if (!(Number.isSafeInteger(days) && days >= 1 && days <= 36_500)) throw new CertError(`validity must be 1..36500 days, got ${days}`);
}

function isIpAddress(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(':');
}
