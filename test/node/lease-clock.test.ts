import { describe, expect, it } from 'vitest';
import { LeaseClock } from '../../src/node/lease-clock.js';
import type { HostClock } from '../../src/node/host-io.js';

/** A clock the test moves by hand; the wall clock is far off on purpose: it must never matter. */
class HandClock implements HostClock {
  monoMs = 1_000.25;
  wallMs(): number {
    return 9_999_999_999;
  }
  monotonicMs(): number {
    return this.monoMs;
  }
}

/**
 * Table time (issue 11): a leader's table time is the table's time at its term's base plus the monotonic time
 * elapsed since, in whole ms; without a base for the term it stamps 0 (no time), so it never moves a deadline closer.
 */
describe('LeaseClock: table time advances only by this leader\'s monotonic clock within its term', () => {
  it('stamps 0 before the term has a base, and for any other term', () => {
    const clock = new HandClock();
    const lease = new LeaseClock(clock);
    expect(lease.hasBase(3)).toBe(false);
    expect(lease.stampMs(3)).toBe(0);
    lease.startTerm(3, 50_000);
    expect(lease.hasBase(3)).toBe(true);
    expect(lease.hasBase(2)).toBe(false);
    expect(lease.hasBase(4)).toBe(false);
    expect(lease.stampMs(2)).toBe(0);
    expect(lease.stampMs(4)).toBe(0);
  });

  it('is the base table time plus the whole monotonic ms elapsed since the base', () => {
    const clock = new HandClock();
    const lease = new LeaseClock(clock);
    lease.startTerm(3, 50_000);
    expect(lease.stampMs(3)).toBe(50_000);
    clock.monoMs += 1_234.9;
    // Floor, not round: table time never runs ahead of the elapsed time.
    expect(lease.stampMs(3)).toBe(51_234);
    clock.monoMs += 0.2;
    expect(lease.stampMs(3)).toBe(51_235);
  });

  it('forgets the base when this node stops leading, and a later term takes a new one', () => {
    const clock = new HandClock();
    const lease = new LeaseClock(clock);
    lease.startTerm(3, 50_000);
    clock.monoMs += 500;
    lease.stop();
    expect(lease.hasBase(3)).toBe(false);
    expect(lease.stampMs(3)).toBe(0);
    clock.monoMs += 10_000;
    // The new base is the table's time then: the 10 s while this node did not lead do not count.
    lease.startTerm(5, 50_400);
    expect(lease.stampMs(5)).toBe(50_400);
    clock.monoMs += 100;
    expect(lease.stampMs(5)).toBe(50_500);
  });

  it('refuses a base for a term not after the current base\'s', () => {
    const lease = new LeaseClock(new HandClock());
    lease.startTerm(3, 0);
    expect(() => lease.startTerm(3, 0)).toThrow(/after term 3/);
  });
});
