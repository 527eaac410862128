/**
 * Certificates for tests, made in memory with src/certs (the code behind
 * `raftlock certs`): one cluster CA and a member certificate per id, plus
 * whatever hostile variants a test needs (another CA, a certificate naming
 * another member). ECDSA P-256: a few milliseconds each.
 */
import { createClusterCa, issueMemberCertificate, type PemPair } from '../../src/certs/cert-authority.js';
import type { PeerSecurity } from '../../src/transport/index.js';

/** TestPki is a CA and its members' certificates. */
export interface TestPki {
  readonly clusterId: string;
  readonly ca: PemPair;
  readonly members: Readonly<Record<string, PemPair>>;
}

/** makeTestPki makes a CA for `clusterId` and a certificate for each id. */
export async function makeTestPki(clusterId: string, ids: readonly string[]): Promise<TestPki> {
  const ca = await createClusterCa(clusterId, 30);
  const members: Record<string, PemPair> = {};
  for (const id of ids) members[id] = await issueMemberCertificate(ca, { id, days: 30 });
  return { clusterId, ca, members };
}

/** tlsSecurity is the PeerSecurity of a member presenting `own`, trusting `pki`'s CA. */
export function tlsSecurity(pki: TestPki, own: PemPair): PeerSecurity {
  return { mode: 'tls', ca: pki.ca.certPem, cert: own.certPem, key: own.keyPem };
}
