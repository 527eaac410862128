import { Counter, Gauge, type Registry } from 'prom-client';
import type { ElectionCounter } from '../node/election-counter.js';
import { MEMBER_PROBLEM_REASONS, type MemberHealth } from '../node/member-health.js';
import type { PeerRefusalTap } from '../node/peer-refusal-tap.js';
import type { SecurityStats } from '../transport/index.js';

/** LifecycleSources are what the lifecycle metrics read. */
export interface LifecycleSources {
  readonly elections: ElectionCounter;
  readonly refusals: PeerRefusalTap;
  readonly health: MemberHealth;
  readonly peerSecurityStats: () => SecurityStats;
}

/** PEER_SECURITY_EVENTS maps each label of raftlock_peer_security_refusals_total to the transport's counter. */
const PEER_SECURITY_EVENTS: readonly (readonly [string, keyof SecurityStats])[] = [
  ['hello', 'refusedHandshakes'],
  ['tls_handshake', 'tlsFailures'],
  ['frame_mac', 'badMacFrames'],
  ['non_member_message', 'nonMemberMessages'],
];

/**
 * registerLifecycleMetrics adds the metrics of a member's life in its cluster
 * to `registry`: elections it started by cause (a rolling restart with leader
 * hand-off should add none with cause "timeout"), pre-votes, refused peer
 * handshakes, what the peer transport's security refused, and one 0/1 series
 * per member problem (removed, diverged, cluster_id_rejected) that alerting
 * can watch.
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
  new Counter({
    name: 'raftlock_peer_security_refusals_total',
    help:
      'Peer traffic the transport refused, by what: hello = a handshake refused (no or wrong credentials, another cluster, an unknown member, a certificate naming another member; either side), ' +
      'tls_handshake = a TLS handshake that failed (no certificate, another CA, not TLS) or a listener whose certificate names another member, ' +
      'frame_mac = a frame whose MAC did not verify (its connection closed), non_member_message = a message from a sender that is not a current member (dropped)',
    labelNames: ['what'],
    registers,
    collect() {
      this.reset();
      const stats = s.peerSecurityStats();
      for (const [what, field] of PEER_SECURITY_EVENTS) this.inc({ what }, stats[field]);
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
