/** The scripted-test runner must be able to fail: a wrong expectation is a mismatch with a readable diff. */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatMismatches, parseScript, runScript } from './scripted-runner.js';

const GOOD = `# a comment
acquire name=a owner=o1 ttl=1000 at=100
----
entry 1 at 100: ok queued=false name=a owner=o1 token=1 mode=exclusive expiresAtMs=1100 holdCount=1

acquire name=a owner=o2 ttl=1000 wait=5000
----
entry 2 at 100: ok queued=true name=a waiterId="2"

release name=a owner=o1 token=1
----
entry 3 at 100: ok name=a holdCount=0
event granted waiterId="2" name=a owner=o2 token=3 mode=exclusive expiresAtMs=1100 holdCount=1
`;

describe('scripted-runner', () => {
  it('passes a script whose expectations hold, and rewrites it unchanged', () => {
    const run = runScript(GOOD, 'good.txt');
    expect(run.mismatches).toEqual([]);
    expect(run.rewritten).toBe(GOOD);
  });

  it('fails on a wrong expected output, naming the block and showing a diff', () => {
    const wrong = GOOD.replace('token=3 mode', 'token=2 mode');
    const run = runScript(wrong, 'wrong.txt');
    expect(run.mismatches).toHaveLength(1);
    expect(run.mismatches[0]).toMatchObject({ line: 10, command: 'release name=a owner=o1 token=1' });
    const message = formatMismatches('wrong.txt', run.mismatches);
    expect(message).toContain('wrong.txt:10: release name=a owner=o1 token=1');
    expect(message).toContain('    entry 3 at 100: ok name=a holdCount=0');
    expect(message).toContain('  - event granted waiterId="2" name=a owner=o2 token=2 mode=exclusive');
    expect(message).toContain('  + event granted waiterId="2" name=a owner=o2 token=3 mode=exclusive');
    // REWRITE=1 would write the actual output back.
    expect(run.rewritten).toBe(GOOD);
  });

  it('fails on a missing or an extra output line', () => {
    const missing = GOOD.replace(/\nevent granted[^\n]*/, '');
    expect(runScript(missing, 'missing.txt').mismatches).toHaveLength(1);
    const extra = GOOD.replace('holdCount=0\n', 'holdCount=0\nevent waitEnded waiterId="2" name=a reason=timeout\n');
    expect(runScript(extra, 'extra.txt').mismatches).toHaveLength(1);
    const empty = GOOD.replace(/----\nentry 1[^\n]*\n/, '----\n');
    expect(runScript(empty, 'empty.txt').mismatches).toHaveLength(1);
  });

  it('fails every golden file whose first expectation is changed', () => {
    const dir = new URL('./testdata/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.txt'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const text = readFileSync(new URL(file, dir), 'utf8');
      const first = parseScript(text, file).find((s) => s.kind === 'block');
      expect(first?.kind).toBe('block');
      const expected = first!.kind === 'block' ? first!.block.expected : '';
      const broken = text.replace(`----\n${expected}\n`, `----\n${expected}x\n`);
      expect(broken).not.toBe(text);
      expect(runScript(broken, file).mismatches.length, file).toBeGreaterThan(0);
    }
  });

  it('refuses malformed scripts and commands instead of ignoring them', () => {
    expect(() => runScript('acquire name=a owner=o1 ttl=1000\nentry 1\n', 'f.txt')).toThrow(/f\.txt:1: .* must be followed by a ---- line/);
    expect(() => runScript('acquire name=a owner=o1 tll=1000\n----\n', 'f.txt')).toThrow(/f\.txt:1: .*unknown argument\(s\): tll/);
    expect(() => runScript('acquire name=a ttl=1000\n----\n', 'f.txt')).toThrow(/missing argument owner/);
    expect(() => runScript('frobnicate\n----\n', 'f.txt')).toThrow(/unknown command frobnicate/);
    expect(() => runScript('expire at=soon\n----\n', 'f.txt')).toThrow(/at=soon is not a number/);
    expect(() => runScript('new-table nameMax=3\n----\n', 'f.txt')).toThrow(/unknown limit nameMax/);
  });
});
