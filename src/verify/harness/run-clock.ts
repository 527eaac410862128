/**
 * The harness's one clock: milliseconds since the run started, from the monotonic
 * performance.now(), so wall-clock steps cannot reorder a history. Every history
 * record, nemesis window and leader observation of a run is on this clock.
 */

/** RunClock measures harness time relative to its creation. */
export class RunClock {
  private readonly originMs = performance.now();

  /** nowMs is the time since the run started, rounded to 0.01 ms to keep files short. */
  nowMs(): number {
    return Math.round((performance.now() - this.originMs) * 100) / 100;
  }
}

/** sleep resolves after `ms` (bounded by the caller; never used where an event can be awaited). */
export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, Math.max(0, ms)));
}
