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
 */
import { randomBytes } from 'node:crypto';
import { caFiles, memberFiles } from '../certs/cert-layout.js';
import { ENV_BY_FLAG } from '../node/node-config.js';

/** LaunchSecurity is how launched members secure peer traffic: certificates in `certDir` (cert-layout.ts), a shared secret, or nothing. */
export type LaunchSecurity =
  | { readonly mode: 'tls'; readonly certDir: string }
  | { readonly mode: 'secret'; readonly secret: string }
  | { readonly mode: 'insecure' };

const PEER_SECURITY_ENV = [ENV_BY_FLAG['secret'], ENV_BY_FLAG['peer-ca'], ENV_BY_FLAG['peer-cert'], ENV_BY_FLAG['peer-key'], ENV_BY_FLAG['insecure']];

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

/** securityEnv is `base` without any peer-security variable, plus the secret when `security` is one. */
export function securityEnv(base: NodeJS.ProcessEnv, security: LaunchSecurity): NodeJS.ProcessEnv {
  const env = { ...base };
  for (const name of PEER_SECURITY_ENV) delete env[name];
  if (security.mode === 'secret') env[ENV_BY_FLAG['secret']] = security.secret;
  return env;
}
