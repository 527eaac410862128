export * from './types.js';
export { RaftNode } from './raft-node.js';
export { SeededRandom } from './seeded-random.js';
export { DEFAULT_LIMITS, bootstrapState } from './defaults.js';
export { InvariantError, assert } from './invariant.js';
export { entryBytes } from './raft-log.js';
