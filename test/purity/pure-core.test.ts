import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The consensus core and the lease table are pure and deterministic
 * (ARCHITECTURE.md): no I/O modules, clocks, timers, randomness or async.
 * This scans their sources so a change that reaches outside fails CI.
 */
const FORBIDDEN: Array<[string, RegExp]> = [
  ['Date.now', /\bDate\.now\b/],
  ['new Date', /\bnew Date\b/],
  ['performance.now', /\bperformance\b/],
  ['Math.random', /\bMath\.random\b/],
  ['process.hrtime', /\bprocess\./],
  ['timers', /\b(setTimeout|setInterval|setImmediate|queueMicrotask)\s*\(/],
  ['async/await/Promise', /\b(async\s|await\s|Promise\b)/],
  ['I/O import', /from\s+['"](node:)?(fs|fs\/promises|net|http|https|http2|dgram|dns|timers|child_process|worker_threads|crypto|os|perf_hooks|level|classic-level|fastify)['"]/],
  ['require', /\brequire\s*\(/],
];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** stripComments removes comments and string contents, so prose that mentions Date.now does not count. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

export function findImpurities(text: string): string[] {
  const code = stripComments(text);
  return FORBIDDEN.filter(([, re]) => re.test(code)).map(([name]) => name);
}

describe('the pure core', () => {
  for (const folder of ['src/raft', 'src/locks']) {
    it(`${folder} uses no I/O, clock, timer, randomness or async`, () => {
      const dir = resolve(import.meta.dirname, '../..', folder);
      const files = sources(dir);
      expect(files.length).toBeGreaterThan(3);
      const found = files.flatMap((f) => findImpurities(readFileSync(f, 'utf8')).map((what) => `${f}: ${what}`));
      expect(found).toEqual([]);
    });
  }

  it('the scan catches each kind of impurity (known-bad input)', () => {
    for (const bad of [
      'const t = Date.now();',
      'const r = Math.random();',
      'setTimeout(() => {}, 1);',
      "import { readFileSync } from 'node:fs';",
      "import net from 'net';",
      'async function f() {}',
      'const p = Promise.resolve();',
      'const t = performance.now();',
    ]) {
      expect(findImpurities(bad), bad).not.toEqual([]);
    }
    expect(findImpurities('// Date.now is not used here\nconst x = 1;')).toEqual([]);
  });
});
