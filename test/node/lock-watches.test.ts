/**
 * LockWatches on its own: the modification index it reports (never below a
 * name's last change, never above the applied index, at least 1), what it
 * forgets within its bound, and which parked watches each applied entry wakes.
 */
import { describe, expect, it } from 'vitest';
import { LockWatches } from '../../src/node/lock-watches.js';

describe('modification indexes', () => {
  it('reports the last touch of a name, the largest of a prefix, and 1 before anything happened', () => {
    const w = new LockWatches({ maxWatches: 10, maxTrackedNames: 100 });
    expect(w.indexOf('a')).toBe(1);
    w.noteApplied(2, ['jobs/1']);
    w.noteApplied(3, ['a', 'jobs/2']);
    w.noteApplied(4, ['a']);
    expect(w.indexOf('a')).toBe(4);
    expect(w.indexOf('jobs/1')).toBe(2);
    expect(w.indexOfPrefix('jobs/')).toBe(3);
    expect(w.indexOfPrefix('nothing/')).toBe(1);
    expect(w.indexOf('never')).toBe(1);
  });

  it('folds forgotten names into a floor, so no forgotten change is reported below its index', () => {
    const w = new LockWatches({ maxWatches: 10, maxTrackedNames: 2 });
    w.noteApplied(5, ['x']);
    w.noteApplied(6, ['y']);
    w.noteApplied(7, ['z']); // forgets x (5)
    expect(w.indexOf('x')).toBe(5);
    expect(w.indexOf('never')).toBe(5);
    expect(w.indexOf('z')).toBe(7);
    w.noteApplied(8, ['x']); // forgets y (6)
    expect(w.indexOf('y')).toBe(6);
    expect(w.indexOfPrefix('')).toBe(8);
  });

  it('keeps evicting the oldest name after a snapshot install', () => {
    const w = new LockWatches({ maxWatches: 10, maxTrackedNames: 2 });
    w.noteApplied(2, ['a', 'b']);
    w.reset(10);
    w.noteApplied(11, ['c']);
    w.noteApplied(12, ['d']);
    w.noteApplied(13, ['c']);
    w.noteApplied(14, ['e']); // forgets d (12), the oldest left
    expect(w.indexOf('d')).toBe(12);
    expect(w.indexOf('c')).toBe(13);
    expect(w.indexOf('e')).toBe(14);
    expect(w.indexOfPrefix('')).toBe(14);
  });

  it('after a snapshot install reports its index for every name and wakes every watch', () => {
    const w = new LockWatches({ maxWatches: 10, maxTrackedNames: 100 });
    w.noteApplied(3, ['a']);
    const woken: number[] = [];
    w.park({ name: 'a' }, (i) => (woken.push(i), true));
    w.park({ prefix: 'p' }, (i) => (woken.push(i), true));
    w.reset(50);
    expect(woken).toEqual([50, 50]);
    expect(w.watching).toBe(0);
    expect(w.indexOf('a')).toBe(50);
    expect(w.indexOf('b')).toBe(50);
  });
});

describe('parked watches', () => {
  it('wakes the watches of the touched names and prefixes only, and keeps one whose wake says nothing changed', () => {
    const w = new LockWatches({ maxWatches: 10, maxTrackedNames: 100 });
    const log: string[] = [];
    w.park({ name: 'a' }, (i) => (log.push(`a@${i}`), true));
    w.park({ name: 'b' }, (i) => (log.push(`b@${i}`), true));
    w.park({ prefix: 'jobs/' }, (i) => (log.push(`jobs@${i}`), true));
    let renewals = 0;
    w.park({ name: 'c' }, () => (renewals++, false));
    w.noteApplied(2, ['a', 'jobs/9']);
    w.noteApplied(3, ['c']);
    w.noteApplied(4, ['c', 'a']);
    expect(log).toEqual(['a@2', 'jobs@2']);
    expect(renewals).toBe(2);
    expect(w.watching).toBe(2);
  });

  it('refuses a watch beyond maxWatches, and a watch that left frees its place', () => {
    const w = new LockWatches({ maxWatches: 2, maxTrackedNames: 100 });
    const leave = w.park({ name: 'a' }, () => true);
    expect(w.park({ prefix: '' }, () => true)).not.toBeNull();
    expect(w.park({ name: 'b' }, () => true)).toBeNull();
    leave!();
    leave!();
    expect(w.watching).toBe(1);
    expect(w.park({ name: 'b' }, () => true)).not.toBeNull();
  });
});

describe('rules a blocking read relies on', () => {
  it('refuses bounds that could hold no name', () => {
    expect(() => new LockWatches({ maxWatches: 1, maxTrackedNames: 0 })).toThrow(/bad watch bounds/);
    expect(() => new LockWatches({ maxWatches: -1, maxTrackedNames: 1 })).toThrow(/bad watch bounds/);
  });

  it('an entry that touched no name moves no index, so a read of every lock does not return without a change', () => {
    const w = new LockWatches({ maxWatches: 10, maxTrackedNames: 100 });
    w.noteApplied(2, ['a']);
    w.noteApplied(3, []); // a no-op or an expiry that removed nothing
    expect(w.indexOfPrefix('')).toBe(2);
    expect(w.indexOfPrefix('a')).toBe(2);
  });

  it('tells a watch woken by an applied entry that the table was not replaced, and one woken by a snapshot install that it was', () => {
    // election-history.ts forgets a followed election only on reset: a wrong flag loses or keeps history wrongly.
    const w = new LockWatches({ maxWatches: 10, maxTrackedNames: 100 });
    const calls: string[] = [];
    w.park({ name: 'a' }, (i, reset) => (calls.push(`a@${i}:${reset}`), false));
    w.park({ prefix: 'p/' }, (i, reset) => (calls.push(`p@${i}:${reset}`), false));
    w.noteApplied(4, ['a', 'p/1']);
    expect(calls).toEqual(['a@4:false', 'p@4:false']);
    w.reset(9);
    expect(calls.slice(2).sort()).toEqual(['a@9:true', 'p@9:true']);
  });

  it('indexes never go back: a reset at an index below the floor keeps the floor', () => {
    const w = new LockWatches({ maxWatches: 10, maxTrackedNames: 1 });
    w.noteApplied(7, ['x']);
    w.noteApplied(8, ['y']); // forgets x: floor 7
    w.reset(5);
    expect(w.indexOf('x')).toBe(7);
    expect(w.indexOfPrefix('')).toBe(8);
  });

  it('wakes every watch parked on one name, and one leaving keeps the others parked', () => {
    const w = new LockWatches({ maxWatches: 10, maxTrackedNames: 100 });
    const woken: string[] = [];
    w.park({ name: 'a' }, () => (woken.push('first'), true));
    const leaveSecond = w.park({ name: 'a' }, () => (woken.push('second'), true))!;
    w.park({ name: 'a' }, () => (woken.push('third'), true));
    leaveSecond();
    expect(w.watching).toBe(2);
    w.noteApplied(2, ['a']);
    expect(woken).toEqual(['first', 'third']);
    expect(w.watching).toBe(0);
  });

  it('a prefix watch that left twice frees one place only, and is not woken', () => {
    const w = new LockWatches({ maxWatches: 10, maxTrackedNames: 100 });
    let woken = 0;
    const leave = w.park({ prefix: 'p/' }, () => (woken++, true))!;
    w.park({ prefix: 'p/' }, () => true);
    leave();
    leave();
    expect(w.watching).toBe(1);
    w.noteApplied(2, ['p/1']);
    expect(woken).toBe(0);
    expect(w.watching).toBe(0);
  });
});
