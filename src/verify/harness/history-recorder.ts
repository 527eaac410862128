/**
 * The history of a verify run as it is recorded: operations in completion order,
 * with ids unique within the run. Workloads append; the run writes the JSON-lines
 * file and hands the list to the checkers.
 */
import type { Operation } from '../history.js';

/** MAX_RECORDED_OPS bounds a run's history (a 10-minute run records far fewer). */
export const MAX_RECORDED_OPS = 2_000_000;

/** HistoryRecorder hands out operation ids and collects completed operations. */
export class HistoryRecorder {
  private readonly ops: Operation[] = [];
  private next = 1;

  /** nextId reserves the id of an operation about to be invoked. */
  nextId(): number {
    return this.next++;
  }

  /** add records a completed (or abandoned) operation. */
  add(op: Operation): void {
    if (this.ops.length >= MAX_RECORDED_OPS) throw new Error(`history exceeds ${MAX_RECORDED_OPS} operations`);
    this.ops.push(op);
  }

  /** operations is the history so far, in completion order. */
  get operations(): readonly Operation[] {
    return this.ops;
  }
}
