import type { NodeId } from './types.js';
import { assert } from './invariant.js';

/** majority is the size of a quorum of n voters (Raft §5.2). */
export function majority(voterCount: number): number {
  assert(voterCount > 0, 'a configuration needs at least one voter');
  return Math.floor(voterCount / 2) + 1;
}

/**
 * committedIndex is the highest index replicated on a majority: the
 * majority-th largest match index among voters (Raft §5.3, §5.4). Voters with
 * no known match count as 0.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[majority(voters.length) - 1]!;
}

/** VoteResult is the outcome of an election tally so far. */
export type VoteResult = 'won' | 'lost' | 'pending';

/** tallyVotes decides an election from the answers received (grants and rejects) among voters. */
export function tallyVotes(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const need = majority(voters.length);
  if (granted >= need) return 'won';
  if (rejected > voters.length - need) return 'lost';
  return 'pending';
}

/** hasQuorum says whether the given set covers a majority of voters. */
export function hasQuorum(voters: readonly NodeId[], members: ReadonlySet<NodeId>): boolean {
  let count = 0;
  for (const id of voters) if (members.has(id)) count++;
  return count >= majority(voters.length);
}
