/**
 * Certificates on disk (layout in cert-layout.ts): writing a CA and member
 * certificates without clobbering what exists, reading a CA back, and making
 * whatever a local cluster is missing. Private keys are written 0600 in a
 * 0700 directory.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { CertError, createClusterCa, issueMemberCertificate, parseCaCertificate, caClusterId, type MemberCertOptions, type PemPair } from './cert-authority.js';
import { caFiles, memberFiles, type PemFiles } from './cert-layout.js';

/** CA_DAYS and MEMBER_DAYS are the default validity of what raftlock makes. */
export const CA_DAYS = 3650;
export const MEMBER_DAYS = 825;

/** writePair writes a certificate (0644) and its key (0600); refuses to replace either unless `force`. */
export function writePair(files: PemFiles, pair: PemPair, force: boolean): void {
  for (const path of [files.cert, files.key]) {
    if (!force && existsSync(path)) throw new CertError(`${path} exists; remove it or pass --force to replace it`);
  }
  writeFileSync(files.key, pair.keyPem, { mode: 0o600 });
  writeFileSync(files.cert, pair.certPem, { mode: 0o644 });
}

/** readCa reads the CA in `dir` (ca.crt and ca.key). */
export function readCa(dir: string): PemPair {
  const files = caFiles(dir);
  const read = (path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new CertError(`cannot read ${path}: ${(err as Error).message}`);
    }
  };
  return { certPem: read(files.cert), keyPem: read(files.key) };
}

/** makeCa creates a CA for `clusterId` in `dir`. */
export async function makeCa(dir: string, clusterId: string, days: number, force: boolean): Promise<PemFiles> {
  const pair = await createClusterCa(clusterId, days);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = caFiles(dir);
  writePair(files, pair, force);
  return files;
}

/** makeMember signs a certificate for a member with the CA in `caDir` and writes it to `outDir`. */
export async function makeMember(caDir: string, outDir: string, o: MemberCertOptions, force: boolean): Promise<PemFiles> {
  const pair = await issueMemberCertificate(readCa(caDir), o);
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const files = memberFiles(outDir, o.id);
  writePair(files, pair, force);
  return files;
}

/**
 * ensureClusterCertificates makes what a local cluster in `dir` lacks: the CA
 * on first start, then a certificate for each member without one. What exists
 * is reused (the CA must be for `clusterId`), so restarts keep their identities.
 * New member certificates also name `hosts` (for a member certificate that
 * serves HTTPS too: the host clients dial). Returns the ids whose certificates
 * were made now.
 */
export async function ensureClusterCertificates(dir: string, clusterId: string, ids: readonly string[], hosts: readonly string[] = []): Promise<string[]> {
  const ca = caFiles(dir);
  if (!existsSync(ca.cert) || !existsSync(ca.key)) await makeCa(dir, clusterId, CA_DAYS, true);
  const caCluster = caClusterId(parseCaCertificate(readFileSync(ca.cert, 'utf8')));
  if (caCluster !== clusterId) throw new CertError(`${ca.cert} is the CA of cluster ${caCluster}, not ${clusterId}`);
  const made: string[] = [];
  for (const id of ids) {
    const files = memberFiles(dir, id);
    if (existsSync(files.cert) && existsSync(files.key) && !expired(files.cert)) continue;
    await makeMember(dir, dir, { id, clusterId, days: MEMBER_DAYS, hosts }, true);
    made.push(id);
  }
  return made;
}

function expired(certFile: string): boolean {
  return Date.parse(new X509Certificate(readFileSync(certFile, 'utf8')).validTo) < Date.now();
}

/** clusterOfCertificates is the cluster id named by the CA in `dir` (a restart of `raftlock cluster` reuses it). */
export function clusterOfCertificates(dir: string): string {
  const ca = caFiles(dir);
  if (!existsSync(ca.cert)) throw new CertError(`${ca.cert} is missing: the members' stores name a cluster whose CA is gone (start over with a new data dir, or restore the certs)`);
  return caClusterId(parseCaCertificate(readFileSync(ca.cert, 'utf8')));
}
