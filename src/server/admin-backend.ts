import type { MembershipView } from '../node/host-membership.js';
import type { HandOffResult } from '../node/leader-hand-off.js';
import type { ConfChange, ConfState, NodeId } from '../raft/index.js';
import type { BackupImage } from '../storage/index.js';

/**
 * AdminBackend is what the operator routes (admin-routes.ts, member-routes.ts)
 * need of a member beyond the lock API: hand leadership over, take a
 * consistent backup, and read and change the membership. Only a real member has one (raft-admin-backend.ts); the client
 * tests' in-process nodes serve no admin routes.
 */
export interface AdminBackend {
  /** transferLeadership hands leadership to `to` (null: the most caught-up voter) and waits, bounded, for it to lead. */
  transferLeadership(to: NodeId | null): Promise<HandOffResult>;
  /** transferTimeoutMs is the bound transferLeadership waits for, for messages. */
  readonly transferTimeoutMs: number;
  /** backup takes a consistent image of the lease table on the leader (after a read barrier); throws not_leader elsewhere. */
  backup(): Promise<BackupImage>;
  /** membership is the configuration in force here and, on the leader, each member's replication progress. */
  membership(): MembershipView;
  /** peerAddressOf is where this member reaches `id`'s Raft listener: its membership record, else `--peers`. */
  peerAddressOf(id: NodeId): string | undefined;
  /**
   * changeMembership proposes one single-server change on the leader and resolves with the configuration it makes
   * once applied here; rejects with ConfChangeRefusedError (why the leader refused) or NotLeaderError.
   */
  changeMembership(change: ConfChange): Promise<ConfState>;
}
