/**
 * What every verify workload offers the run: its lock names (read again after
 * healing), its longest lease (client pauses outlast it), the client pauses it
 * honours, and a run loop bounded by the end of the fault phase.
 */
import type { ClientPauses } from './client-pause.js';
import type { ToyResource } from './resource-server.js';

/** WorkloadName is what --workload selects. */
export type WorkloadName = 'linearizable' | 'fenced' | 'control';

/** WORKLOAD_NAMES lists the workloads. */
export const WORKLOAD_NAMES: readonly WorkloadName[] = ['linearizable', 'fenced', 'control'];

/** CounterTally is what a fenced workload counted. */
export interface CounterTally {
  /** Increments whose write the resource accepted. */
  acknowledged: number;
  /** Writes the resource rejected (stale token). */
  rejected: number;
  /** Read-modify-writes abandoned because the fenced read was rejected. */
  abandoned: number;
}

/** Workload is one running workload. */
export interface Workload {
  readonly name: WorkloadName;
  readonly keys: readonly string[];
  readonly maxTtlMs: number;
  readonly pauses: ClientPauses;
  /** The toy resource, for the fenced workloads. */
  readonly resource: ToyResource | null;
  readonly tally: CounterTally | null;
  /** run drives every client until endMs (run clock) and resolves when all have stopped. */
  run(endMs: number): Promise<void>;
}
