import { describe, expect, it } from 'vitest';
import {
  InvariantError,
  UNKNOWN_CONFIG,
  bootstrapConfig,
  changedConfig,
  confStateProblem,
  isKnownConfig,
  isMemberOf,
  makeConfig,
  memberIds,
  recordOf,
  votersMoved,
  type ConfState,
  type MemberRecord,
} from '../../src/raft/index.js';

/**
 * Configurations as values (thesis §4): their canonical form, the shape rules a peer's configuration is checked
 * against (src/transport/message-shape.ts), and what each single-server change makes of one (thesis §4.1).
 */

const record = (id: string): MemberRecord => ({ id, peerAddress: `${id}.example:7000`, httpUrl: `http://${id}.example:8080` });
const conf = (voters: string[], learners: string[] = [], members: MemberRecord[] = []): ConfState => ({ voters, learners, members });

describe('canonical form', () => {
  it('makeConfig sorts voters, learners and address records by id, so equal configurations compare equal everywhere', () => {
    const c = makeConfig(['c', 'a', 'b'], ['e', 'd'], [record('e'), record('b'), record('d')]);
    expect(c).toEqual({ voters: ['a', 'b', 'c'], learners: ['d', 'e'], members: [record('b'), record('d'), record('e')] });
    expect(makeConfig(['a'], [], [record('a')]).members).toEqual([record('a')]);
  });

  it('a bootstrap configuration has its voters and nothing else; only an unknown configuration has no voters', () => {
    expect(bootstrapConfig(['b', 'a'])).toEqual({ voters: ['a', 'b'], learners: [], members: [] });
    expect(isKnownConfig(bootstrapConfig(['a']))).toBe(true);
    expect(isKnownConfig(UNKNOWN_CONFIG)).toBe(false);
  });

  it('memberIds lists voters and learners together in id order; recordOf finds a member\'s address record', () => {
    const c = makeConfig(['b', 'd'], ['a', 'c'], [record('c')]);
    expect(memberIds(c)).toEqual(['a', 'b', 'c', 'd']);
    expect(recordOf(c, 'c')).toEqual(record('c'));
    expect(recordOf(c, 'b')).toBeUndefined();
    expect(isMemberOf(c, 'a')).toBe(true);
    expect(isMemberOf(c, 'b')).toBe(true);
    expect(isMemberOf(c, 'x')).toBe(false);
  });
});

describe('shape rules for a configuration a peer sends (confStateProblem)', () => {
  it('a well-formed configuration has no problem, learners and records included', () => {
    expect(confStateProblem(conf(['a', 'b'], ['c'], [record('a'), record('c')]))).toBeNull();
    expect(confStateProblem(UNKNOWN_CONFIG)).toBeNull();
  });

  it('ids must be non-empty, in each list and in the records; the problem names the list', () => {
    expect(confStateProblem(conf(['a', '']))).toBe('an empty id among the voters');
    expect(confStateProblem(conf(['a'], ['']))).toBe('an empty id among the learners');
    expect(confStateProblem(conf(['a'], [], [record('')]))).toBe('an empty id among the member records');
  });

  it('ids must be sorted and unique: an unsorted or repeated id is refused, in each list', () => {
    expect(confStateProblem(conf(['b', 'a']))).toBe('voters not sorted and unique: b,a');
    expect(confStateProblem(conf(['a', 'a']))).toBe('voters not sorted and unique: a,a');
    expect(confStateProblem(conf(['a'], ['c', 'b']))).toBe('learners not sorted and unique: c,b');
    expect(confStateProblem(conf(['a', 'b'], [], [record('b'), record('a')]))).toBe('member records not sorted and unique: b,a');
    // Sorted and unique further along too: the check covers every neighbouring pair, not only the first.
    expect(confStateProblem(conf(['a', 'b', 'c', 'c']))).toBe('voters not sorted and unique: a,b,c,c');
  });

  it('a malformed configuration is never built: makeConfig fails loudly rather than store it', () => {
    expect(() => makeConfig(['a', 'a'], [], [])).toThrow(InvariantError);
    expect(() => makeConfig(['a'], ['a'], [])).toThrow(/a is both a voter and a learner/);
    expect(() => makeConfig(['a'], [], [record('b')])).toThrow(InvariantError);
  });

  it('voters and learners are disjoint, and a record may only name a member', () => {
    expect(confStateProblem(conf(['a', 'b'], ['b']))).toBe('b is both a voter and a learner');
    expect(confStateProblem(conf(['a'], ['c'], [record('b')]))).toBe('a record for b, which is not a member');
  });
});

describe('single-server changes (thesis §4.1)', () => {
  const base = makeConfig(['a', 'b', 'c'], ['d'], [record('d')]);

  it('addLearner adds a non-voter with its address record; an existing member is refused', () => {
    const next = changedConfig(base, { type: 'addLearner', ...record('e') });
    expect(next).toEqual({ voters: ['a', 'b', 'c'], learners: ['d', 'e'], members: [record('d'), record('e')] });
    expect(changedConfig(base, { type: 'addLearner', ...record('a') })).toBe('already_member');
    expect(changedConfig(base, { type: 'addLearner', ...record('d') })).toBe('already_member');
  });

  it('promote moves a learner to the voters and keeps its record; a voter or a stranger is refused', () => {
    expect(changedConfig(base, { type: 'promote', id: 'd' })).toEqual({ voters: ['a', 'b', 'c', 'd'], learners: [], members: [record('d')] });
    expect(changedConfig(base, { type: 'promote', id: 'a' })).toBe('not_learner');
    expect(changedConfig(base, { type: 'promote', id: 'x' })).toBe('unknown_member');
  });

  it('remove drops a voter or a learner with its record; the last voter stays, but a sole voter may still drop a learner', () => {
    expect(changedConfig(base, { type: 'remove', id: 'b' })).toEqual({ voters: ['a', 'c'], learners: ['d'], members: [record('d')] });
    expect(changedConfig(base, { type: 'remove', id: 'd' })).toEqual({ voters: ['a', 'b', 'c'], learners: [], members: [] });
    expect(changedConfig(base, { type: 'remove', id: 'x' })).toBe('unknown_member');
    const solo = makeConfig(['a'], ['d'], [record('d')]);
    expect(changedConfig(solo, { type: 'remove', id: 'a' })).toBe('last_voter');
    expect(changedConfig(solo, { type: 'remove', id: 'd' })).toEqual({ voters: ['a'], learners: [], members: [] });
  });

  it('votersMoved counts voters on either side only: a learner added or removed moves none, a promotion or removal one', () => {
    expect(votersMoved(base, base)).toBe(0);
    expect(votersMoved(conf(['a', 'b']), conf(['a', 'b'], ['c']))).toBe(0);
    expect(votersMoved(conf(['a', 'b']), conf(['a', 'b', 'c']))).toBe(1);
    expect(votersMoved(conf(['a', 'b', 'c']), conf(['a', 'b']))).toBe(1);
    expect(votersMoved(conf(['a', 'b']), conf(['c', 'd']))).toBe(4);
  });
});
