import { assert } from '../raft/index.js';
import type { HostClock } from './host-io.js';

/**
 * TableTimeBase ties the lease table's time to this leader's monotonic clock:
 * table time `tableMs` was current when the monotonic clock read `monotonicMs`.
 */
interface TableTimeBase {
  readonly term: number;
  readonly tableMs: number;
  readonly monotonicMs: number;
}

/**
 * LeaseClock is a leader's estimate of the lease table's time. Table time is
 * what the leader stamps into commands and compares deadlines with; it
 * advances only by the elapsed time of the current leader's monotonic clock:
 *
 *   tableTime = (table time when this term's no-op applied here)
 *             + (monotonic now - monotonic then)
 *
 * Why (issue 11): stamping the wall clock let a new leader whose clock ran
 * D ms ahead move table time, and so every deadline, D ms closer, and a
 * forward NTP step did the same without a leader change. With this rule a
 * leader change only ever pauses table time (between the old leader's last
 * committed stamp and the new leader's base), which lengthens leases and
 * never shortens them, and no machine's wall clock matters. What remains is
 * the clock rate: a lease of ttl table-ms lasts at least ttl / (1 + ρ) real ms,
 * and clients date their leases on their own monotonic clocks with the margin
 * `leaseSafetyMarginMsMin` (src/api/contract.ts), which covers ρ = MAX_CLOCK_RATE_ERROR.
 *
 * The base is taken when the leader applies the no-op that opens its term
 * (Raft §8): at that point this node has applied every entry committed before
 * the term, so the table's time is the largest stamp any earlier leader
 * committed, and no earlier stamp is ahead of the base. Until then the leader
 * has no base: it proposes no expiry and stamps its commands with 0, which
 * leaves table time where it is (stamps only move it forward). That is safe:
 * such a command applies after the no-op, at the table time T0 the base is
 * then taken from, so its lease runs from the base's moment, which comes
 * after the request was sent.
 */
export class LeaseClock {
  private base: TableTimeBase | null = null;

  constructor(private readonly clock: HostClock) {}

  /** startTerm records the base of `term`: the table's time `tableMs` is current now. */
  startTerm(term: number, tableMs: number): void {
    assert(this.base === null || term > this.base.term, () => `lease clock base for term ${term} after term ${this.base?.term}`);
    this.base = { term, tableMs, monotonicMs: this.clock.monotonicMs() };
  }

  /** stop forgets the base: this node no longer leads (a later term takes a new base). */
  stop(): void {
    this.base = null;
  }

  /** hasBase says whether table time is known for `term` (this node leads it and has applied its no-op). */
  hasBase(term: number): boolean {
    return this.base !== null && this.base.term === term;
  }

  /**
   * stampMs is the table time to stamp into a command proposed now, in `term`: 0 (no time) before the term's base
   * is known. Whole milliseconds, so replicas store and compare integers.
   */
  stampMs(term: number): number {
    const base = this.base;
    if (base === null || base.term !== term) return 0;
    const elapsedMs = this.clock.monotonicMs() - base.monotonicMs;
    assert(elapsedMs >= 0, () => `monotonic clock went back by ${-elapsedMs} ms`);
    return Math.floor(base.tableMs + elapsedMs);
  }
}
