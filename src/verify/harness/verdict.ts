/**
 * The verdict of a verify run: every checker of src/verify run over the recorded
 * history, turned into one list of violations. A run passes only with none.
 *
 * - linearizability per lock name (budget exhaustion is a violation, never a pass);
 * - fencing: tokens strictly increase in grant order, the resource never accepted
 *   a stale one (for the fenced workload), and the counter equals the number of
 *   acknowledged increments; the negative control must instead LOSE increments;
 * - no lost acknowledgement against the final reads after healing;
 * - liveness and availability: a leader after the final heal, and the share of
 *   operations that failed outside fault windows under a (generous) bound.
 */
import { computeAvailability, computeFailover, type AvailabilityReport, type FailoverReport, type FaultWindow, type LeaderObservation } from '../availability.js';
import { checkCounter, checkFencing, type CounterReport, type FencingReport, type ResourceWrite } from '../fencing-checker.js';
import { describeOp, type Operation, type ReadOp } from '../history.js';
import { formatLinearizabilityReport } from '../linearizability.js';
import { checkNoLostAck, type NoLostAckReport } from '../no-lost-ack.js';
import { checkLockHistoryAdapted, fillFreeFinalReads } from './lock-model-adapter.js';
import type { CounterTally, WorkloadName } from './workload.js';

/** Violation is one broken property, in words. */
export interface Violation {
  readonly checker: 'linearizability' | 'fencing' | 'counter' | 'control' | 'no-lost-ack' | 'liveness' | 'availability';
  readonly kind: string;
  readonly detail: string;
}

/** JudgeInput is what the run observed. */
export interface JudgeInput {
  readonly workload: WorkloadName;
  /** Every operation, final reads included. */
  readonly history: readonly Operation[];
  /** The ok final reads after healing (one per key that could be read). */
  readonly finalReads: readonly ReadOp[];
  /** Keys whose final read never succeeded. */
  readonly unreadKeys: readonly string[];
  readonly faults: readonly FaultWindow[];
  /** Cluster faults only (no client pauses), for time-to-leader. */
  readonly clusterFaults: readonly FaultWindow[];
  readonly leaderObservations: readonly LeaderObservation[];
  /** Time from the final heal to an agreed leader; null if none came. */
  readonly leaderAfterHealMs: number | null;
  readonly tally: CounterTally | null;
  /** Nodes that exited without the nemesis killing them (crashes, or outside interference). */
  readonly unexpectedExits: readonly { id: string; atMs: number; code: number | null; signal: string | null }[];
  /** Why the final heal could not make every member a voter again (membership faults); absent or empty: it did. */
  readonly membershipProblems?: readonly string[];
  readonly resourceWrites: readonly ResourceWrite[];
  readonly resourceTotal: number | null;
  readonly options: JudgeOptions;
}

/** JudgeOptions tunes the checkers. */
export interface JudgeOptions {
  /** Lease bounds are shortened by this much (harness vs server clocks). */
  readonly marginMs: number;
  /** Fault windows extend this long after their end for the availability split. */
  readonly graceMs: number;
  /** Outside fault windows, more unavailable operations than this fraction is a violation. */
  readonly maxUnavailableOutside: number;
  /** Per-key budget of the linearizability search. */
  readonly linearizabilityMaxMs: number;
}

/** OpCountsSummary counts operations by status and function. */
export interface OpCountsSummary {
  readonly total: number;
  readonly ok: number;
  readonly fail: number;
  readonly unknown: number;
  readonly byFunction: Readonly<Record<string, { ok: number; fail: number; unknown: number }>>;
  readonly failCodes: Readonly<Record<string, number>>;
}

/** RunVerdict is verdict.json's checker part. */
export interface RunVerdict {
  readonly valid: boolean;
  readonly violations: readonly Violation[];
  readonly ops: OpCountsSummary;
  readonly linearizability: {
    readonly result: string;
    readonly elapsedMs: number;
    readonly keys: readonly { key: string; result: string; opCount: number; steps: number; elapsedMs: number; budgetExhausted?: string }[];
    /** The checker's explanation of failed keys (empty when all are ok). */
    readonly report: string;
  };
  readonly fencing: FencingReport;
  readonly counter: (CounterReport & { readonly tally: CounterTally }) | null;
  readonly control: { readonly lostUpdates: number; readonly acknowledged: number; readonly finalValue: number } | null;
  readonly noLostAck: NoLostAckReport;
  readonly availability: AvailabilityReport;
  readonly failover: FailoverReport;
  readonly leaderAfterHealMs: number | null;
}

/** MAX_VIOLATIONS_LISTED bounds the violations one checker contributes. */
const MAX_VIOLATIONS_LISTED = 50;
/** Availability is judged only with at least this many operations outside fault windows. */
const MIN_OUTSIDE_OPS = 50;

/** countOps summarizes a history. */
export function countOps(history: readonly Operation[]): OpCountsSummary {
  const byFunction: Record<string, { ok: number; fail: number; unknown: number }> = {};
  const failCodes: Record<string, number> = {};
  let ok = 0;
  let fail = 0;
  let unknown = 0;
  for (const op of history) {
    const f = (byFunction[op.f] ??= { ok: 0, fail: 0, unknown: 0 });
    f[op.status]++;
    if (op.status === 'ok') ok++;
    else if (op.status === 'unknown') unknown++;
    else {
      fail++;
      const code = op.output.error.split(':')[0]!;
      failCodes[code] = (failCodes[code] ?? 0) + 1;
    }
  }
  return { total: history.length, ok, fail, unknown, byFunction, failCodes };
}

/** judgeRun runs every checker and lists the violations. */
export function judgeRun(input: JudgeInput): RunVerdict {
  const violations: Violation[] = [];
  const linearizability = judgeLinearizability(input, violations);
  const fencing = judgeFencing(input, violations);
  const { counter, control } = judgeCounter(input, violations);
  const noLostAck = judgeNoLostAck(input, violations);
  judgeLiveness(input, violations);
  const availability = judgeAvailability(input, violations);
  const failover = computeFailover(input.clusterFaults, input.leaderObservations);
  return {
    valid: violations.length === 0,
    violations,
    ops: countOps(input.history),
    linearizability,
    fencing,
    counter,
    control,
    noLostAck,
    availability,
    failover,
    leaderAfterHealMs: input.leaderAfterHealMs,
  };
}

/** capped adds to `violations` at most MAX_VIOLATIONS_LISTED of the violations it is given. */
function capped(violations: Violation[]): (v: Violation) => void {
  let listed = 0;
  return (v) => {
    if (listed++ < MAX_VIOLATIONS_LISTED) violations.push(v);
  };
}

/** judgeLinearizability checks the history key by key. */
function judgeLinearizability(input: JudgeInput, violations: Violation[]): RunVerdict['linearizability'] {
  const lin = checkLockHistoryAdapted(input.history, { marginMs: input.options.marginMs, maxMs: input.options.linearizabilityMaxMs });
  const add = capped(violations);
  for (const k of lin.keys) {
    if (k.result === 'ok') continue;
    add({
      checker: 'linearizability',
      kind: k.result === 'illegal' ? 'not_linearizable' : `budget_exhausted_${k.budgetExhausted ?? 'unknown'}`,
      detail: `${k.key}: ${k.result}${k.explanation !== undefined ? `; cannot linearize ${describeOp(k.explanation.stuckOp)}` : ''}`,
    });
  }
  const failedOnly = { ...lin, keys: lin.keys.filter((k) => k.result !== 'ok') };
  return {
    result: lin.result,
    elapsedMs: Math.round(lin.elapsedMs),
    keys: lin.keys.map((k) => ({
      key: k.key,
      result: k.result,
      opCount: k.opCount,
      steps: k.steps,
      elapsedMs: Math.round(k.elapsedMs),
      ...(k.budgetExhausted !== undefined ? { budgetExhausted: k.budgetExhausted } : {}),
    })),
    report: failedOnly.keys.length === 0 ? '' : formatLinearizabilityReport(failedOnly, describeOp, 12),
  };
}

/** judgeFencing checks the grants always, and the resource's log only where it enforces fencing. */
function judgeFencing(input: JudgeInput, violations: Violation[]): FencingReport {
  const fencedResource = input.workload === 'fenced';
  const fencing = checkFencing(input.history, fencedResource ? input.resourceWrites : []);
  const add = capped(violations);
  for (const v of fencing.violations) add({ checker: 'fencing', kind: v.kind, detail: `${v.key}: ${v.detail}` });
  return fencing;
}

/** judgeCounter: the fenced counter must equal its acknowledged increments; the unfenced control must lose some. */
function judgeCounter(input: JudgeInput, violations: Violation[]): Pick<RunVerdict, 'counter' | 'control'> {
  if (input.tally === null || input.resourceTotal === null) return { counter: null, control: null };
  const report = checkCounter({ acknowledged: input.tally.acknowledged, indeterminate: 0, finalValue: input.resourceTotal });
  if (input.workload === 'fenced') {
    if (!report.valid) {
      violations.push({
        checker: 'counter',
        kind: report.violation ?? 'counter_mismatch',
        detail: `final counter ${report.finalValue}, acknowledged increments ${input.tally.acknowledged}`,
      });
    }
    return { counter: { ...report, tally: { ...input.tally } }, control: null };
  }
  if (input.workload !== 'control') return { counter: null, control: null };
  const lostUpdates = input.tally.acknowledged - input.resourceTotal;
  if (lostUpdates <= 0) {
    violations.push({
      checker: 'control',
      kind: lostUpdates < 0 ? 'phantom_increment' : 'control_lost_nothing',
      detail: `the unfenced control lost no update (acknowledged ${input.tally.acknowledged}, final ${input.resourceTotal}): the nemesis did not bite`,
    });
  }
  return { counter: null, control: { lostUpdates, acknowledged: input.tally.acknowledged, finalValue: input.resourceTotal } };
}

/** judgeNoLostAck checks the final reads after healing; a key that could not be read counts in the same list. */
function judgeNoLostAck(input: JudgeInput, violations: Violation[]): NoLostAckReport {
  const noLostAck = checkNoLostAck(input.history, fillFreeFinalReads(input.history, input.finalReads), { marginMs: input.options.marginMs });
  const add = capped(violations);
  for (const v of noLostAck.violations) add({ checker: 'no-lost-ack', kind: v.kind, detail: v.detail });
  for (const key of input.unreadKeys) add({ checker: 'liveness', kind: 'no_final_read', detail: `${key} could not be read after healing` });
  return noLostAck;
}

/** judgeLiveness: no node exited by itself, the healed cluster agreed on a leader, and every member is a voter again. */
function judgeLiveness(input: JudgeInput, violations: Violation[]): void {
  for (const e of input.unexpectedExits) {
    violations.push({
      checker: 'liveness',
      kind: 'node_exited',
      detail: `${e.id} exited without the nemesis killing it at ${(e.atMs / 1000).toFixed(1)} s (code ${String(e.code)}, signal ${String(e.signal)}); see nodes/${e.id}.log`,
    });
  }
  if (input.leaderAfterHealMs === null) {
    violations.push({ checker: 'liveness', kind: 'no_leader_after_heal', detail: 'the healed cluster did not agree on a leader' });
  }
  for (const problem of input.membershipProblems ?? []) {
    violations.push({ checker: 'liveness', kind: 'membership_not_restored', detail: problem });
  }
}

/** judgeAvailability bounds the share of workload operations that failed outside fault windows. */
function judgeAvailability(input: JudgeInput, violations: Violation[]): AvailabilityReport {
  const { options } = input;
  const finalIds = new Set(input.finalReads.map((r) => r.id));
  const workloadOps = input.history.filter((op) => !finalIds.has(op.id) && op.process !== FINAL_PROCESS);
  const availability = computeAvailability(workloadOps, input.faults, { graceMs: options.graceMs });
  if (availability.outside.total >= MIN_OUTSIDE_OPS && availability.outside.fraction > options.maxUnavailableOutside) {
    violations.push({
      checker: 'availability',
      kind: 'unavailable_outside_faults',
      detail: `${availability.outside.unavailable} of ${availability.outside.total} operations outside fault windows failed or timed out (${(
        availability.outside.fraction * 100
      ).toFixed(1)}% > ${(options.maxUnavailableOutside * 100).toFixed(0)}%)`,
    });
  }
  return availability;
}

/** FINAL_PROCESS is the history process of the final reads after healing. */
export const FINAL_PROCESS = 'final';
