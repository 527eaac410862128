/**
 * How a verify run secures its cluster (`raftlock verify --security`):
 *
 *   secret    the launcher's default: peers prove a fresh random secret and
 *             MAC every frame; the HTTP API is plain and open.
 *   tls-auth  everything on, as a production cluster runs: peers over mutual
 *             TLS with certificates from a CA made for the run; each member
 *             serves HTTPS under its own member certificate; bearer tokens
 *             (the harness's clients hold one with the reader and locker
 *             roles: they use no admin route; the membership nemesis holds
 *             an admin one), and relays to the leader
 *             signed with the auth file's clusterSecret.
 *
 * TLS passes the harness's TCP proxies unchanged, and names still check:
 * peers accept each other by the member id their certificates name, not by
 * address; clients and relays dial 127.0.0.1 (direct or through a proxy: the
 * same address), which every member certificate lists, and send no SNI for
 * an IP address. Nothing here is secret beyond the run: the CA key, the
 * members' keys and the token sit in the run folder.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { caFiles } from '../../certs/cert-layout.js';
import { ensureClusterCertificates } from '../../certs/cert-store.js';
import type { LaunchApiSecurity, LaunchSecurity } from '../../launch/launch-security.js';
import { authFileJson, type IssuedToken } from '../../server/auth-tokens.js';
import type { HttpAccess } from './http-call.js';

/** RUN_SECURITY_MODES are what `--security` takes; the first is the default. */
export const RUN_SECURITY_MODES = ['secret', 'tls-auth'] as const;

/** RunSecurityMode is one of them. */
export type RunSecurityMode = (typeof RUN_SECURITY_MODES)[number];

/** RunSecurity is what the members run with and how the harness's clients reach them. */
export interface RunSecurity {
  readonly mode: RunSecurityMode;
  /** Peer security; undefined: the launcher's default (a fresh random secret). */
  readonly peer?: LaunchSecurity;
  /** The HTTP API's security; undefined: plain HTTP, no authentication. */
  readonly api?: LaunchApiSecurity;
  /** The CA and token of every harness request (empty for `secret`). */
  readonly access: HttpAccess;
  /** The CA and admin token of the membership nemesis's requests (the same as `access` for `secret`). */
  readonly adminAccess: HttpAccess;
}

/** The principal of the harness's clients; its owners are shown back to it without the prefix, as the checkers expect. */
const CLIENT_PRINCIPAL = 'verify';
/** The principal of the membership nemesis (member-replacement.ts), the one harness caller of admin routes. */
const ADMIN_PRINCIPAL = 'verify-nemesis';
/** The address every member certificate names for HTTPS: clients and relays dial members and proxies there. */
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost'];

/** isRunSecurityMode checks a `--security` value. */
export function isRunSecurityMode(value: string): value is RunSecurityMode {
  return (RUN_SECURITY_MODES as readonly string[]).includes(value);
}

/**
 * prepareRunSecurity makes what `mode` needs in `dir` (created): for
 * `tls-auth` a CA for cluster `clusterId`, a certificate per member id
 * (peer TLS and HTTPS both), and an auth file with a fresh token.
 */
export async function prepareRunSecurity(mode: RunSecurityMode, dir: string, clusterId: string, ids: readonly string[]): Promise<RunSecurity> {
  if (mode === 'secret') return { mode, access: {}, adminAccess: {} };
  const certDir = join(dir, 'certs');
  await ensureClusterCertificates(certDir, clusterId, ids, LOOPBACK_HOSTS);
  const token = randomBytes(32).toString('hex');
  const adminToken = randomBytes(32).toString('hex');
  const authFile = join(dir, 'auth.json');
  mkdirSync(dir, { recursive: true });
  const tokens: IssuedToken[] = [
    { token, identity: { principal: CLIENT_PRINCIPAL, roles: ['reader', 'locker'] } },
    // The workload's clients stay without admin; only the membership nemesis changes the configuration.
    { token: adminToken, identity: { principal: ADMIN_PRINCIPAL, roles: ['admin'] } },
  ];
  writeFileSync(authFile, authFileJson(tokens, randomBytes(32).toString('hex')), { mode: 0o600 });
  const ca = readFileSync(caFiles(certDir).cert, 'utf8');
  return {
    mode,
    peer: { mode: 'tls', certDir },
    api: { certDir, authFile },
    access: { ca, token },
    adminAccess: { ca, token: adminToken },
  };
}
