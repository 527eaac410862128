/**
 * How the members a launcher starts secure their peer traffic, turned into
 * their flags and environment. The default is a fresh random secret per
 * launcher (passed in the environment, never on a command line that `ps`
 * shows), so every cluster a test, the verify harness or the bench starts is
 * authenticated unless it asks otherwise; `raftlock cluster` passes
 * certificates (mode 'tls').
 *
 * Whatever peer-security variables the launching process has are cleared
 * from the members' environment first: a RAFTLOCK_SECRET in an operator's
 * shell must not turn a TLS cluster into one that refuses to start.
 *
 * The HTTP API's security is apart (LaunchApiSecurity): by default members
 * serve plain HTTP without authentication; given it, each serves HTTPS under
 * its own member certificate and checks bearer tokens against an auth file.
 */
import { randomBytes } from 'node:crypto';
import { caFiles, memberFiles } from '../certs/cert-layout.js';
import { AUTH_JSON_ENV } from '../node/http-security-config.js';
import { ENV_BY_FLAG } from '../node/node-config.js';

/** LaunchSecurity is how launched members secure peer traffic: certificates in `certDir` (cert-layout.ts), a shared secret, or nothing. */
export type LaunchSecurity =
  | { readonly mode: 'tls'; readonly certDir: string }
  | { readonly mode: 'secret'; readonly secret: string }
  | { readonly mode: 'insecure' };

/**
 * LaunchApiSecurity is how launched members secure their HTTP API: HTTPS
 * under each member's certificate in `certDir` (cert-layout.ts; it must name
 * the host clients dial, e.g. `raftlock certs member --host 127.0.0.1`), the
 * CA there also verifying the leader a follower relays to; and bearer tokens
 * from the auth file `authFile` (with a clusterSecret when the peers use
 * certificates: relays are signed with it).
 */
export interface LaunchApiSecurity {
  readonly certDir?: string;
  readonly authFile?: string;
}

const PEER_SECURITY_ENV = [ENV_BY_FLAG['secret'], ENV_BY_FLAG['peer-ca'], ENV_BY_FLAG['peer-cert'], ENV_BY_FLAG['peer-key'], ENV_BY_FLAG['insecure']];
/** Cleared when the launcher sets the API's security itself: an operator's RAFTLOCK_AUTH next to --auth-file stops serve. */
const API_SECURITY_ENV = [ENV_BY_FLAG['http-cert'], ENV_BY_FLAG['http-key'], ENV_BY_FLAG['http-ca'], ENV_BY_FLAG['auth-file'], AUTH_JSON_ENV];

/** generatedSecret is a fresh random secret (256 bits, hex). */
export function generatedSecret(): LaunchSecurity {
  return { mode: 'secret', secret: randomBytes(32).toString('hex') };
}

/** securityArgs are member `id`'s serve flags for `security` (none for a secret: it goes in the environment). */
export function securityArgs(id: string, security: LaunchSecurity): string[] {
  switch (security.mode) {
    case 'tls': {
      const ca = caFiles(security.certDir);
      const own = memberFiles(security.certDir, id);
      return ['--peer-ca', ca.cert, '--peer-cert', own.cert, '--peer-key', own.key];
    }
    case 'secret':
      return [];
    case 'insecure':
      return ['--insecure'];
  }
}

/**
 * securityEnv is `base` without any peer-security variable, plus the secret when `security` is one; with `api`,
 * also without the HTTP API's security variables (the launcher passes those as flags).
 */
export function securityEnv(base: NodeJS.ProcessEnv, security: LaunchSecurity, api?: LaunchApiSecurity): NodeJS.ProcessEnv {
  const env = { ...base };
  for (const name of PEER_SECURITY_ENV) delete env[name];
  if (api !== undefined) for (const name of API_SECURITY_ENV) delete env[name];
  if (security.mode === 'secret') env[ENV_BY_FLAG['secret']] = security.secret;
  return env;
}

/** apiSecurityArgs are member `id`'s serve flags for `api`: HTTPS under its certificate, and the auth file. */
export function apiSecurityArgs(id: string, api: LaunchApiSecurity): string[] {
  const https = api.certDir === undefined ? [] : ['--http-cert', memberFiles(api.certDir, id).cert, '--http-key', memberFiles(api.certDir, id).key, '--http-ca', caFiles(api.certDir).cert];
  return [...https, ...(api.authFile === undefined ? [] : ['--auth-file', api.authFile])];
}
