import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatHistoryJsonl, parseHistoryJsonl, readHistoryJsonl, writeHistoryJsonl } from '../../src/verify/history-jsonl.js';
import { describeOp, effectiveCompleteMs, HistoryError, validateHistory, type Operation } from '../../src/verify/history.js';
import { acq, rd, rel, ren } from './ops.js';

const sample = (): Operation[] => [
  acq('a', 100, [0, 10], 1),
  acq('b', 100, [5, null], 'unknown'),
  rel('a', 1, [20, 30], 'ok'),
  ren('a', 1, 50, [40, 45], 'not_holder'),
  rd([50, 60], [['b', 2]], 2),
];

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof HistoryError ? e.code : `not a HistoryError: ${String(e)}`;
  }
  return undefined;
}

describe('history JSON lines', () => {
  it('round-trips, writing an unknown completion as null', () => {
    const ops = sample();
    const text = formatHistoryJsonl(ops);
    expect(text.split('\n').filter((l) => l.length > 0)).toHaveLength(5);
    expect(text).toContain('"completeMs":null');
    expect(parseHistoryJsonl(text)).toEqual(ops);
  });

  it('writes Infinity completions as null too', () => {
    const op = { ...acq('b', 100, [5, null], 'unknown'), completeMs: Infinity };
    expect(formatHistoryJsonl([op])).toContain('"completeMs":null');
    expect(effectiveCompleteMs(op)).toBe(Infinity);
  });

  it('skips blank lines and reports the line of bad JSON', () => {
    const ok = formatHistoryJsonl([acq('a', 100, [0, 10], 1)]);
    expect(parseHistoryJsonl(`\n${ok}\n\n`)).toHaveLength(1);
    expect(codeOf(() => parseHistoryJsonl(`${ok}{oops\n`))).toBe('bad_jsonl');
    expect(() => parseHistoryJsonl(`${ok}{oops\n`)).toThrow(/line 2/);
  });

  it('rejects malformed records with the operation id', () => {
    const base = JSON.parse(formatHistoryJsonl([acq('a', 100, [0, 10], 1)])) as Record<string, unknown>;
    const bad = (patch: Record<string, unknown>): string => JSON.stringify({ ...base, ...patch });
    for (const patch of [
      { f: 'lock' },
      { status: 'maybe' },
      { completeMs: null }, // a definite op needs a completion
      { completeMs: -1 }, // before its invocation
      { output: {} }, // acquire ok without a token
      { input: { owner: 7, ttlMs: 100 } },
      { key: '' },
    ]) {
      expect(codeOf(() => parseHistoryJsonl(bad(patch))), JSON.stringify(patch)).toBe('invalid_op');
    }
    expect(codeOf(() => parseHistoryJsonl(`${bad({})}\n${bad({})}`))).toBe('duplicate_id');
  });

  it('validates read outputs', () => {
    const r = rd([0, 1], [['a', 1]], 1);
    expect(codeOf(() => validateHistory([{ ...r, output: { holders: [{ owner: 'a' }], lastToken: 1 } }]))).toBe('invalid_op');
    expect(codeOf(() => validateHistory([{ ...r, output: { holders: [] } }]))).toBe('invalid_op');
  });

  it('reads and writes files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raftlock-verify-'));
    try {
      const path = join(dir, 'history.jsonl');
      const ops = sample();
      await writeHistoryJsonl(path, ops);
      expect(await readHistoryJsonl(path)).toEqual(ops);
      await writeFile(path, 'not json\n');
      await expect(readHistoryJsonl(path)).rejects.toMatchObject({ code: 'bad_jsonl' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('describes operations on one line', () => {
    const [a, b, , d, e] = sample();
    expect(describeOp(a!)).toMatch(/acquire\(a ttl=100\) → ok t=1 \[0, 10\]$/);
    expect(describeOp(b!)).toMatch(/→ unknown \[5, ∞\]$/);
    expect(describeOp(d!)).toMatch(/renew\(a t=1 ttl=50\) → fail not_holder/);
    expect(describeOp(e!)).toMatch(/read\(\) → ok holders=\[b:2\] last=2/);
  });
});
