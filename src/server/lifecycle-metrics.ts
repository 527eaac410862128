import { Counter, Gauge, type Registry } from 'prom-client';
import type { ElectionCounter } from '../node/election-counter.js';
import { MEMBER_PROBLEM_REASONS, type MemberHealth } from '../node/member-health.js';
import type { PeerRefusalTap } from '../node/peer-refusal-tap.js';

/** LifecycleSources are what the lifecycle metrics read. */
export interface LifecycleSources {
  readonly elections: ElectionCounter;
  readonly refusals: PeerRefusalTap;
  readonly health: MemberHealth;
}

/**
 * registerLifecycleMetrics adds the metrics of a member's life in its cluster
 * to `registry`: elections it started by cause (a rolling restart with leader
 * hand-off should add none with cause "timeout"), pre-votes, refused peer
 * handshakes, and one 0/1 series per member problem (removed, diverged,
 * cluster_id_rejected) that alerting can watch.
 */
export function registerLifecycleMetrics(registry: Registry, s: LifecycleSources): void {
  const registers = [registry];
  new Counter({
    name: 'raftlock_elections_total',
    help: 'Elections this member started (term increments as candidate), by cause: an election timeout, or a leadership transfer (TimeoutNow)',
    labelNames: ['cause'],
    registers,
    collect() {
      this.reset();
      const c = s.elections.counts;
      this.inc({ cause: 'timeout' }, c.timeout);
      this.inc({ cause: 'transfer' }, c.transfer);
    },
  });
  new Counter({
    name: 'raftlock_prevotes_total',
    help: 'Pre-vote rounds this member started after an election timeout, won or not (a lost one changes no term)',
    registers,
    collect() {
      this.reset();
      this.inc(s.elections.counts.preVotes);
    },
  });
  new Counter({
    name: 'raftlock_peer_handshake_refusals_total',
    help: 'Peer handshakes refused: outbound = a peer refused this member, inbound = this member refused a peer; by reason',
    labelNames: ['direction', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const r of s.refusals.refusals) this.inc({ direction: r.direction, reason: r.reason }, r.count);
    },
  });
  new Gauge({
    name: 'raftlock_member_problem',
    help: '1 while this member knows it has the problem: removed from the configuration, diverged from the leader, or refused by its peers for its cluster id',
    labelNames: ['reason'],
    registers,
    collect() {
      const now = new Set(s.health.problems().map((p) => p.reason));
      for (const reason of MEMBER_PROBLEM_REASONS) this.set({ reason }, now.has(reason) ? 1 : 0);
    },
  });
}
