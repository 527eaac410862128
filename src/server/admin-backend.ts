import type { HandOffResult } from '../node/leader-hand-off.js';
import type { NodeId } from '../raft/index.js';
import type { BackupImage } from '../storage/index.js';

/**
 * AdminBackend is what the operator routes (admin-routes.ts) need of a
 * member beyond the lock API: hand leadership over, and take a consistent
 * backup. Only a real member has one (raft-admin-backend.ts); the client
 * tests' in-process nodes serve no admin routes.
 */
export interface AdminBackend {
  /** transferLeadership hands leadership to `to` (null: the most caught-up voter) and waits, bounded, for it to lead. */
  transferLeadership(to: NodeId | null): Promise<HandOffResult>;
  /** transferTimeoutMs is the bound transferLeadership waits for, for messages. */
  readonly transferTimeoutMs: number;
  /** backup takes a consistent image of the lease table on the leader (after a read barrier); throws not_leader elsewhere. */
  backup(): Promise<BackupImage>;
}
