/**
 * Which member a peer certificate names. With peer TLS, OpenSSL checks that a
 * certificate chains to the cluster's CA; this file decides whether it names
 * the member a connection claims to be, of this cluster. A certificate names
 * member `id` of cluster `clusterId` when it carries either
 *
 *   - a subjectAltName URI `raftlock://<clusterId>/<id>` (what `raftlock certs` writes), or
 *   - a subject with CN=<id> and OU=<clusterId> (what a one-line `openssl req -subj` writes).
 *
 * The CA is the root of trust for "is a member", the name for "is THIS
 * member": without the name check, any member could claim to be any other
 * (and e.g. forge the leader's AppendEntries to a follower).
 */
import type { X509Certificate } from 'node:crypto';
import type { NodeId } from '../raft/types.js';

/** MEMBER_URI_SCHEME is the scheme of the subjectAltName URI that names a member. */
export const MEMBER_URI_SCHEME = 'raftlock';

/** memberUri is the subjectAltName URI naming member `id` of cluster `clusterId`. */
export function memberUri(clusterId: string, id: NodeId): string {
  return `${MEMBER_URI_SCHEME}://${clusterId}/${id}`;
}

/** MemberName is one (cluster, member) pair a certificate names. */
export interface MemberName {
  readonly clusterId: string;
  readonly id: NodeId;
}

/** certificateMemberNames lists every (cluster, member) pair `cert` names, by either rule above. */
export function certificateMemberNames(cert: X509Certificate): MemberName[] {
  const names: MemberName[] = [];
  const uriPattern = new RegExp(`^URI:"?${MEMBER_URI_SCHEME}://([A-Za-z0-9_.-]{1,64})/([A-Za-z0-9_-]{1,64})"?$`);
  // Node lists the alternative names as "TYPE:value, TYPE:value"; member URIs contain no comma.
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    const m = uriPattern.exec(entry.trim());
    if (m !== null) names.push({ clusterId: m[1]!, id: m[2]! });
  }
  // Node lists the subject one "KEY=value" per line; ids and cluster ids need no escaping.
  const subject = cert.subject.split('\n');
  const values = (key: string): string[] => subject.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
  const cns = values('CN');
  const ous = values('OU');
  if (cns.length === 1) for (const ou of ous) names.push({ clusterId: ou, id: cns[0]! });
  return names;
}

/** certifiesMember is true when `cert` names member `id` of cluster `clusterId`. */
export function certifiesMember(cert: X509Certificate, clusterId: string, id: NodeId): boolean {
  return certificateMemberNames(cert).some((n) => n.clusterId === clusterId && n.id === id);
}

/** describeCertificate is a short text for logs: the subject and the alternative names. */
export function describeCertificate(cert: X509Certificate | null | undefined): string {
  if (cert === null || cert === undefined) return 'no certificate';
  return `subject "${cert.subject.replace(/\n/g, ', ')}"${cert.subjectAltName === undefined ? '' : `, SAN "${cert.subjectAltName}"`}`;
}
