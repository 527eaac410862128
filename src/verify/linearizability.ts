/**
 * A linearizability checker after Wing & Gong (1993) as improved by Lowe (2017) and
 * Porcupine (Athalye): the history is partitioned by key (P-compositionality: a
 * history is linearizable iff each per-object sub-history is), and each partition is
 * searched depth-first over linearization orders, memoizing the (set of linearized
 * operations, model state) pairs already explored so no configuration is expanded
 * twice.
 *
 * Operations of unknown outcome have completion +∞: they may be linearized at any
 * point after their invocation, and the model's step for them includes "no effect",
 * so a partition succeeds as soon as every definite operation is linearized. The
 * search tries definite operations before unknown ones at each node: an unknown
 * operation is linearized only when nothing else fits, which keeps the possible-state
 * sets small on valid histories without losing completeness (the order of tries
 * does not change the explored tree, only the order it is explored in).
 *
 * The search is bounded (steps, wall time, size of a possible-state set). Running
 * out of budget yields result 'unknown', which callers must treat as a failure.
 */
import { effectiveCompleteMs } from './history.js';
import { ModelBudgetError, type KeyModel, type ModelFactory, type TimedOp } from './model.js';

/** KeyResult is a partition's verdict; 'unknown' means the budget ran out (a failure, never a pass). */
export type KeyResult = 'ok' | 'illegal' | 'unknown';

/** BudgetKind names the budget that ran out. */
export type BudgetKind = 'steps' | 'time' | 'state_set';

/** LinearizabilityOptions bounds the search of each partition. */
export interface LinearizabilityOptions {
  /** maxSteps caps model-step attempts per key (default 1,000,000). */
  readonly maxSteps?: number;
  /** maxMs caps wall time per key (default 10,000). */
  readonly maxMs?: number;
  /** maxStateSetSize caps the number of simultaneously possible model states (default 4,096). */
  readonly maxStateSetSize?: number;
  /** clock is read for the time budget; defaults to performance.now. */
  readonly clock?: () => number;
}

/**
 * ViolationExplanation shows where the search got stuck: the longest linearizable
 * prefix it found, the operation that could not be linearized after it (the one
 * whose completion closed the window), the other candidates that were tried, and the
 * possible model states after the prefix.
 */
export interface ViolationExplanation<O> {
  readonly linearizedPrefix: readonly O[];
  readonly stuckOp: O;
  readonly triedOps: readonly O[];
  readonly statesAfterPrefix: readonly string[];
}

/** KeyVerdict is the outcome for one partition. */
export interface KeyVerdict<O> {
  readonly key: string;
  readonly result: KeyResult;
  readonly opCount: number;
  readonly steps: number;
  readonly elapsedMs: number;
  readonly budgetExhausted?: BudgetKind;
  /** Present when result is 'illegal', and for 'unknown' when the search got stuck at least once. */
  readonly explanation?: ViolationExplanation<O>;
}

/** LinearizabilityReport aggregates the per-key verdicts; `valid` is true only if every key is 'ok'. */
export interface LinearizabilityReport<O> {
  readonly valid: boolean;
  readonly result: KeyResult;
  readonly keys: readonly KeyVerdict<O>[];
  readonly elapsedMs: number;
}

const DEFAULTS = { maxSteps: 1_000_000, maxMs: 10_000, maxStateSetSize: 4_096 } as const;
const CLOCK_CHECK_EVERY = 512;

/** One node of the doubly linked list of call/return events (Lowe's representation). */
interface ListEntry {
  readonly isCall: boolean;
  readonly op: number;
  readonly time: number;
  /** A call's return entry, or null for an unknown-outcome op (its return is at +∞, never reached). */
  match: ListEntry | null;
  prev: ListEntry | null;
  next: ListEntry | null;
}

interface StateSet<S> {
  readonly states: readonly S[];
  readonly key: string;
}

interface Frame<S> {
  /** The call entry linearized to reach this frame; null at the root. */
  readonly applied: ListEntry | null;
  readonly prevSet: StateSet<S> | null;
  /** 0: trying definite ops; 1: trying unknown-outcome ops. */
  pass: 0 | 1;
  /** The last candidate tried at this frame, or null before the first. */
  cursor: ListEntry | null;
}

function buildList(ops: readonly TimedOp[]): { head: ListEntry; definite: number } {
  const entries: ListEntry[] = [];
  let definite = 0;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const call: ListEntry = { isCall: true, op: i, time: op.invokeMs, match: null, prev: null, next: null };
    entries.push(call);
    const completeMs = effectiveCompleteMs(op);
    if (completeMs !== Infinity) {
      if (completeMs < op.invokeMs) throw new Error(`invariant: op ${op.id} completes before it is invoked`);
      const ret: ListEntry = { isCall: false, op: i, time: completeMs, match: null, prev: null, next: null };
      call.match = ret;
      entries.push(ret);
      definite++;
    }
  }
  // Calls before returns at equal times: touching intervals count as concurrent, which
  // only removes ordering constraints (no false alarms from clock granularity).
  entries.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const head: ListEntry = { isCall: true, op: -1, time: -Infinity, match: null, prev: null, next: null };
  let prev = head;
  for (const e of entries) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  return { head, definite };
}

function unlink(e: ListEntry): void {
  e.prev!.next = e.next;
  if (e.next !== null) e.next.prev = e.prev;
}

function relink(e: ListEntry): void {
  e.prev!.next = e;
  if (e.next !== null) e.next.prev = e;
}

/** lift removes a call and its return from the list; lower undoes it (LIFO, so pointers stay valid). */
function lift(call: ListEntry): void {
  unlink(call);
  if (call.match !== null) unlink(call.match);
}

function lower(call: ListEntry): void {
  if (call.match !== null) relink(call.match);
  relink(call);
}

class Bitset {
  private readonly words: Uint16Array;
  constructor(n: number) {
    this.words = new Uint16Array(Math.max(1, Math.ceil(n / 16)));
  }
  set(i: number): void {
    this.words[i >> 4]! |= 1 << (i & 15);
  }
  clear(i: number): void {
    this.words[i >> 4]! &= ~(1 << (i & 15));
  }
  /** key packs 16 bits a UTF-16 code unit; chunked because apply() has an argument limit. */
  key(): string {
    const CHUNK = 8192;
    if (this.words.length <= CHUNK) return String.fromCharCode.apply(null, this.words as unknown as number[]);
    let s = '';
    for (let i = 0; i < this.words.length; i += CHUNK) {
      s += String.fromCharCode.apply(null, this.words.subarray(i, i + CHUNK) as unknown as number[]);
    }
    return s;
  }
}

class BudgetExhausted extends Error {
  constructor(readonly kind: BudgetKind) {
    super(`budget exhausted: ${kind}`);
  }
}

function makeSet<S, O extends TimedOp>(model: KeyModel<S, O>, states: readonly S[], maxSize: number): StateSet<S> {
  const byKey = new Map<string, S>();
  for (const s of states) {
    const k = model.key(s);
    if (!byKey.has(k)) byKey.set(k, s);
  }
  if (byKey.size === 1) {
    const [[k, s]] = byKey.entries() as unknown as [[string, S]];
    return { states: [s], key: k };
  }
  let kept: readonly S[] = [...byKey.values()];
  if (model.prune !== undefined) {
    kept = model.prune(kept);
    if (kept.length === 0) throw new Error('invariant: prune() dropped every state');
  }
  if (kept.length > maxSize) throw new BudgetExhausted('state_set');
  const pairs = kept.map((s) => [model.key(s), s] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { states: pairs.map(([, s]) => s), key: pairs.map(([k]) => k).join('\u0001') };
}

function stepSet<S, O extends TimedOp>(model: KeyModel<S, O>, set: StateSet<S>, op: O, maxSize: number): StateSet<S> | null {
  const next: S[] = [];
  for (const s of set.states) for (const t of model.step(s, op)) next.push(t);
  if (next.length === 0) return null;
  return makeSet(model, next, maxSize);
}

/** Budget is a partition search's resolved bounds. */
interface Budget {
  readonly maxSteps: number;
  readonly maxMs: number;
  readonly maxStateSetSize: number;
  readonly clock: () => number;
}

/**
 * checkPartition searches one key's sub-history. Exported for tests and for callers
 * that partition themselves; most callers want checkLinearizability.
 */
export function checkPartition<S, O extends TimedOp>(
  key: string,
  partitionOps: readonly O[],
  factory: ModelFactory<S, O>,
  options: LinearizabilityOptions = {},
): KeyVerdict<O> {
  const budget: Budget = {
    maxSteps: options.maxSteps ?? DEFAULTS.maxSteps,
    maxMs: options.maxMs ?? DEFAULTS.maxMs,
    maxStateSetSize: options.maxStateSetSize ?? DEFAULTS.maxStateSetSize,
    clock: options.clock ?? (() => performance.now()),
  };
  if (!(budget.maxSteps > 0 && budget.maxMs > 0 && budget.maxStateSetSize > 0)) throw new Error('invariant: budgets must be positive');
  return new PartitionSearch(key, partitionOps, factory, budget).run();
}

/**
 * PartitionSearch is one partition's depth-first search: a stack of frames, one
 * per linearized operation, over Lowe's list of call/return events, with the
 * memo of explored (linearized set, state set) configurations.
 */
class PartitionSearch<S, O extends TimedOp> {
  private readonly startMs: number;
  private readonly model: KeyModel<S, O>;
  /** The partition without the operations the model calls no-ops. */
  private readonly ops: readonly O[];
  private readonly head: ListEntry;
  private remainingDefinite: number;
  private steps = 0;
  private explanation: ViolationExplanation<O> | undefined;
  private bestDepth = -1;
  private readonly bits: Bitset;
  private readonly memo = new Set<string>();
  private readonly frames: Frame<S>[] = [{ applied: null, prevSet: null, pass: 0, cursor: null }];
  /** The possible model states after the linearized prefix; set by run(). */
  private current: StateSet<S> | null = null;

  constructor(
    private readonly key: string,
    private readonly partitionOps: readonly O[],
    factory: ModelFactory<S, O>,
    private readonly budget: Budget,
  ) {
    this.startMs = budget.clock();
    this.model = factory(partitionOps, key);
    this.ops = partitionOps.filter((op) => !(this.model.isNoOp?.(op) ?? false));
    const { head, definite } = buildList(this.ops);
    this.head = head;
    this.remainingDefinite = definite;
    this.bits = new Bitset(this.ops.length);
  }

  /** run searches until every definite operation is linearized, no order is left, or a budget runs out. */
  run(): KeyVerdict<O> {
    if (this.remainingDefinite === 0) return this.verdict('ok');
    try {
      this.current = makeSet(this.model, this.model.init(), this.budget.maxStateSetSize);
      if (this.current.states.length === 0) throw new Error('invariant: model.init() returned no state');
      return this.search();
    } catch (e) {
      if (e instanceof BudgetExhausted) return this.verdict('unknown', e.kind);
      if (e instanceof ModelBudgetError) return this.verdict('unknown', 'state_set');
      throw e;
    }
  }

  private search(): KeyVerdict<O> {
    for (;;) {
      this.chargeStep();
      const frame = this.frames[this.frames.length - 1]!;
      const entry = this.nextCandidate(frame);
      if (entry === null) {
        // Every callable op failed here: backtrack (Wing & Gong).
        this.recordStuck();
        if (this.frames.length === 1) return this.verdict('illegal');
        this.backtrack(frame);
        continue;
      }
      if (!this.tryLinearize(entry)) continue;
      if (this.remainingDefinite === 0) {
        this.explanation = undefined;
        return this.verdict('ok');
      }
    }
  }

  /** chargeStep counts one step against the step budget and, now and then, checks the time budget. */
  private chargeStep(): void {
    this.steps++;
    if (this.steps > this.budget.maxSteps) throw new BudgetExhausted('steps');
    if (this.steps % CLOCK_CHECK_EVERY === 0 && this.budget.clock() - this.startMs > this.budget.maxMs) throw new BudgetExhausted('time');
  }

  /** nextCandidate advances a frame's cursor: callable definite ops first, then unknown ones. */
  private nextCandidate(frame: Frame<S>): ListEntry | null {
    for (;;) {
      let e = frame.cursor === null ? this.head.next : frame.cursor.next;
      while (e !== null && e.isCall) {
        const isDefinite = e.match !== null;
        if (isDefinite === (frame.pass === 0)) {
          frame.cursor = e;
          return e;
        }
        e = e.next;
      }
      if (frame.pass === 1) return null;
      frame.pass = 1;
      frame.cursor = null;
    }
  }

  /** tryLinearize applies the entry's operation next; true if that reached a configuration not explored before (now the top frame). */
  private tryLinearize(entry: ListEntry): boolean {
    const current = this.current!;
    const next = stepSet(this.model, current, this.ops[entry.op]!, this.budget.maxStateSetSize);
    if (next === null) return false;
    this.bits.set(entry.op);
    const memoKey = this.bits.key() + '\u0000' + next.key;
    if (this.memo.has(memoKey)) {
      this.bits.clear(entry.op);
      return false;
    }
    this.memo.add(memoKey);
    lift(entry);
    if (entry.match !== null) this.remainingDefinite--;
    this.frames.push({ applied: entry, prevSet: current, pass: 0, cursor: null });
    this.current = next;
    return true;
  }

  /** backtrack undoes the top frame's operation. */
  private backtrack(frame: Frame<S>): void {
    this.frames.pop();
    const applied = frame.applied!;
    lower(applied);
    this.bits.clear(applied.op);
    if (applied.match !== null) this.remainingDefinite++;
    this.current = frame.prevSet!;
  }

  /** recordStuck keeps the explanation of the deepest point where the search got stuck. */
  private recordStuck(): void {
    const depth = this.frames.length - 1;
    if (depth <= this.bestDepth) return;
    this.bestDepth = depth;
    let firstReturn = this.head.next;
    const tried: O[] = [];
    while (firstReturn !== null && firstReturn.isCall) {
      tried.push(this.ops[firstReturn.op]!);
      firstReturn = firstReturn.next;
    }
    if (firstReturn === null) throw new Error('invariant: stuck with no pending definite operation');
    const model = this.model;
    this.explanation = {
      linearizedPrefix: this.frames.slice(1).map((f) => this.ops[f.applied!.op]!),
      stuckOp: this.ops[firstReturn.op]!,
      triedOps: tried,
      statesAfterPrefix: this.current!.states.map((s) => (model.describe ? model.describe(s) : model.key(s))),
    };
  }

  private verdict(result: KeyResult, budgetExhausted?: BudgetKind): KeyVerdict<O> {
    return {
      key: this.key,
      result,
      opCount: this.partitionOps.length,
      steps: this.steps,
      elapsedMs: this.budget.clock() - this.startMs,
      ...(budgetExhausted !== undefined ? { budgetExhausted } : {}),
      ...(this.explanation !== undefined ? { explanation: this.explanation } : {}),
    };
  }
}

/**
 * checkLinearizability partitions `history` by key and checks each partition
 * against the model the factory builds for it. The report is valid only if every
 * partition is 'ok'; 'unknown' (budget exhausted) counts as a failure.
 */
export function checkLinearizability<S, O extends TimedOp>(
  history: readonly O[],
  factory: ModelFactory<S, O>,
  options: LinearizabilityOptions = {},
): LinearizabilityReport<O> {
  const clock = options.clock ?? (() => performance.now());
  const startMs = clock();
  const groups = new Map<string, O[]>();
  for (const op of history) {
    const g = groups.get(op.key);
    if (g === undefined) groups.set(op.key, [op]);
    else g.push(op);
  }
  const keys: KeyVerdict<O>[] = [];
  for (const k of [...groups.keys()].sort()) keys.push(checkPartition(k, groups.get(k)!, factory, options));
  const result: KeyResult = keys.some((v) => v.result === 'illegal')
    ? 'illegal'
    : keys.some((v) => v.result === 'unknown')
      ? 'unknown'
      : 'ok';
  return { valid: result === 'ok', result, keys, elapsedMs: clock() - startMs };
}

/**
 * formatLinearizabilityReport renders a report for humans: one line per key, and for
 * each failed key the tail of the longest linearizable prefix, the operation that
 * could not follow it, the other candidates tried, and the possible states.
 */
export function formatLinearizabilityReport<O>(
  report: LinearizabilityReport<O>,
  describeOp: (op: O) => string,
  prefixTail = 8,
): string {
  const lines: string[] = [`linearizability: ${report.result} (${report.keys.length} keys, ${report.elapsedMs.toFixed(0)} ms)`];
  for (const k of report.keys) {
    const budget = k.budgetExhausted === undefined ? '' : ` (budget exhausted: ${k.budgetExhausted})`;
    lines.push(`  ${k.key}: ${k.result}${budget}, ${k.opCount} ops, ${k.steps} steps, ${k.elapsedMs.toFixed(0)} ms`);
    const e = k.explanation;
    if (k.result === 'ok' || e === undefined) continue;
    const prefix = e.linearizedPrefix;
    const skipped = Math.max(0, prefix.length - prefixTail);
    lines.push(`    longest linearizable prefix: ${prefix.length} ops${skipped > 0 ? `, last ${prefix.length - skipped}:` : ':'}`);
    for (const op of prefix.slice(skipped)) lines.push(`      ${describeOp(op)}`);
    lines.push(`    cannot linearize: ${describeOp(e.stuckOp)}`);
    for (const op of e.triedOps) if (op !== e.stuckOp) lines.push(`    also tried:       ${describeOp(op)}`);
    for (const s of e.statesAfterPrefix) lines.push(`    possible state:   ${s}`);
  }
  return lines.join('\n');
}
