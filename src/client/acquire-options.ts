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

/**
 * CampaignOptions shape one RaftLockClient.campaign: the leadership's lease
 * (`ttlMs`, renewed automatically) or a `session`, and how long to wait for
 * it. `waitMs` defaults to waiting until elected or `signal` aborts.
 */
export interface CampaignOptions extends Pick<AcquireOptions, 'ttlMs' | 'session' | 'owner' | 'signal'> {
  /** How long to wait in line to be elected; default Infinity (until elected or aborted). */
  readonly waitMs?: number;
}
