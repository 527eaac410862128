import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeServerCert, makeTestCa } from '../../test/support/test-certs.js';
import { writeTestAuth } from '../../test/support/test-auth.js';
import type { HttpAccess } from './load-target.js';

/** SecuritySetup is what a benchmarked raftlock cluster runs with: serve flags, how clients reach it, and cleanup. */
export interface SecuritySetup {
  readonly extraArgs: string[];
  readonly access: HttpAccess;
  /** A one-line description for the report ("auth on, https off"). */
  readonly label: string;
  cleanup(): void;
}

/**
 * securitySetup makes what the probes need to measure raftlock with
 * authentication and/or HTTPS on: a bearer token for the load (reader and
 * locker), an auth file with a cluster secret, a test CA and a certificate for
 * 127.0.0.1, in a temporary directory that cleanup() removes.
 */
export function securitySetup(options: { auth: boolean; https: boolean }): SecuritySetup {
  const label = `auth ${options.auth ? 'on' : 'off'}, https ${options.https ? 'on' : 'off'}`;
  if (!options.auth && !options.https) return { extraArgs: [], access: {}, label, cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'raftlock-bench-security-'));
  const extraArgs: string[] = [];
  let access: HttpAccess = {};
  if (options.auth) {
    // The relay-signing secret in the auth file works whatever the peers use (--insecure included).
    const auth = writeTestAuth(dir, { bench: { principal: 'bench', roles: ['reader', 'locker'] } }, 'bench-cluster-secret');
    extraArgs.push('--auth-file', auth.file);
    access = { ...access, token: auth.tokens['bench']! };
  }
  if (options.https) {
    const ca = makeTestCa(dir, 'bench-ca');
    const cert = makeServerCert(dir, 'bench-node', ca);
    extraArgs.push('--http-cert', cert.certFile, '--http-key', cert.keyFile, '--http-ca', ca.certFile);
    access = { ...access, ca: ca.pem };
  }
  return { extraArgs, access, label, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
