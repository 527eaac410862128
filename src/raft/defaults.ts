import type { DurableState, NodeId, RaftConfig } from './types.js';
import { UNKNOWN_CONFIG, bootstrapConfig } from './configuration.js';

/**
 * DEFAULT_LIMITS are the core's timing and bounds. With a 50 ms tick an
 * election timeout is 500-1000 ms and heartbeats go out every 50 ms.
 */
export const DEFAULT_LIMITS: Omit<RaftConfig, 'id' | 'random'> = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  maxAppendBytes: 1024 * 1024,
  maxInflightAppends: 256,
  maxUncommittedBytes: 64 * 1024 * 1024,
  maxApplyBytes: 4 * 1024 * 1024,
  maxPendingReads: 10_000,
  // About a second of a busy leader's appends: a learner this close catches up within an election timeout of becoming a voter.
  maxPromoteLagEntries: 1_000,
};

/** bootstrapState is the durable state of a brand-new member: an empty log after a virtual snapshot at index 0 naming the voters. */
export function bootstrapState(voters: readonly NodeId[]): DurableState {
  return {
    hardState: { term: 0, vote: null, commit: 0 },
    snapshotMeta: { index: 0, term: 0, config: bootstrapConfig(voters) },
    entries: [],
  };
}

/**
 * joiningState is the durable state of a member that an existing cluster is adding: an empty log whose configuration
 * is unknown until the leader's snapshot or log arrives. Such a member only ever starts with an empty store; it never
 * campaigns or votes before it holds a configuration that makes it a voter.
 */
export function joiningState(): DurableState {
  return {
    hardState: { term: 0, vote: null, commit: 0 },
    snapshotMeta: { index: 0, term: 0, config: UNKNOWN_CONFIG },
    entries: [],
  };
}
