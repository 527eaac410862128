import type { Random } from './types.js';
import { assert } from './invariant.js';

/**
 * SeededRandom is a small deterministic generator (mulberry32). The core takes
 * its randomness only from an injected instance, so one seed replays a whole
 * simulated cluster exactly; the server seeds it from the OS at start.
 */
export class SeededRandom implements Random {
  private state: number;

  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), `seed must be a safe integer, got ${seed}`);
    this.state = (seed ^ 0x9e3779b9) >>> 0;
  }

  /** next returns a float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** nextInt returns an integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number {
    assert(Number.isSafeInteger(maxExclusive) && maxExclusive > 0, `nextInt bound must be a positive integer, got ${maxExclusive}`);
    return Math.floor(this.next() * maxExclusive);
  }

  /** fork derives an independent generator, so adding draws in one place does not shift another's sequence. */
  fork(): SeededRandom {
    return new SeededRandom(Math.floor(this.next() * 0x7fffffff));
  }
}
