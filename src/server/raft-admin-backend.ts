import { handOffLeadership, type HandOffResult } from '../node/leader-hand-off.js';
import type { LockService } from '../node/lock-service.js';
import type { CoreView } from '../node/open-raft-host.js';
import type { RaftHost } from '../node/raft-host.js';
import type { SoftStateWatch } from '../node/soft-state-watch.js';
import { takeBackup } from '../node/take-backup.js';
import type { MembershipView } from '../node/host-membership.js';
import type { HostAddress } from '../node/raft-host.js';
import { recordOf, type ConfChange, type ConfState, type NodeId } from '../raft/index.js';
import type { BackupImage } from '../storage/index.js';
import type { AdminBackend } from './admin-backend.js';

/** RaftAdminBackendOptions are the parts of a member the admin operations use. */
export interface RaftAdminBackendOptions {
  readonly host: RaftHost;
  readonly core: CoreView;
  readonly locks: LockService;
  readonly softStates: SoftStateWatch;
  readonly clusterId: string;
  /** One election timeout (the largest randomized one): how long one transfer target gets. */
  readonly electionTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** `--peers`: the founding members' Raft addresses (members added at run time carry theirs in the configuration). */
  readonly peers: Readonly<Record<NodeId, HostAddress>>;
}

/**
 * RaftAdminBackend is the AdminBackend of a real member: leader hand-off
 * (src/node/leader-hand-off.ts) bounded by two election timeouts, and backups
 * (src/node/take-backup.ts).
 */
export class RaftAdminBackend implements AdminBackend {
  readonly transferTimeoutMs: number;

  constructor(private readonly o: RaftAdminBackendOptions) {
    this.transferTimeoutMs = 2 * o.electionTimeoutMs;
  }

  transferLeadership(to: NodeId | null): Promise<HandOffResult> {
    const { host, core } = this.o;
    return handOffLeadership({
      host,
      matchOf: (peer) => core.progressOf(peer)?.match ?? null,
      softStates: this.o.softStates,
      attemptMs: this.o.electionTimeoutMs,
      timeoutMs: this.transferTimeoutMs,
      to,
    });
  }

  membership(): MembershipView {
    return this.o.host.membershipView();
  }

  peerAddressOf(id: NodeId): string | undefined {
    const record = recordOf(this.o.host.membershipView().configuration, id);
    if (record !== undefined) return record.peerAddress;
    const listed = this.o.peers[id];
    return listed === undefined ? undefined : `${listed.host}:${listed.port}`;
  }

  changeMembership(change: ConfChange): Promise<ConfState> {
    return new Promise((resolve, reject) => this.o.host.proposeConfChange(change, (err, result) => (err === null ? resolve(result as ConfState) : reject(err))));
  }

  backup(): Promise<BackupImage> {
    const { host, core, locks, clusterId, readTimeoutMs } = this.o;
    return takeBackup({ host, core, locks, clusterId, readTimeoutMs });
  }
}
