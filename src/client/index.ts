/** The public face of the raftlock client library. */
export { RaftLockClient, DEFAULT_LOCK_TTL_MS } from './raft-lock-client.js';
export { LockHandle } from './lock-handle.js';
export { Leadership } from './leadership.js';
export { Session } from './session.js';
export {
  RaftLockClientError,
  LockHeldError,
  NotHolderError,
  LimitMismatchError,
  NoLeaderError,
  UnavailableError,
  OutcomeUnknownError,
  SessionNotFoundError,
  BadRequestError,
  UnauthorizedError,
  ForbiddenError,
  TimeoutError,
  LockLostError,
  SessionLostError,
  type HolderInfo,
} from './errors.js';
export type { AcquireOptions, CampaignOptions } from './acquire-options.js';
export type {
  RaftLockClientOptions,
  HoldOptions,
  SessionOptions,
  CallSignal,
  LockMode,
  LockInfo,
  ListOptions,
  CheckResult,
  ForceReleaseResult,
  NodeStatus,
  EndpointStatus,
  LockWatchEvent,
  LockListWatchEvent,
  WatchOptions,
  LeaderInfo,
  LostSignal,
} from './types.js';
