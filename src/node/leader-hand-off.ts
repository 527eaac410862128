/**
 * Leader hand-off (thesis §3.10): before a leader stops, or when an operator
 * asks, it hands leadership to the most caught-up voter with TimeoutNow and
 * waits, bounded, until another member leads. A rolling restart then costs
 * no election timeout: the cluster has a new leader within a round trip or
 * two instead of after 1-2 election timeouts of silence. If the first choice
 * does not take over within one election timeout (the core aborts a transfer
 * then), the next is tried, until the bound runs out.
 */
import { performance } from 'node:perf_hooks';
import type { NodeId, SoftState } from '../raft/index.js';
import type { RaftHost } from './raft-host.js';
import type { SoftStateWatch } from './soft-state-watch.js';

/** HandOffOutcome: `transferred` (another member leads now), `not_leader`, `no_target` (no other voter), `timed_out`. */
export type HandOffOutcome = 'transferred' | 'not_leader' | 'no_target' | 'timed_out';

/** HandOffResult says how a hand-off ended and who leads now, as far as this member knows. */
export interface HandOffResult {
  readonly outcome: HandOffOutcome;
  readonly from: NodeId;
  /** The last member asked to take over, or null. */
  readonly to: NodeId | null;
  readonly leader: NodeId | null;
  readonly term: number;
}

/** HandOffOptions say who hands off, to whom, and how long to wait. */
export interface HandOffOptions {
  readonly host: Pick<RaftHost, 'id' | 'role' | 'leader' | 'term' | 'members' | 'transferLeadership'>;
  /** A follower's match index as the leader tracks it (null when unknown). */
  readonly matchOf: (peer: NodeId) => number | null;
  readonly softStates: SoftStateWatch;
  /** How long one target gets: one election timeout. */
  readonly attemptMs: number;
  /** The bound on the whole hand-off. */
  readonly timeoutMs: number;
  /** The member to hand to; null picks the most caught-up voter. */
  readonly to: NodeId | null;
}

/** handOffLeadership hands leadership away if this member leads; see the module comment. Never throws. */
export async function handOffLeadership(o: HandOffOptions): Promise<HandOffResult> {
  const host = o.host;
  const result = (outcome: HandOffOutcome, to: NodeId | null): HandOffResult => ({ outcome, from: host.id, to, leader: host.leader, term: host.term });
  if (host.role !== 'leader') return result('not_leader', null);
  const targets = o.to !== null ? [o.to] : rankTargets(host.id, host.members(), o.matchOf);
  if (targets.length === 0) return result('no_target', null);
  const deadlineMs = performance.now() + o.timeoutMs;
  // Another member leads, and this one knows it: the election is over, including this member's own vote.
  // A core's leader is itself exactly when its role is leader (raft-state.ts), so the last two checks imply each other.
  const handedOver = (s: SoftState): boolean =>
    s.leader !== null &&
    // Stryker disable next-line ConditionalExpression: implied by the role check below (a core's leader is itself exactly when it leads)
    s.leader !== host.id &&
    // Stryker disable next-line ConditionalExpression,StringLiteral: implied by the leader check above (a core's leader is itself exactly when it leads)
    s.role !== 'leader';
  let asked: NodeId | null = null;
  for (const target of targets) {
    const leftMs = deadlineMs - performance.now();
    if (host.role !== 'leader') break;
    // Stryker disable next-line EqualityOperator: at exactly 0 ms left the attempt would wait 0 ms; two performance.now() readings a loop apart are never equal in practice
    if (leftMs <= 0) break;
    if (!host.transferLeadership(target)) continue;
    asked = target;
    const current: SoftState = { role: host.role, leader: host.leader, term: host.term };
    if (await o.softStates.waitFor(handedOver, current, Math.min(o.attemptMs, leftMs))) return result('transferred', target);
  }
  return result(handedOver({ role: host.role, leader: host.leader, term: host.term }) ? 'transferred' : 'timed_out', asked);
}

/** rankTargets orders the other voters by how far their log matches the leader's, most caught-up first (ties by id). */
export function rankTargets(self: NodeId, voters: readonly NodeId[], matchOf: (peer: NodeId) => number | null): NodeId[] {
  return voters
    .filter((v) => v !== self)
    .map((v) => ({ v, match: matchOf(v) ?? -1 }))
    .sort(
      // Stryker disable next-line EqualityOperator: voter ids are distinct, so a.v <= b.v and a.v < b.v agree
      (a, b) => b.match - a.match || (a.v < b.v ? -1 : 1),
    )
    .map((x) => x.v);
}
