/**
 * The read views (src/locks/read-views.ts) the GET routes and the CLI show:
 * a bounded list of locks is the first names in name order, whatever order
 * the locks were taken in, and a lock's queue shows each waiter's own terms.
 */
import { describe, expect, it } from 'vitest';
import { Driver, S, X } from './helpers.js';

describe('list', () => {
  it('returns the first `limit` names in name order, whatever order the locks were taken in', () => {
    const d = new Driver();
    for (const n of ['e', 'd', 'Z', 'c', 'b', 'a', '0']) d.apply(X(n, 'o'));
    const names = (limit: number, after?: string): string[] => d.table.list('', limit, after).map((v) => v.name);
    // Code unit order: digits, then capitals, then lower case.
    expect(names(2)).toEqual(['0', 'Z']);
    expect(names(3, 'Z')).toEqual(['a', 'b', 'c']);
    expect(names(3, 'c')).toEqual(['d', 'e']);
    expect(names(100)).toEqual(['0', 'Z', 'a', 'b', 'c', 'd', 'e']);
  });
});

describe('waiters', () => {
  it('is empty for a lock that is held but has no queue', () => {
    const d = new Driver();
    d.apply(X('L', 'a'));
    expect(d.table.get('L')).toMatchObject({ waiters: 0 });
    expect(d.table.waiters('L', 10)).toEqual([]);
  });

  it('shows the semaphore limit a shared waiter asked for, and none for an exclusive one', () => {
    const d = new Driver();
    d.apply(S('L', 'a', { limit: 1 }));
    d.apply(S('L', 'b', { limit: 1, waitMs: 5_000 }));
    d.apply(X('L', 'c', { waitMs: 4_000 }));
    const at = d.timeMs;
    expect(d.table.waiters('L', 10)).toEqual([
      { owner: 'b', mode: 'shared', deadlineMs: at + 5_000, limit: 1 },
      { owner: 'c', mode: 'exclusive', deadlineMs: at + 4_000 },
    ]);
  });
});
