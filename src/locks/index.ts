/**
 * The lease table: raftlock's pure, deterministic lock state machine.
 * See lease-table.ts for the semantics and types.ts for the vocabulary.
 */
export { CHECKPOINT_SESSIONS_MAX, LeaseTable, MAX_HOLDERS_IN_RESULT, MAX_HOLD_COUNT, MAX_LIST_LIMIT } from './lease-table.js';
export { DEFAULT_LEASE_TABLE_LIMITS, checkLimits, type LeaseTableLimits } from './limits.js';
export { READABLE_SNAPSHOT_FORMATS, SNAPSHOT_FORMAT, SnapshotCorruptError } from './snapshot-codec.js';
export { SNAPSHOT_STEP_RECORDS, SnapshotEncoder } from './snapshot-encoder.js';
export { validateCommand } from './validate-command.js';
export { InvariantError } from '../raft/invariant.js';
export type * from './types.js';
