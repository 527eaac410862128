import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../src/raft/raft-log.js';
import { InvariantError, entryBytes, type Entry, type SnapshotMeta } from '../../src/raft/index.js';
import { enc, entriesOf } from './harness.js';

const BOOT: SnapshotMeta = { index: 0, term: 0, config: { voters: ['a', 'b', 'c'], learners: [], members: [] } };

function logWith(terms: number[], committed = 0): RaftLog {
  return new RaftLog(BOOT, entriesOf(terms), committed);
}

function termsIn(log: RaftLog): number[] {
  return log.lastIndex() < log.firstIndex() ? [] : log.slice(log.firstIndex(), log.lastIndex(), Number.MAX_SAFE_INTEGER).map((e) => e.term);
}

function configEntry(index: number, term: number, voters: string[]): Entry {
  return { index, term, type: 'config', data: new Uint8Array(0), config: { voters, learners: [], members: [] } };
}

describe('RaftLog', () => {
  it('refuses a log with a gap, terms going back, or a commit beyond its end (broken invariants throw)', () => {
    expect(() => new RaftLog(BOOT, [entriesOf([1])[0]!, entriesOf([1], 3)[0]!], 0)).toThrow(InvariantError);
    expect(() => new RaftLog(BOOT, entriesOf([2, 1]), 0)).toThrow(InvariantError);
    expect(() => new RaftLog(BOOT, entriesOf([1, 1]), 3)).toThrow(InvariantError);
  });

  it('term() is the snapshot term at the snapshot index and null outside the log', () => {
    const log = new RaftLog({ index: 5, term: 2, config: BOOT.config }, entriesOf([2, 3], 6), 5);
    expect([4, 5, 6, 7, 8].map((i) => log.term(i))).toEqual([null, 2, 2, 3, null]);
    expect(log.firstIndex()).toBe(6);
    expect(log.lastIndex()).toBe(7);
    expect(log.lastTerm()).toBe(3);
    expect(new RaftLog({ index: 5, term: 2, config: BOOT.config }, [], 5).lastTerm()).toBe(2);
  });

  it('isUpToDate compares last terms first, then lengths (Raft §5.4.1)', () => {
    const log = logWith([1, 2, 2]);
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(9, 2)).toBe(true);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);
    expect(log.isUpToDate(9, 1)).toBe(false);
  });

  it('slice returns at least one entry, then as many as fit in maxBytes', () => {
    const log = logWith([1, 1, 1, 1]);
    const size = entryBytes(log.entryAt(1));
    expect(log.slice(1, 4, 1).map((e) => e.index)).toEqual([1]);
    expect(log.slice(1, 4, 2 * size).map((e) => e.index)).toEqual([1, 2]);
    expect(log.slice(2, 9, Number.MAX_SAFE_INTEGER).map((e) => e.index)).toEqual([2, 3, 4]);
    expect(() => log.slice(0, 2, 100)).toThrow(InvariantError);
  });

  it('maybeAppend: rejects on a prevLog mismatch, keeps matching entries, truncates at the first conflict, commits min(leaderCommit, last new)', () => {
    const log = logWith([1, 1, 1, 1], 1);
    expect(log.maybeAppend(4, 2, 4, [])).toBe(null);
    expect(log.maybeAppend(6, 1, 4, [])).toBe(null);
    expect(termsIn(log)).toEqual([1, 1, 1, 1]);
    // Matching prefix entries are kept; nothing follows the last new one that would be cut.
    expect(log.maybeAppend(0, 0, 1, entriesOf([1, 1]))).toBe(2);
    expect(termsIn(log)).toEqual([1, 1, 1, 1]);
    // A conflict at index 3 drops 3 and 4.
    expect(log.maybeAppend(2, 1, 3, entriesOf([2], 3))).toBe(3);
    expect(termsIn(log)).toEqual([1, 1, 2]);
    expect(log.committed).toBe(3);
    expect(log.unsentFrom).toBe(3); // the host is asked to rewrite from 3
  });

  it('maybeAppend never truncates a committed entry (that would be a safety bug upstream)', () => {
    const log = logWith([1, 1, 1], 3);
    expect(() => log.maybeAppend(1, 1, 3, entriesOf([2], 2))).toThrow(InvariantError);
  });

  it('maybeAppend matches at the snapshot index itself; below it there is nothing to match (the node answers with its commit instead)', () => {
    const log = new RaftLog({ index: 3, term: 1, config: BOOT.config }, entriesOf([1], 4), 3);
    expect(log.maybeAppend(3, 1, 5, entriesOf([1, 2], 4))).toBe(5);
    expect(log.lastIndex()).toBe(5);
    expect(log.term(5)).toBe(2);
    expect(log.maybeAppend(1, 1, 5, entriesOf([1, 1, 1, 2], 2))).toBe(null);
  });

  it('findConflictByTerm returns the last index at or below `index` whose term is <= `term`', () => {
    const log = logWith([1, 1, 2, 2, 4, 4]);
    expect(log.findConflictByTerm(6, 3)).toEqual({ index: 4, term: 2 });
    expect(log.findConflictByTerm(6, 4)).toEqual({ index: 6, term: 4 });
    expect(log.findConflictByTerm(3, 5)).toEqual({ index: 3, term: 2 });
    expect(log.findConflictByTerm(9, 1)).toEqual({ index: 2, term: 1 });
    expect(log.findConflictByTerm(6, 0)).toEqual({ index: 0, term: 0 });
  });

  it('entries are handed out for persisting once, applied only when committed and durable, within maxBytes', () => {
    const log = logWith([]);
    log.append(entriesOf([1, 1, 1]));
    expect(log.takeUnsentEntries().map((e) => e.index)).toEqual([1, 2, 3]);
    expect(log.hasUnsentEntries()).toBe(false);
    log.commitTo(3);
    expect(log.stableIndex).toBe(0);
    expect(log.hasNextCommitted()).toBe(false); // committed but not durable here yet
    log.stableTo(2, 1);
    const size = entryBytes(log.entryAt(1));
    expect(log.takeNextCommitted(size).map((e) => e.index)).toEqual([1]);
    expect(log.takeNextCommitted(10 * size).map((e) => e.index)).toEqual([2]);
    expect(log.hasNextCommitted()).toBe(false);
    log.appliedTo(2);
    expect(log.applied).toBe(2);
    expect(() => log.appliedTo(4)).toThrow(InvariantError);
  });

  it('stableTo ignores an acknowledgement for entries that were overwritten since', () => {
    const log = logWith([1, 1], 0);
    log.append(entriesOf([1], 3));
    log.takeUnsentEntries();
    expect(log.maybeAppend(2, 1, 0, entriesOf([2], 3))).toBe(3); // index 3 rewritten with term 2
    log.stableTo(3, 1); // the old write of (3, t1) completes late
    expect(log.stableIndex).toBe(2);
    log.stableTo(3, 2);
    expect(log.stableIndex).toBe(3);
  });

  it('commit never goes back and never passes the last index', () => {
    const log = logWith([1, 1, 1]);
    log.commitTo(2);
    log.commitTo(1);
    expect(log.committed).toBe(2);
    expect(() => log.commitTo(4)).toThrow(InvariantError);
  });

  it('the configuration is the latest config entry in the log, committed or not, and reverts when it is truncated (thesis §4.1)', () => {
    const log = new RaftLog(BOOT, [...entriesOf([1]), configEntry(2, 1, ['a', 'b', 'c', 'd'])], 0);
    expect(log.config().voters).toEqual(['a', 'b', 'c', 'd']);
    expect(log.configAt(1).voters).toEqual(['a', 'b', 'c']);
    expect(log.maybeAppend(1, 1, 0, entriesOf([2], 2))).toBe(2);
    expect(log.config().voters).toEqual(['a', 'b', 'c']);
  });

  it('compact drops entries up to an applied index whose term matches; restore replaces the log with a snapshot', () => {
    const log = logWith([1, 1, 2, 2], 4);
    log.stableTo(4, 2);
    log.takeNextCommitted(Number.MAX_SAFE_INTEGER);
    log.appliedTo(3);
    expect(() => log.compact({ index: 4, term: 2, config: BOOT.config })).toThrow(InvariantError); // not applied
    expect(() => log.compact({ index: 3, term: 1, config: BOOT.config })).toThrow(InvariantError); // wrong term
    log.compact({ index: 3, term: 2, config: BOOT.config });
    expect(log.firstIndex()).toBe(4);
    expect(termsIn(log)).toEqual([2]);
    log.compact({ index: 2, term: 1, config: BOOT.config }); // older than what we have: a no-op
    expect(log.firstIndex()).toBe(4);

    expect(() => log.restore({ meta: { index: 4, term: 2, config: BOOT.config }, data: enc('x') })).toThrow(InvariantError);
    log.restore({ meta: { index: 9, term: 3, config: BOOT.config }, data: enc('image') });
    expect({ first: log.firstIndex(), last: log.lastIndex(), committed: log.committed }).toEqual({ first: 10, last: 9, committed: 9 });
    expect(log.pendingSnapshot?.meta.index).toBe(9);
    expect(log.hasNextCommitted()).toBe(false);
  });
});
