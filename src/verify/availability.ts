/**
 * Availability measurements for a verify run: how many operations were refused or
 * timed out while no fault was active, and how long the cluster took to have a new
 * leader after each fault.
 *
 * "Unavailable" means the service did not answer the question: an unknown outcome,
 * or a failure other than the contract's definite answers (`lock_held`,
 * `not_holder`), which are normal results, not outages.
 */
import { isMeaningfulFail, type History, type Operation } from './history.js';

/** FaultWindow is one injected fault, in harness time. */
export interface FaultWindow {
  readonly startMs: number;
  readonly endMs: number;
  /** e.g. 'partition', 'kill', 'pause', 'clock-skew'. */
  readonly kind: string;
}

/** AvailabilityOptions tunes the window test. */
export interface AvailabilityOptions {
  /** graceMs extends every fault window after its end (elections, reconnects). */
  readonly graceMs: number;
  /** isUnavailable overrides the default classification of an operation. */
  readonly isUnavailable?: (op: Operation) => boolean;
}

/** OpCounts is a total, the unavailable part, and their ratio (0 when total is 0). */
export interface OpCounts {
  readonly total: number;
  readonly unavailable: number;
  readonly fraction: number;
}

/** AvailabilityReport splits operations into outside and inside (extended) fault windows. */
export interface AvailabilityReport {
  readonly outside: OpCounts;
  readonly inside: OpCounts;
  /** Inside counts per fault kind (an operation overlapping faults of two kinds counts in both). */
  readonly insideByKind: Readonly<Record<string, OpCounts>>;
}

/** defaultIsUnavailable: unknown outcome, or a failure that is not a definite contract answer. */
export function defaultIsUnavailable(op: Operation): boolean {
  return op.status === 'unknown' || (op.status === 'fail' && !isMeaningfulFail(op));
}

function counts(total: number, unavailable: number): OpCounts {
  return { total, unavailable, fraction: total === 0 ? 0 : unavailable / total };
}

/** opSpanEndMs: a definite op ends at completion; an unknown one at the time the client gave up, if recorded. */
function opSpanEndMs(op: Operation): number {
  const c = op.completeMs;
  return c === null || !Number.isFinite(c) ? op.invokeMs : c;
}

/**
 * computeAvailability classifies every operation as inside a fault window (its
 * interval overlaps [startMs, endMs + graceMs] of some fault) or outside, and counts
 * the unavailable ones in each class.
 */
export function computeAvailability(
  history: History,
  faults: readonly FaultWindow[],
  options: AvailabilityOptions,
): AvailabilityReport {
  if (!(options.graceMs >= 0)) throw new Error('invariant: graceMs must be >= 0');
  for (const f of faults) if (!(f.endMs >= f.startMs)) throw new Error(`invariant: fault ${f.kind} ends before it starts`);
  const isUnavailable = options.isUnavailable ?? defaultIsUnavailable;
  const windows = [...faults].sort((a, b) => a.startMs - b.startMs);
  let outT = 0;
  let outU = 0;
  let inT = 0;
  let inU = 0;
  const byKind = new Map<string, { t: number; u: number }>();
  for (const op of history) {
    const lo = op.invokeMs;
    const hi = opSpanEndMs(op);
    const down = isUnavailable(op);
    const kinds = new Set<string>();
    for (const w of windows) {
      if (w.startMs > hi) break;
      if (w.endMs + options.graceMs >= lo) kinds.add(w.kind);
    }
    if (kinds.size === 0) {
      outT++;
      if (down) outU++;
      continue;
    }
    inT++;
    if (down) inU++;
    for (const k of kinds) {
      const c = byKind.get(k) ?? { t: 0, u: 0 };
      c.t++;
      if (down) c.u++;
      byKind.set(k, c);
    }
  }
  const insideByKind: Record<string, OpCounts> = {};
  for (const [k, c] of [...byKind.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) insideByKind[k] = counts(c.t, c.u);
  return { outside: counts(outT, outU), inside: counts(inT, inU), insideByKind };
}

/** LeaderObservation is one poll of who leads the cluster (from any node's point of view). */
export interface LeaderObservation {
  readonly atMs: number;
  readonly leader: string | null;
  /** The Raft term of that leader, when the poll reports it. */
  readonly term?: number;
}

/** FailoverOutcome classifies a fault: a new leader was seen, the old one stayed, or none was seen. */
export type FailoverOutcome = 'new_leader' | 'same_leader' | 'no_leader_seen';

/** FaultFailover is the leader history around one fault. */
export interface FaultFailover {
  readonly fault: FaultWindow;
  readonly outcome: FailoverOutcome;
  /** Time from the fault's start to the first observation of a new leader; null unless outcome is new_leader. */
  readonly timeToLeaderMs: number | null;
  readonly leaderBefore: string | null;
  readonly newLeader: string | null;
}

/** FailoverReport has per-fault results and statistics over the faults that got a new leader. */
export interface FailoverReport {
  readonly perFault: readonly FaultFailover[];
  readonly newLeaderCount: number;
  readonly sameLeaderCount: number;
  readonly noLeaderSeenCount: number;
  /** Statistics of timeToLeaderMs over new_leader faults; null when there are none. */
  readonly medianMs: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

/** percentile is the nearest-rank percentile (p in (0, 100]) of ascending `sorted`; null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (!(p > 0 && p <= 100)) throw new Error('invariant: percentile p must be in (0, 100]');
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/**
 * computeFailover measures, for each fault, the time from its start to the first
 * observation of a leader that is new: a higher term than the last leader seen before
 * the fault when terms are reported, else a different node. The search for a fault
 * stops at the next fault's start. A fault after which only the old leader is seen
 * is 'same_leader' (e.g. a follower was killed); one after which no leader is seen
 * at all is 'no_leader_seen'. Only new_leader faults enter the statistics, so
 * callers must look at noLeaderSeenCount too.
 */
export function computeFailover(faults: readonly FaultWindow[], observations: readonly LeaderObservation[]): FailoverReport {
  const obs = [...observations].sort((a, b) => a.atMs - b.atMs);
  const windows = [...faults].sort((a, b) => a.startMs - b.startMs);
  const perFault: FaultFailover[] = [];
  let i = 0; // first observation at or after the current fault's start
  for (let w = 0; w < windows.length; w++) {
    const fault = windows[w]!;
    const untilMs = windows[w + 1]?.startMs ?? Infinity;
    while (i < obs.length && obs[i]!.atMs < fault.startMs) i++;
    let before: LeaderObservation | null = null;
    for (let j = i - 1; j >= 0; j--) {
      if (obs[j]!.leader !== null) {
        before = obs[j]!;
        break;
      }
    }
    let outcome: FailoverOutcome = 'no_leader_seen';
    let found: LeaderObservation | null = null;
    for (let j = i; j < obs.length && obs[j]!.atMs < untilMs; j++) {
      const o = obs[j]!;
      if (o.leader === null) continue;
      const isNew =
        before === null ||
        (o.term !== undefined && before.term !== undefined ? o.term > before.term : o.leader !== before.leader);
      if (isNew) {
        found = o;
        outcome = 'new_leader';
        break;
      }
      outcome = 'same_leader';
    }
    perFault.push({
      fault,
      outcome,
      timeToLeaderMs: found === null ? null : found.atMs - fault.startMs,
      leaderBefore: before?.leader ?? null,
      newLeader: found?.leader ?? null,
    });
  }
  const times = perFault
    .map((f) => f.timeToLeaderMs)
    .filter((t): t is number => t !== null)
    .sort((a, b) => a - b);
  return {
    perFault,
    newLeaderCount: times.length,
    sameLeaderCount: perFault.filter((f) => f.outcome === 'same_leader').length,
    noLeaderSeenCount: perFault.filter((f) => f.outcome === 'no_leader_seen').length,
    medianMs: percentile(times, 50),
    p99Ms: percentile(times, 99),
    maxMs: times.length === 0 ? null : times[times.length - 1]!,
  };
}
