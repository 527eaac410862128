/**
 * Golden scripted tests of the lease table: every test/locks/testdata/*.txt
 * is a script of commands and the output the lease table's documented
 * semantics require (see scripted-runner.ts for the format). Run with
 * REWRITE=1 to regenerate the expected outputs in place, then read the diff:
 * a golden file is only as good as the review of what it expects.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatMismatches, runScript } from './scripted-runner.js';

const dir = new URL('./testdata/', import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort();
const rewrite = process.env['REWRITE'] === '1';

describe('scripted lease table tests (testdata/*.txt)', () => {
  it('finds the golden files', () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
  });

  it.each(files)('%s', (file) => {
    const url = new URL(file, dir);
    const text = readFileSync(url, 'utf8');
    const run = runScript(text, `test/locks/testdata/${file}`);
    if (rewrite) {
      if (run.rewritten !== text) writeFileSync(url, run.rewritten);
      return;
    }
    if (run.mismatches.length > 0) throw new Error(formatMismatches(`test/locks/testdata/${file}`, run.mismatches));
  });
});
