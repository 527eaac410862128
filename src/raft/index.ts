export * from './types.js';
export { RaftNode } from './raft-node.js';
export { SeededRandom } from './seeded-random.js';
export { DEFAULT_LIMITS, bootstrapState, joiningState } from './defaults.js';
export { InvariantError, assert } from './invariant.js';
export { entryBytes } from './raft-log.js';
export {
  UNKNOWN_CONFIG,
  bootstrapConfig,
  changedConfig,
  checkConfState,
  confStateProblem,
  isKnownConfig,
  isLearnerIn,
  isMemberOf,
  isVoterIn,
  makeConfig,
  memberIds,
  recordOf,
  votersMoved,
} from './configuration.js';
