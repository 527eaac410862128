import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../src/raft/raft-log.js';
import type { Entry, SnapshotMeta } from '../../src/raft/index.js';
import { enc, entriesOf } from './harness.js';

/**
 * The in-memory log's cursors (what the host has made durable, what it has been handed to persist, what is applied)
 * across truncation, snapshots and compaction (Raft §5.3, §5.4, §7), rules found by mutation testing of
 * src/raft/raft-log.ts that log.test.ts and log-rules.test.ts left unchecked.
 */

const CONFIG = { voters: ['a', 'b', 'c'], learners: [], members: [] };
const BOOT: SnapshotMeta = { index: 0, term: 0, config: CONFIG };

function configEntry(index: number, term: number, voters: string[]): Entry {
  return { index, term, type: 'config', data: new Uint8Array(0), config: { voters, learners: [], members: [] } };
}

function indexesOf(entries: readonly Entry[]): number[] {
  return entries.map((e) => e.index);
}

describe('RaftLog cursor rules', () => {
  it('a truncation takes the durable mark back to the entry before the conflict: a rewritten entry is not durable until written again (Raft §5.3)', () => {
    // Built from disk: all four entries are durable.
    const log = new RaftLog(BOOT, entriesOf([1, 1, 1, 1]), 1);
    expect(log.stableIndex).toBe(4);
    expect(log.maybeAppend(1, 1, 2, entriesOf([2], 2))).toBe(2);
    expect(log.stableIndex).toBe(1);
    // Committed, but the new entry 2 is not on disk yet: it must not be applied (a restart would un-apply it).
    expect(log.committed).toBe(2);
    expect(indexesOf(log.takeNextCommitted(Number.MAX_SAFE_INTEGER))).toEqual([1]);
    expect(log.hasNextCommitted()).toBe(false);
    expect(indexesOf(log.takeUnsentEntries())).toEqual([2]);
    log.stableTo(2, 2);
    expect(indexesOf(log.takeNextCommitted(Number.MAX_SAFE_INTEGER))).toEqual([2]);
  });

  it('entries are handed out for persisting once each: a later take returns only what was appended since, even a single entry', () => {
    const log = new RaftLog(BOOT, entriesOf([1, 1]), 0);
    expect(log.hasUnsentEntries()).toBe(false);
    log.append(entriesOf([1], 3));
    expect(log.hasUnsentEntries()).toBe(true);
    expect(indexesOf(log.takeUnsentEntries())).toEqual([3]);
    log.append(entriesOf([2, 2], 4));
    expect(indexesOf(log.takeUnsentEntries())).toEqual([4, 5]);
    expect(log.hasUnsentEntries()).toBe(false);
  });

  it('after a restored snapshot, the entries that follow it are handed out for persisting (Raft §7)', () => {
    const log = new RaftLog(BOOT, entriesOf([1, 1]), 1);
    log.restore({ meta: { index: 9, term: 3, config: CONFIG }, data: enc('image') });
    expect(log.maybeAppend(9, 3, 9, entriesOf([3, 3], 10))).toBe(11);
    expect(log.hasUnsentEntries()).toBe(true);
    expect(indexesOf(log.takeUnsentEntries())).toEqual([10, 11]);
  });

  it('the durable mark and the applied mark never go back on a late acknowledgement of an earlier write', () => {
    const log = new RaftLog(BOOT, [], 0);
    log.append(entriesOf([1, 1, 1]));
    log.takeUnsentEntries();
    log.stableTo(3, 1);
    log.stableTo(2, 1); // an earlier batch's acknowledgement arriving last
    expect(log.stableIndex).toBe(3);
    log.commitTo(3);
    log.takeNextCommitted(Number.MAX_SAFE_INTEGER);
    log.appliedTo(3);
    log.appliedTo(2);
    expect(log.applied).toBe(3);
  });

  it('a second compaction keeps exactly the entries after its snapshot point, in place (Raft §7)', () => {
    const log = new RaftLog(BOOT, entriesOf([1, 1, 2, 2, 3, 3]), 6);
    log.takeNextCommitted(Number.MAX_SAFE_INTEGER);
    log.appliedTo(6);
    log.compact({ index: 2, term: 1, config: CONFIG });
    log.compact({ index: 4, term: 2, config: CONFIG });
    expect(log.firstIndex()).toBe(5);
    expect(log.lastIndex()).toBe(6);
    expect(log.entryAt(5).term).toBe(3);
    expect(log.term(4)).toBe(2);
    expect(log.term(6)).toBe(3);
    // New entries after the compacted log are handed out for persisting from where the last take stopped.
    log.append(entriesOf([3], 7));
    expect(indexesOf(log.takeUnsentEntries())).toEqual([7]);
  });

  it('compaction keeps a configuration entry after the snapshot point as the current configuration (thesis §4.1)', () => {
    const log = new RaftLog(BOOT, [...entriesOf([1, 1]), configEntry(3, 1, ['a', 'b', 'c', 'd'])], 3);
    log.takeNextCommitted(Number.MAX_SAFE_INTEGER);
    log.appliedTo(3);
    log.compact({ index: 2, term: 1, config: CONFIG });
    expect(log.config().voters).toEqual(['a', 'b', 'c', 'd']);
    expect(log.configIndex()).toBe(3);
    expect(log.configAt(2).voters).toEqual(['a', 'b', 'c']);
    expect(log.configAt(3).voters).toEqual(['a', 'b', 'c', 'd']);
  });

  it('a compaction at the current snapshot point is a no-op, even before a restored snapshot has been applied (Raft §7)', () => {
    // The host's own snapshot at the same index as the leader's may finish writing after the leader's was restored.
    const log = new RaftLog(BOOT, entriesOf([1, 1]), 1);
    log.restore({ meta: { index: 9, term: 3, config: CONFIG }, data: enc('image') });
    expect(log.applied).toBe(0);
    log.compact({ index: 9, term: 3, config: CONFIG });
    expect(log.snapshot.index).toBe(9);
    expect(log.firstIndex()).toBe(10);
  });

  it('after a restored snapshot, the configuration at and after its index is the snapshot\'s (Raft §7: the snapshot carries it)', () => {
    const log = new RaftLog(BOOT, [...entriesOf([1]), configEntry(2, 1, ['a', 'b', 'c', 'd'])], 1);
    log.restore({ meta: { index: 9, term: 3, config: CONFIG }, data: enc('image') });
    expect(log.configAt(9)).toEqual(CONFIG);
    expect(log.configAt(12)).toEqual(CONFIG);
  });
});
