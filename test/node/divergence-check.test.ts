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

  it('keeps the first contradiction found: a later one, in the same append or a later message, does not replace it', () => {
    const check = new DivergenceCheck(log([1, 1, 2, 2], 4), quiet);
    check.onReceive(append(3, 1, 1, [entry(2, 3), entry(3, 3)]));
    expect(check.divergence).toEqual({ leader: 'n1', index: 2, localTerm: 1, leaderTerm: 3 });
    check.onReceive({ ...append(3, 3, 3, [entry(4, 3)]), from: 'n3' });
    expect(check.divergence).toEqual({ leader: 'n1', index: 2, localTerm: 1, leaderTerm: 3 });
  });

  it('does not compare an entry known here only as uncommitted, at an append\'s previous entry or a snapshot\'s last', () => {
    const check = new DivergenceCheck(log([1, 1, 2, 2], 2), quiet);
    check.onReceive(append(3, 4, 3, []));
    check.onReceive({ type: 'snapshot', from: 'n1', to: 'n2', term: 3, meta: { index: 3, term: 3, config: { voters: ['n1'], learners: [], members: [] } }, data: new Uint8Array(0) });
    expect(check.divergence).toBeNull();
  });

  it('reads no log position from messages that carry none (heartbeats, votes)', () => {
    const check = new DivergenceCheck(log([1, 1, 2], 3), quiet);
    check.onReceive({ type: 'heartbeat', from: 'n1', to: 'n2', term: 3, commit: 3, context: null });
    check.onReceive({ type: 'vote', from: 'n3', to: 'n2', term: 4, lastLogIndex: 1, lastLogTerm: 9, transfer: false });
    expect(check.divergence).toBeNull();
  });

  it('raises the alarm in the log once, as an error naming the leader, the index and both terms', () => {
    const errors: [unknown, string | undefined][] = [];
    const check = new DivergenceCheck(log([1, 2, 2], 3), { ...quiet, error: (fields: object, message?: string) => void errors.push([fields, message]) });
    check.onReceive(append(3, 2, 1, []));
    check.onReceive(append(3, 3, 1, []));
    expect(errors).toHaveLength(1);
    expect(errors[0]![0]).toEqual({ leader: 'n1', index: 2, localTerm: 2, leaderTerm: 1, commitIndex: 3 });
    expect(errors[0]![1]).toMatch(/diverged/);
  });
});
