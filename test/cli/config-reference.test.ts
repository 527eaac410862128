import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVE_FLAGS } from '../../src/cli/serve-command.js';
import { packageVersion } from '../../src/node/package-version.js';
import { ENV_BY_FLAG } from '../../src/node/node-config.js';
import { runCli } from '../support/process-cluster.js';

/**
 * The README's configuration reference cannot drift from the code: its
 * table lists exactly the flags `raftlock serve` parses, each with the
 * environment variable the code reads for it, and every `RAFTLOCK_`
 * variable any source file names is in the reference; `serve --help` names
 * every flag too. And `raftlock --version` prints the package's version.
 */

const ROOT = resolve(import.meta.dirname, '../..');

/** reference is the README's "Configuration reference" section. */
function reference(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Configuration reference');
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

/** sourceFiles lists every .ts file under src (bounded: the tree is small). */
function sourceFiles(dir: string, found: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(path, found);
    else if (entry.name.endsWith('.ts')) found.push(path);
    expect(found.length).toBeLessThan(10_000);
  }
  return found;
}

describe('the configuration reference', () => {
  it('lists every serve flag once, with the environment variable the code reads for it', () => {
    const rows = [...reference().matchAll(/^\| `--([a-z-]+)` \| `(RAFTLOCK_[A-Z_]+)`/gm)].map((m) => [m[1]!, m[2]!] as const);
    expect(rows.map(([flag]) => flag).sort()).toEqual([...SERVE_FLAGS].sort());
    for (const [flag, env] of rows) expect(env, `--${flag}`).toBe(ENV_BY_FLAG[flag as keyof typeof ENV_BY_FLAG]);
  });

  it('names every RAFTLOCK_ variable the sources name', () => {
    const section = reference();
    const named = new Set(sourceFiles(join(ROOT, 'src')).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\bRAFTLOCK_[A-Z][A-Z_]*[A-Z]\b/g)].map((m) => m[0])));
    expect(named.size).toBeGreaterThan(20);
    expect([...named].filter((v) => !section.includes(`\`${v}\``)).sort()).toEqual([]);
  });

  it('every flag is in raftlock serve --help', async () => {
    const help = await runCli(['serve', '--help']);
    expect(help.code).toBe(0);
    expect(SERVE_FLAGS.filter((f) => !help.output.includes(`--${f}`))).toEqual([]);
  });
});

describe('raftlock --version', () => {
  it('prints the package version and exits 0', async () => {
    for (const flag of ['--version', '-V']) {
      const run = await runCli([flag]);
      expect(run.code).toBe(0);
      expect(run.output.trim()).toBe(`raftlock ${packageVersion()}`);
    }
    expect(packageVersion()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });
});
