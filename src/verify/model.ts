/**
 * The sequential specification a linearizability checker tests a history against.
 *
 * Models are nondeterministic (as in Porcupine's NondeterministicModel): `step`
 * returns every state the object may be in after the operation, so hidden events
 * such as a lease expiring, or an unknown operation taking effect or not, are a
 * branching choice rather than a guess. The checker tracks the set of possible
 * states (the power-set construction), so an empty result means "illegal here".
 */
import type { OpStatus } from './history.js';

/** TimedOp is what the checker needs of an operation: identity, partition key and real-time interval. */
export interface TimedOp {
  readonly id: number;
  readonly key: string;
  readonly status: OpStatus;
  readonly invokeMs: number;
  /** Ignored (treated as +∞) when status is 'unknown'. */
  readonly completeMs: number | null;
}

/** KeyModel is the specification of one partition (one lock name). */
export interface KeyModel<S, O extends TimedOp> {
  /** init returns the possible initial states (at least one). */
  init(): readonly S[];
  /**
   * step returns every state possible after `op` is linearized in `state` with the
   * output the history recorded; empty if that output is impossible. For an op of
   * unknown outcome it must include every effect the op may have had, including none.
   */
  step(state: S, op: O): readonly S[];
  /** key is a canonical string: equal keys must mean equal states (used for memoization). */
  key(state: S): string;
  /**
   * prune may drop states subsumed by another state of the same set (every future
   * the dropped one allows, the kept one allows too). Optional; must keep at least one.
   */
  prune?(states: readonly S[]): readonly S[];
  /** describe renders a state for explanations; defaults to key. */
  describe?(state: S): string;
  /**
   * isNoOp marks operations that are legal in every state and change nothing (e.g. a
   * failed read); the checker drops them, which only removes constraints.
   */
  isNoOp?(op: O): boolean;
}

/** ModelFactory builds the model of one partition; it may precompute from that partition's operations. */
export type ModelFactory<S, O extends TimedOp> = (partitionOps: readonly O[], key: string) => KeyModel<S, O>;

/** ModelBudgetError lets a model abandon a step that would blow up; the checker turns it into an 'unknown' verdict. */
export class ModelBudgetError extends Error {
  readonly code = 'model_budget';
  constructor(message: string) {
    super(message);
    this.name = 'ModelBudgetError';
  }
}
