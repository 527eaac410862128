import { RaftNode, type DurableState, type RaftConfig } from '../../src/raft/index.js';
import type { NodeFactory } from './cluster.js';

/**
 * Broken variants of the core and the host, to show the simulation can find
 * the bugs the Raft paper warns about. Test code only: never imported by src.
 */

/** VoteWithoutLogCheck grants votes to any candidate: drops the Raft §5.4.1 election restriction. */
export class VoteWithoutLogCheck extends RaftNode {
  protected override isLogUpToDate(_lastIndex: number, _lastTerm: number): boolean {
    return true;
  }
}

/** CommitEarlierTerms commits by counting replicas for entries of earlier terms: the Raft Figure 8 bug (§5.4.2). */
export class CommitEarlierTerms extends RaftNode {
  protected override canCommitAt(_index: number): boolean {
    return true;
  }
}

/** VariantName selects the correct system or one broken variant. */
export type VariantName = 'correct' | 'vote-without-log-check' | 'commit-earlier-terms' | 'send-before-durable';

/** VARIANT_NAMES lists every variant, correct first. */
export const VARIANT_NAMES: readonly VariantName[] = ['correct', 'vote-without-log-check', 'commit-earlier-terms', 'send-before-durable'];

/** Variant is how the cluster builds nodes and whether its host sends a Ready's messages before the write is durable. */
export interface Variant {
  readonly createNode: NodeFactory;
  readonly sendBeforeDurable: boolean;
}

/** variant returns the node factory and host behaviour for a variant name. */
export function variant(name: VariantName): Variant {
  switch (name) {
    case 'correct':
      return { createNode: (c: RaftConfig, d: DurableState) => new RaftNode(c, d), sendBeforeDurable: false };
    case 'vote-without-log-check':
      return { createNode: (c, d) => new VoteWithoutLogCheck(c, d), sendBeforeDurable: false };
    case 'commit-earlier-terms':
      return { createNode: (c, d) => new CommitEarlierTerms(c, d), sendBeforeDurable: false };
    case 'send-before-durable':
      // (c) is a host bug: the core is correct, the host loop breaks "persist, then send".
      return { createNode: (c, d) => new RaftNode(c, d), sendBeforeDurable: true };
  }
}

/** isVariantName narrows a string (e.g. from SIM_VARIANT). */
export function isVariantName(s: string): s is VariantName {
  return (VARIANT_NAMES as readonly string[]).includes(s);
}
