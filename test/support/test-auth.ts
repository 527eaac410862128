import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { authFileJson, type IssuedToken, type Role } from '../../src/server/auth-tokens.js';

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
  const issued: IssuedToken[] = [];
  for (const [name, p] of Object.entries(principals)) {
    const token = randomBytes(24).toString('base64url');
    tokens[name] = token;
    issued.push({ token, identity: p });
  }
  const file = join(dir, 'auth.json');
  writeFileSync(file, authFileJson(issued, clusterSecret), { mode: 0o600 });
  return { file, tokens };
}
