import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../src/raft/raft-log.js';
import type { Entry, SnapshotMeta } from '../../src/raft/index.js';
import { enc, entriesOf } from './harness.js';

/**
 * Edge rules of the in-memory log (Raft §5.3 log matching, §7 snapshots, thesis §4.1 configurations) that the
 * example tests in log.test.ts left unchecked, found by mutation testing: cases at a boundary (the first index after
 * a snapshot, the index of a configuration entry) and what a restart or a snapshot must leave behind.
 */

const CONFIG = { voters: ['a', 'b', 'c'], learners: [], members: [] };
const BOOT: SnapshotMeta = { index: 0, term: 0, config: CONFIG };

function configEntry(index: number, term: number, voters: string[]): Entry {
  return { index, term, type: 'config', data: new Uint8Array(0), config: { voters, learners: [], members: [] } };
}

describe('RaftLog edge rules', () => {
  it('an uncommitted entry right after the snapshot that conflicts with the leader\'s is replaced (Raft §5.3, at the first index)', () => {
    const log = new RaftLog({ index: 5, term: 1, config: CONFIG }, entriesOf([2, 2], 6), 5);
    expect(log.maybeAppend(5, 1, 5, entriesOf([3], 6))).toBe(6);
    expect(log.term(6)).toBe(3);
    expect(log.lastIndex()).toBe(6);
  });

  it('configAt(i) includes a configuration entry at exactly i, and none after it (thesis §4.1: in force from its own index)', () => {
    const log = new RaftLog(BOOT, [...entriesOf([1]), configEntry(2, 1, ['a', 'b', 'c', 'd']), ...entriesOf([1], 3), configEntry(4, 1, ['a', 'b', 'c', 'd', 'e'])], 0);
    expect(log.configAt(1).voters).toEqual(['a', 'b', 'c']);
    expect(log.configAt(2).voters).toEqual(['a', 'b', 'c', 'd']);
    expect(log.configAt(3).voters).toEqual(['a', 'b', 'c', 'd']);
    expect(log.configAt(4).voters).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(log.configIndex()).toBe(4);
  });

  it('a log rebuilt from disk asks the host to persist nothing again: what it was built from is durable', () => {
    const log = new RaftLog(BOOT, entriesOf([1, 1, 2]), 2);
    expect(log.hasUnsentEntries()).toBe(false);
    expect(log.takeUnsentEntries()).toEqual([]);
    expect(log.stableIndex).toBe(3);
    expect(log.committed).toBe(2);
  });

  it('a log rebuilt from a snapshot is committed at least to the snapshot, whatever older commit the hard state says (Raft §7)', () => {
    const log = new RaftLog({ index: 5, term: 2, config: CONFIG }, entriesOf([2], 6), 0);
    expect(log.committed).toBe(5);
    expect(log.applied).toBe(5);
    expect(log.hasNextCommitted()).toBe(false);
  });

  it('findConflictByTerm stops at the snapshot: below it no term is known, so the hint is the snapshot point', () => {
    const log = new RaftLog({ index: 5, term: 3, config: CONFIG }, entriesOf([4, 4], 6), 5);
    expect(log.findConflictByTerm(7, 2)).toEqual({ index: 5, term: 3 });
    expect(log.findConflictByTerm(7, 3)).toEqual({ index: 5, term: 3 });
  });

  it('after a snapshot is restored, nothing is handed out for persisting or applying until the host installed it (Raft §7)', () => {
    const log = new RaftLog(BOOT, [...entriesOf([1, 1]), configEntry(3, 1, ['a', 'b', 'c', 'd'])], 1);
    log.restore({ meta: { index: 9, term: 3, config: CONFIG }, data: enc('image') });
    expect(log.hasUnsentEntries()).toBe(false);
    expect(log.takeUnsentEntries()).toEqual([]);
    expect(log.config().voters).toEqual(['a', 'b', 'c']); // the dropped log's configuration entry is gone
    expect(log.configIndex()).toBe(9);
    // Entries after the snapshot arrive and are even durable and committed: still nothing is applied before it.
    expect(log.maybeAppend(9, 3, 11, entriesOf([3, 3], 10))).toBe(11);
    log.takeUnsentEntries();
    log.stableTo(11, 3);
    expect(log.hasNextCommitted()).toBe(false);
    expect(log.takeNextCommitted(Number.MAX_SAFE_INTEGER)).toEqual([]);
    log.pendingSnapshot = null; // installed
    expect(log.takeNextCommitted(Number.MAX_SAFE_INTEGER).map((e) => e.index)).toEqual([10, 11]);
  });
});
