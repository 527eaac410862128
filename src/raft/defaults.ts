import type { DurableState, NodeId, RaftConfig } from './types.js';
import { assert } from './invariant.js';

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
};

/** bootstrapState is the durable state of a brand-new member: an empty log after a virtual snapshot at index 0 naming the voters. */
export function bootstrapState(voters: readonly NodeId[]): DurableState {
  assert(voters.length > 0, 'a cluster needs at least one voter');
  assert(new Set(voters).size === voters.length, 'voter ids must be unique');
  return {
    hardState: { term: 0, vote: null, commit: 0 },
    snapshotMeta: { index: 0, term: 0, config: { voters: [...voters] } },
    entries: [],
  };
}
