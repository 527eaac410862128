import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How many folders up package.json may be: src/node (sources) or dist/src/node (the build) lie two or three below it. */
const FOLDERS_UP_MAX = 4;

let version: string | null = null;

/**
 * packageVersion is raftlock's version, from its package.json (read once):
 * what `raftlock --version` prints and the OpenAPI document's info.version.
 * The file is looked for upwards from this module, so the sources (tests),
 * the build and an installed package all find their own.
 */
export function packageVersion(): string {
  if (version !== null) return version;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up <= FOLDERS_UP_MAX; up++, dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'raftlock' && typeof pkg.version === 'string') return (version = pkg.version);
  }
  throw new Error(`no package.json of raftlock within ${FOLDERS_UP_MAX} folders above ${fileURLToPath(import.meta.url)}`);
}
