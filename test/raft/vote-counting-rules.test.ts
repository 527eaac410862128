import { describe, expect, it } from 'vitest';
import type { NodeId, RaftNode } from '../../src/raft/index.js';
import { cycle, entriesOf, standaloneNode } from './harness.js';

/**
 * How a (pre-)candidate counts the answers to its campaign (Raft §5.2; PreVote, thesis §9.6): each voter's first
 * answer in a campaign is its answer. A network may duplicate a RequestVote, and the voter answers the copy from
 * its state at that moment: a voter that granted may refuse the copy (its log grew from another leader of the term,
 * or, for a pre-vote, it has since heard of a leader), and one that refused because it knew the term's leader may
 * grant the copy after it stopped following that leader. A later answer neither takes back nor adds a vote
 * (etcd's raft counts the first vote of each voter the same way).
 */

const VANILLA = { preVote: false, checkQuorum: false };
const ABCDE: NodeId[] = ['a', 'b', 'c', 'd', 'e'];

/** candidateAt makes a standalone 'a' campaign (tick until it does) and returns it with its campaign's term. */
function candidateAt(voters: NodeId[], overrides: { preVote: boolean; checkQuorum: boolean }): { a: RaftNode; term: number } {
  const a = standaloneNode('a', voters, { term: 3, entries: entriesOf([1, 3]) }, overrides);
  for (let i = 0; i < 100 && a.role === 'follower'; i++) a.tick();
  cycle(a);
  return { a, term: overrides.preVote ? a.term + 1 : a.term };
}

describe('counting votes: the first answer of each voter counts (Raft §5.2)', () => {
  it('a refusal after a grant from the same voter does not take the grant back', () => {
    const { a, term } = candidateAt(ABCDE, VANILLA);
    expect(a).toMatchObject({ role: 'candidate', term: 4 });
    a.step({ type: 'voteResponse', from: 'b', to: 'a', term, reject: false });
    a.step({ type: 'voteResponse', from: 'b', to: 'a', term, reject: true }); // b's answer to a duplicated RequestVote
    a.step({ type: 'voteResponse', from: 'c', to: 'a', term, reject: false });
    // a, b and c: 3 of 5 voters granted.
    expect(a).toMatchObject({ role: 'leader', term: 4 });
  });

  it('a grant after a refusal from the same voter does not count: the refusal was its answer', () => {
    const { a, term } = candidateAt(['a', 'b', 'c'], VANILLA);
    expect(a).toMatchObject({ role: 'candidate', term: 4 });
    a.step({ type: 'voteResponse', from: 'b', to: 'a', term, reject: true });
    a.step({ type: 'voteResponse', from: 'b', to: 'a', term, reject: false });
    // Only a's own vote counts so far; c has not answered: the election is still open.
    expect(a).toMatchObject({ role: 'candidate', term: 4, vote: 'a' });
    a.step({ type: 'voteResponse', from: 'c', to: 'a', term, reject: false });
    expect(a).toMatchObject({ role: 'leader', term: 4 });
  });

  it('pre-votes count the same way: a later refusal from a voter that granted changes nothing (thesis §9.6)', () => {
    const { a, term } = candidateAt(ABCDE, { preVote: true, checkQuorum: true });
    expect(a).toMatchObject({ role: 'preCandidate', term: 3 });
    a.step({ type: 'preVoteResponse', from: 'b', to: 'a', term, reject: false });
    // A refusal carries the voter's own term, here ours: b answered a duplicated pre-vote after its log grew past ours.
    a.step({ type: 'preVoteResponse', from: 'b', to: 'a', term: a.term, reject: true });
    a.step({ type: 'preVoteResponse', from: 'c', to: 'a', term, reject: false });
    // a, b and c: 3 of 5 pre-votes won, so a campaigns for real at term 4.
    expect(a).toMatchObject({ role: 'candidate', term: 4, vote: 'a' });
  });
});
