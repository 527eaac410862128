import { describe, expect, it } from 'vitest';
import { DivergenceCheck, type LogView } from '../../src/node/divergence-check.js';
import type { Entry, Message } from '../../src/raft/index.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** A log of terms by index (index 1 first), committed up to `commitIndex`, compacted below `first`. */
function log(terms: number[], commitIndex: number, term = 3, first = 1): LogView {
  return { term, commitIndex, termAt: (i) => (i >= first - 1 && i >= 1 && i <= terms.length ? terms[i - 1]! : i === 0 ? 0 : null) };
}

function entry(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: Uint8Array.of(1) };
}

function append(term: number, prevLogIndex: number, prevLogTerm: number, entries: Entry[]): Message {
  return { type: 'append', from: 'n1', to: 'n2', term, prevLogIndex, prevLogTerm, entries, commit: 0 };
}

describe('DivergenceCheck', () => {
  it('finds a leader entry that contradicts one committed here', () => {
    const check = new DivergenceCheck(log([1, 1, 2, 2], 3), quiet);
    check.onReceive(append(3, 1, 1, [entry(2, 1), entry(3, 3), entry(4, 3)]));
    expect(check.divergence).toEqual({ leader: 'n1', index: 3, localTerm: 2, leaderTerm: 3 });
  });

  it('finds a contradiction at the append\'s previous entry and at a snapshot\'s last entry', () => {
    const a = new DivergenceCheck(log([1, 2, 2], 3), quiet);
    a.onReceive(append(3, 2, 1, []));
    expect(a.divergence?.index).toBe(2);
    const b = new DivergenceCheck(log([1, 2, 2], 3), quiet);
    b.onReceive({ type: 'snapshot', from: 'n1', to: 'n2', term: 3, meta: { index: 3, term: 1, config: { voters: ['n1'], learners: [], members: [] } }, data: new Uint8Array(0) });
    expect(b.divergence?.index).toBe(3);
  });

  it('lets a leader replace entries that are not committed here, and agrees with a matching log', () => {
    const check = new DivergenceCheck(log([1, 1, 2, 2], 2), quiet);
    check.onReceive(append(3, 1, 1, [entry(2, 1), entry(3, 3), entry(4, 3)]));
    check.onReceive(append(3, 4, 2, []));
    expect(check.divergence).toBeNull();
  });

  it('ignores a deposed leader of an older term, and what was compacted away', () => {
    const stale = new DivergenceCheck(log([1, 1, 2], 3, 3), quiet);
    stale.onReceive(append(2, 2, 1, [entry(3, 1)]));
    expect(stale.divergence).toBeNull();
    const compacted = new DivergenceCheck(log([1, 1, 2, 2], 4, 3, 4), quiet);
    compacted.onReceive(append(3, 1, 7, [entry(2, 7)]));
    expect(compacted.divergence).toBeNull();
  });
});
