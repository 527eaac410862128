/**
 * Backoff computes reconnect delays: exponential in the number of consecutive
 * failures, capped, with jitter so that peers that lost a node at the same
 * moment do not all redial it in lockstep ("full jitter" above a floor).
 */
import { assert } from '../raft/invariant.js';

export class Backoff {
  private failures = 0;

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    assert(Number.isFinite(minMs) && minMs > 0 && maxMs >= minMs, `backoff bounds must satisfy 0 < min <= max, got ${minMs}..${maxMs}`);
  }

  /** attempt is the number of consecutive failures so far. */
  get attempt(): number {
    return this.failures;
  }

  /** nextDelayMs records one more failure and returns a delay in [minMs, min(maxMs, minMs * 2^failures)]. */
  nextDelayMs(): number {
    // Cap the exponent so the power stays finite; 2^20 * min is far above any sane max.
    const ceilingMs = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.failures, 20));
    this.failures += 1;
    const delayMs = this.minMs + this.random() * (ceilingMs - this.minMs);
    return Math.round(delayMs);
  }

  /** reset forgets the failures after a successful connection. */
  reset(): void {
    this.failures = 0;
  }
}
