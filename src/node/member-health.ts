/**
 * MemberHealth says what is wrong with this member as a member, for /readyz,
 * /v1/status, /metrics and the log: it was removed from the cluster (its id
 * is not in the configuration it holds), it has diverged (its leader
 * contradicts an entry committed here: divergence-check.ts), or most of its
 * peers refuse it because it names another cluster (peer-refusal-tap.ts).
 * Any of these makes the member not ready; none stops it, so an operator can
 * still look at it.
 */
import { isKnownConfig, isMemberOf, memberIds, type ConfState, type NodeId } from '../raft/index.js';
import type { DivergenceCheck } from './divergence-check.js';
import type { PeerRefusalTap } from './peer-refusal-tap.js';
import type { Logger } from './raft-host.js';

/** MemberProblemReason names what is wrong. */
export type MemberProblemReason = 'joining' | 'removed' | 'diverged' | 'cluster_id_rejected';

/** MEMBER_PROBLEM_REASONS lists every reason, for a metric with one series each. */
export const MEMBER_PROBLEM_REASONS: readonly MemberProblemReason[] = ['joining', 'removed', 'diverged', 'cluster_id_rejected'];

/** MemberProblem is one thing wrong, with a message for an operator. */
export interface MemberProblem {
  readonly reason: MemberProblemReason;
  readonly message: string;
}

/**
 * How recent a refusal must be to count. The transport logs a refusal at most once per 10 s per peer and reason, and
 * redials at least every 2 s, so a peer that keeps refusing shows up within every window of this length.
 */
const REFUSAL_WINDOW_MS = 30_000;

/** MemberHealthOptions are where the health comes from. */
export interface MemberHealthOptions {
  readonly id: NodeId;
  readonly clusterId: string;
  /** The configuration in force on this member (the latest in its log). */
  readonly configuration: () => ConfState;
  readonly divergence: DivergenceCheck;
  readonly refusals: PeerRefusalTap;
  readonly logger: Logger;
}

/** MemberHealth evaluates the problems on demand and logs each one when it appears and when it clears. */
export class MemberHealth {
  private reported = new Set<MemberProblemReason>();

  constructor(private readonly o: MemberHealthOptions) {}

  /** problems lists what is wrong now (empty when nothing is). */
  problems(): MemberProblem[] {
    const found: MemberProblem[] = [];
    const configuration = this.o.configuration();
    const members = memberIds(configuration);
    if (!isKnownConfig(configuration)) {
      found.push({
        reason: 'joining',
        message: `this member (${this.o.id}) knows no configuration yet: it waits for the leader's log or snapshot (was it added with \`raftlock member add\`?)`,
      });
    } else if (!isMemberOf(configuration, this.o.id)) {
      found.push({ reason: 'removed', message: `this member (${this.o.id}) is not in the cluster's configuration (${members.join(', ')}): it was removed` });
    }
    const d = this.o.divergence.divergence;
    if (d !== null) {
      found.push({
        reason: 'diverged',
        message: `the leader ${d.leader} holds term ${d.leaderTerm} at index ${d.index}, which this member holds as committed with term ${d.localTerm}: the logs have diverged`,
      });
    }
    const others = members.filter((m) => m !== this.o.id);
    const refusing = this.o.refusals.peersRefusingClusterId(REFUSAL_WINDOW_MS).filter((p) => others.includes(p));
    if (others.length > 0 && refusing.length * 2 > others.length) {
      found.push({
        reason: 'cluster_id_rejected',
        message: `peers ${refusing.join(', ')} refuse this member: they belong to another cluster than ${this.o.clusterId} (its store's); was this data dir bootstrapped again?`,
      });
    }
    this.logChanges(found);
    return found;
  }

  private logChanges(found: readonly MemberProblem[]): void {
    const now = new Set(found.map((p) => p.reason));
    for (const p of found) if (!this.reported.has(p.reason)) this.o.logger.error({ problem: p.reason }, `member problem: ${p.message}`);
    for (const r of this.reported) if (!now.has(r)) this.o.logger.info({ problem: r }, 'member problem cleared');
    this.reported = now;
  }
}
