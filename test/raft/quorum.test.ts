import { describe, expect, it } from 'vitest';
import { committedIndex, hasQuorum, majority, tallyVotes } from '../../src/raft/quorum.js';
import { InvariantError } from '../../src/raft/index.js';

describe('quorum arithmetic (Raft §5.2, §5.3)', () => {
  it('a majority of n voters is floor(n/2) + 1', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(majority)).toEqual([1, 2, 2, 3, 3, 4, 4]);
    expect(() => majority(0)).toThrow(InvariantError);
  });

  it('committedIndex is the highest index matched by a majority of voters (the majority-th largest match)', () => {
    const of = (m: Record<string, number>) => (id: string) => m[id] ?? 0;
    expect(committedIndex(['a', 'b', 'c'], of({ a: 5, b: 3, c: 1 }))).toBe(3);
    expect(committedIndex(['a', 'b', 'c', 'd', 'e'], of({ a: 9, b: 1, c: 7, d: 3, e: 5 }))).toBe(5);
    expect(committedIndex(['a', 'b', 'c', 'd'], of({ a: 4, b: 3, c: 2, d: 1 }))).toBe(2); // 3 of 4 needed
    expect(committedIndex(['a', 'b', 'c'], of({ a: 7 }))).toBe(0); // unknown matches count as 0
    expect(committedIndex(['a'], of({ a: 4 }))).toBe(4);
    // Non-voters never count: only the ids passed as voters are consulted.
    expect(committedIndex(['a', 'b', 'c'], of({ a: 5, x: 5, y: 5 }))).toBe(0);
  });

  it('tallyVotes wins with a majority of grants, loses once a majority is out of reach, and ignores non-voters', () => {
    const five = ['a', 'b', 'c', 'd', 'e'];
    const votes = (entries: [string, boolean][]) => new Map(entries);
    expect(tallyVotes(five, votes([['a', true], ['b', true]]))).toBe('pending');
    expect(tallyVotes(five, votes([['a', true], ['b', true], ['c', true]]))).toBe('won');
    expect(tallyVotes(five, votes([['a', true], ['b', false], ['c', false]]))).toBe('pending');
    expect(tallyVotes(five, votes([['a', true], ['b', false], ['c', false], ['d', false]]))).toBe('lost');
    expect(tallyVotes(five, votes([['a', true], ['x', true], ['y', true]]))).toBe('pending');
    expect(tallyVotes(['a'], votes([['a', true]]))).toBe('won');
    expect(tallyVotes(['a', 'b'], votes([['a', true], ['b', false]]))).toBe('lost');
  });

  it('hasQuorum counts only voters', () => {
    expect(hasQuorum(['a', 'b', 'c'], new Set(['a', 'b']))).toBe(true);
    expect(hasQuorum(['a', 'b', 'c'], new Set(['a', 'x', 'y']))).toBe(false);
    expect(hasQuorum(['a', 'b', 'c', 'd'], new Set(['a', 'b']))).toBe(false);
  });
});
