import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashToken, type Role } from '../../src/server/auth-tokens.js';

/** TestPrincipals maps a name the test uses to a principal and its roles. */
export type TestPrincipals = Readonly<Record<string, { readonly principal: string; readonly roles: readonly Role[] }>>;

/** TestAuth is an auth file written for a test and the tokens it accepts, by the test's names. */
export interface TestAuth {
  readonly file: string;
  readonly tokens: Readonly<Record<string, string>>;
}

/**
 * writeTestAuth makes a random token for each principal and writes the auth
 * file (hashes only, as in production) to `dir`/auth.json.
 */
export function writeTestAuth(dir: string, principals: TestPrincipals, clusterSecret?: string): TestAuth {
  const tokens: Record<string, string> = {};
  const entries: Record<string, { principal: string; roles: readonly Role[] }> = {};
  for (const [name, p] of Object.entries(principals)) {
    const token = randomBytes(24).toString('base64url');
    tokens[name] = token;
    entries[hashToken(token)] = { principal: p.principal, roles: p.roles };
  }
  const file = join(dir, 'auth.json');
  writeFileSync(file, JSON.stringify({ tokens: entries, ...(clusterSecret !== undefined ? { clusterSecret } : {}) }, null, 2), { mode: 0o600 });
  return { file, tokens };
}
