import type { Session } from './session.js';
import type { HoldOptions } from './types.js';

/**
 * AcquireOptions shape one RaftLockClient.acquire; give `ttlMs` or `session`,
 * not both. They live apart from types.ts because they name Session, which
 * itself needs types.ts: kept there, the two files imported each other.
 */
export interface AcquireOptions extends HoldOptions {
  /** Lease of the hold, renewed automatically every ttlMs/3 until release. Default 15 000 (ignored with `session`). */
  readonly ttlMs?: number;
  /** Hold the lock under this session: no per-lock lease; it lives as long as the session. */
  readonly session?: Session;
}
