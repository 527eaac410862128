import type { ConfChange, ConfState, MemberRecord, NodeId } from './types.js';
import { assert } from './invariant.js';

/**
 * Configurations as values (thesis §4): building, checking, querying and changing a ConfState. Pure functions over
 * immutable values; the leader's rules for when a change may be proposed live in membership.ts.
 */

/**
 * UNKNOWN_CONFIG is a joining member's configuration until the leader's log or snapshot tells it the real one. It has
 * no voters, so the member neither campaigns nor grants votes meanwhile; it never leads, so it never counts a majority
 * of it.
 */
export const UNKNOWN_CONFIG: ConfState = Object.freeze({ voters: [], learners: [], members: [] });

/** ConfChangeConflict is why a change does not fit a configuration (the leader's other refusals are in membership.ts). */
export type ConfChangeConflict = 'unknown_member' | 'already_member' | 'not_learner' | 'last_voter';

/** bootstrapConfig is the configuration of a new cluster: these voters, no learners, addresses from the command line. */
export function bootstrapConfig(voters: readonly NodeId[]): ConfState {
  assert(voters.length > 0, 'a cluster needs at least one voter');
  return makeConfig(voters, [], []);
}

/** makeConfig builds a configuration in canonical form (ids and records sorted) and checks it. */
export function makeConfig(voters: readonly NodeId[], learners: readonly NodeId[], members: readonly MemberRecord[]): ConfState {
  const config: ConfState = {
    voters: [...voters].sort(),
    learners: [...learners].sort(),
    members: [...members].sort(
      (a, b) =>
        a.id < b.id ? -1 :
        // Stryker disable next-line ConditionalExpression,EqualityOperator: V8's sort (TimSort) only asks whether the answer is negative, so 1 and 0 order alike
        a.id > b.id ? 1 : 0,
    ),
  };
  checkConfState(config);
  return config;
}

/** checkConfState asserts a configuration's shape (see confStateProblem). */
export function checkConfState(c: ConfState): void {
  const problem = confStateProblem(c);
  assert(problem === null, () => `malformed configuration: ${problem}`);
}

/**
 * confStateProblem says what is wrong with a configuration's shape, or null: ids must be non-empty, sorted and unique,
 * voters and learners disjoint, and a record may only name a member. The transport checks what peers send with it.
 */
export function confStateProblem(c: ConfState): string | null {
  const problem =
    sortedUniqueProblem(c.voters, 'voters') ??
    sortedUniqueProblem(c.learners, 'learners') ??
    sortedUniqueProblem(
      c.members.map((m) => m.id),
      'member records',
    );
  if (problem !== null) return problem;
  for (const id of c.learners) if (c.voters.includes(id)) return `${id} is both a voter and a learner`;
  for (const m of c.members) if (!isMemberOf(c, m.id)) return `a record for ${m.id}, which is not a member`;
  return null;
}

function sortedUniqueProblem(ids: readonly NodeId[], what: string): string | null {
  for (let i = 0; i < ids.length; i++) {
    if (ids[i]!.length === 0) return `an empty id among the ${what}`;
    if (i > 0 && ids[i - 1]! >= ids[i]!) return `${what} not sorted and unique: ${ids.join(',')}`;
  }
  return null;
}

/** isKnownConfig is false only for a joining member that has not yet learned the cluster's configuration. */
export function isKnownConfig(c: ConfState): boolean {
  return c.voters.length > 0;
}

export function isVoterIn(c: ConfState, id: NodeId): boolean {
  return c.voters.includes(id);
}

export function isLearnerIn(c: ConfState, id: NodeId): boolean {
  return c.learners.includes(id);
}

export function isMemberOf(c: ConfState, id: NodeId): boolean {
  return isVoterIn(c, id) || isLearnerIn(c, id);
}

/** memberIds lists every voter and learner, sorted. */
export function memberIds(c: ConfState): NodeId[] {
  return [...c.voters, ...c.learners].sort();
}

/** recordOf is a member's address record, when the configuration has one. */
export function recordOf(c: ConfState, id: NodeId): MemberRecord | undefined {
  return c.members.find((m) => m.id === id);
}

/**
 * changedConfig is the configuration `change` makes of `c`, or why it does not fit. Each change moves at most one
 * voter (thesis §4.1: any majority of the old configuration then overlaps any majority of the new one).
 */
export function changedConfig(c: ConfState, change: ConfChange): ConfState | ConfChangeConflict {
  const id = change.id;
  switch (change.type) {
    case 'addLearner': {
      if (isMemberOf(c, id)) return 'already_member';
      const record: MemberRecord = { id, peerAddress: change.peerAddress, httpUrl: change.httpUrl };
      return makeConfig(c.voters, [...c.learners, id], [...c.members, record]);
    }
    case 'promote':
      if (!isMemberOf(c, id)) return 'unknown_member';
      if (!isLearnerIn(c, id)) return 'not_learner';
      return makeConfig([...c.voters, id], without(c.learners, id), c.members);
    case 'remove':
      if (!isMemberOf(c, id)) return 'unknown_member';
      if (isVoterIn(c, id) && c.voters.length === 1) return 'last_voter';
      return makeConfig(
        without(c.voters, id),
        without(c.learners, id),
        c.members.filter((m) => m.id !== id),
      );
  }
}

function without(ids: readonly NodeId[], id: NodeId): NodeId[] {
  return ids.filter((x) => x !== id);
}

/** votersMoved counts the voters in one configuration and not the other: at most 1 between consecutive configurations. */
export function votersMoved(a: ConfState, b: ConfState): number {
  let moved = 0;
  for (const id of a.voters) if (!b.voters.includes(id)) moved++;
  for (const id of b.voters) if (!a.voters.includes(id)) moved++;
  return moved;
}
