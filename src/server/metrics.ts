import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RaftHost } from '../node/raft-host.js';
import type { LockService } from '../node/lock-service.js';
import type { RefusalLog } from './refusal-log.js';

const ROLES = ['follower', 'preCandidate', 'candidate', 'leader'] as const;

/** HttpGuardStats are the HTTP layer's refusals and open connections, for /metrics. */
export interface HttpGuardStats {
  /** Limits hit: connection caps, timeouts, per-principal waits. */
  readonly limits: RefusalLog;
  /** Authentication (401) and authorization (403) refusals. */
  readonly auth: RefusalLog;
  /** Open client connections now. */
  readonly openConnections: () => number;
}

/** NodeMetrics is the Prometheus registry of one node: Raft, storage, lock table and HTTP. */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly requestSeconds: Histogram<'route' | 'method' | 'status'>;
  /** How long queued acquires (long-polls) waited on this member, by whether they got the lock. */
  readonly lockWaitSeconds: Histogram<'outcome'>;

  constructor(host: RaftHost, locks: LockService, http?: HttpGuardStats) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'raftlock_raft_term', help: 'Current Raft term', registers, collect() { this.set(host.term); } });
    new Gauge({
      name: 'raftlock_raft_role',
      help: '1 for the role this node has now',
      labelNames: ['role'],
      registers,
      collect() {
        for (const role of ROLES) this.set({ role }, host.role === role ? 1 : 0);
      },
    });
    new Gauge({ name: 'raftlock_raft_commit_index', help: 'Highest committed log index known here', registers, collect() { this.set(host.commitIndex); } });
    new Gauge({ name: 'raftlock_raft_applied_index', help: 'Highest log index applied here', registers, collect() { this.set(host.appliedIndex); } });
    new Gauge({ name: 'raftlock_raft_first_index', help: 'First log index not compacted away', registers, collect() { this.set(host.firstIndex); } });
    new Counter({ name: 'raftlock_raft_proposals_total', help: 'Proposals accepted by this node as leader', registers, collect() { this.reset(); this.inc(host.stats.proposals); } });
    new Counter({ name: 'raftlock_raft_proposals_refused_total', help: 'Proposals refused (not leader, overloaded)', registers, collect() { this.reset(); this.inc(host.stats.proposalsFailed); } });
    new Counter({ name: 'raftlock_raft_synced_entries_total', help: 'Log entries made durable', registers, collect() { this.reset(); this.inc(host.stats.syncedEntries); } });
    new Counter({ name: 'raftlock_raft_syncs_total', help: 'Synced write batches (one per Ready with state to persist)', registers, collect() { this.reset(); this.inc(host.stats.syncs); } });
    new Counter({ name: 'raftlock_raft_snapshots_installed_total', help: 'Snapshots received from the leader and installed', registers, collect() { this.reset(); this.inc(host.stats.snapshotsInstalled); } });
    new Counter({
      name: 'raftlock_raft_leader_changes_total',
      help: 'Times the leader this member knows changed to another member (elections it saw or won, hand-offs)',
      registers,
      collect() {
        this.reset();
        this.inc(host.stats.leaderChanges);
      },
    });
    new Gauge({
      name: 'raftlock_raft_replication_lag_entries',
      help: "On the leader: log entries each follower's acknowledged log is behind the leader's (absent elsewhere)",
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const [peer, lag] of host.replicationLag()) this.set({ peer }, lag);
      },
    });
    new Counter({ name: 'raftlock_raft_snapshots_taken_total', help: 'Snapshots taken (log compactions)', registers, collect() { this.reset(); this.inc(host.stats.snapshotsTaken); } });
    const fsync = new Histogram({
      name: 'raftlock_raft_fsync_seconds',
      help: 'Latency of one synced write batch (group commit)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      registers,
    });
    host.onSyncMs = (ms) => fsync.observe(ms / 1000);
    new Gauge({ name: 'raftlock_locks_held', help: 'Lock names with at least one holder', registers, collect() { this.set(locks.stats().locksHeld); } });
    new Gauge({ name: 'raftlock_waiters', help: 'Queued waiters', registers, collect() { this.set(locks.stats().waiters); } });
    new Gauge({ name: 'raftlock_sessions', help: 'Live sessions', registers, collect() { this.set(locks.stats().sessions); } });
    new Counter({
      name: 'raftlock_grants_undone_total',
      help: 'Grants undone because no attempt of their waiting acquire could deliver them (the clients had gone)',
      registers,
      collect() {
        this.reset();
        this.inc(locks.counters.grantsUndone);
      },
    });
    new Counter({
      name: 'raftlock_expiries_total',
      help: 'What expiry removed since this process started, by kind: hold (a lease, or a session that held it, ran out), session, wait (a queued acquire whose waitMs ran out)',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        const { holds, sessions, waits } = locks.counters.expired;
        this.inc({ kind: 'hold' }, holds);
        this.inc({ kind: 'session' }, sessions);
        this.inc({ kind: 'wait' }, waits);
      },
    });
    this.lockWaitSeconds = new Histogram({
      name: 'raftlock_lock_wait_seconds',
      help: 'How long queued acquires (waitMs > 0) waited on this member, by outcome: granted or not_granted',
      labelNames: ['outcome'],
      buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: 'raftlock_http_request_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    if (http !== undefined) registerHttpGuard(registers, http);
  }
}

/** registerHttpGuard adds the HTTP layer's refusal counters and open connections. */
function registerHttpGuard(registers: Registry[], http: HttpGuardStats): void {
  // Counters that mirror a RefusalLog's totals at each scrape, one series per reason.
  const mirror = (log: RefusalLog, labelName: string) =>
    function (this: Counter<string>): void {
      this.reset();
      for (const [reason, n] of log.counts()) this.inc({ [labelName]: reason }, n);
    };
  new Counter({
    name: 'raftlock_http_limit_hits_total',
    help: "HTTP limits hit: connections over a cap (refused, or an idle one closed for room), headers/request/idle/TLS timeouts, waiting acquires over a principal's cap",
    labelNames: ['limit'],
    registers,
    collect: mirror(http.limits, 'limit'),
  });
  new Counter({ name: 'raftlock_http_auth_refusals_total', help: 'Requests refused 401 (no valid credential) or 403 (role)', labelNames: ['reason'], registers, collect: mirror(http.auth, 'reason') });
  new Gauge({ name: 'raftlock_http_connections', help: 'Open client HTTP connections', registers, collect() { this.set(http.openConnections()); } });
}
