/**
 * ElectionHistory on its own: which changes of a followed election it can
 * list after an index, and when it must say it cannot (null).
 */
import { describe, expect, it } from 'vitest';
import { LockWatches } from '../../src/node/lock-watches.js';
import { ElectionHistory, type LeaderState } from '../../src/server/election-history.js';

const leader = (owner: string, token: number, value: string): LeaderState => ({ owner, token, value, expiresAtMs: 0 });

describe('ElectionHistory', () => {
  it('lists each change after an index in order, skipping touches that changed no leader', () => {
    const watches = new LockWatches({ maxWatches: 10, maxTrackedNames: 100 });
    const history = new ElectionHistory(watches, { electionsMax: 4, changesMax: 8 });
    let now: LeaderState | null = null;
    history.follow('e', 1, () => now);
    now = leader('a', 2, 'x');
    watches.noteApplied(2, ['e']);
    watches.noteApplied(3, ['e']); // a renewal: same leader
    now = leader('a', 2, 'y');
    watches.noteApplied(4, ['e']);
    now = null;
    watches.noteApplied(5, ['e']);
    expect(history.changesAfter('e', 1)?.map((c) => [c.index, c.leader?.value ?? null])).toEqual([
      [2, 'x'],
      [4, 'y'],
      [5, null],
    ]);
    expect(history.changesAfter('e', 4)?.map((c) => c.index)).toEqual([5]);
    expect(history.changesAfter('e', 5)).toEqual([]);
    // Before it followed, it cannot tell.
    expect(history.changesAfter('e', 0)).toBeNull();
    expect(history.changesAfter('other', 3)).toBeNull();
  });

  it('answers null once it dropped changes an observer has not seen, and forgets everything on a snapshot install', () => {
    const watches = new LockWatches({ maxWatches: 10, maxTrackedNames: 100 });
    const history = new ElectionHistory(watches, { electionsMax: 4, changesMax: 2 });
    let token = 0;
    history.follow('e', 1, () => leader('a', token, 'v'));
    for (let i = 2; i <= 5; i++) {
      token = i;
      watches.noteApplied(i, ['e']);
    }
    expect(history.changesAfter('e', 1)).toBeNull();
    expect(history.changesAfter('e', 4)?.map((c) => c.index)).toEqual([5]);
    watches.reset(9);
    expect(history.changesAfter('e', 5)).toBeNull();
    expect(watches.watching).toBe(0);
  });

  it('follows at most electionsMax elections, dropping the least recently read', () => {
    const watches = new LockWatches({ maxWatches: 10, maxTrackedNames: 100 });
    const history = new ElectionHistory(watches, { electionsMax: 2, changesMax: 8 });
    history.follow('a', 1, () => null);
    history.follow('b', 1, () => null);
    history.follow('a', 1, () => null); // read again: now b is the oldest
    history.follow('c', 1, () => null);
    expect(watches.watching).toBe(2);
    expect(history.changesAfter('b', 1)).toBeNull();
    expect(history.changesAfter('a', 1)).toEqual([]);
    history.close();
    expect(watches.watching).toBe(0);
  });
});
