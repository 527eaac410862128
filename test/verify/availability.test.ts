import { describe, expect, it } from 'vitest';
import {
  computeAvailability,
  computeFailover,
  defaultIsUnavailable,
  percentile,
  type FaultWindow,
  type LeaderObservation,
} from '../../src/verify/availability.js';
import { acq, rd, rel } from './ops.js';

const faults: FaultWindow[] = [
  { startMs: 100, endMs: 200, kind: 'partition' },
  { startMs: 500, endMs: 600, kind: 'kill' },
];

describe('computeAvailability', () => {
  it('splits operations by (grace-extended) fault windows and counts outages', () => {
    const history = [
      acq('a', 100, [0, 10], 1), // outside, ok
      acq('b', 100, [20, 30], 'held'), // outside, a definite answer is not an outage
      rd([40, 50], 'fail'), // outside, refused: outage
      acq('c', 100, [60, null], 'unknown'), // outside (gave up time unknown), outage
      acq('d', 100, [90, 110], { error: 'not_leader' }), // overlaps the partition
      rd([210, 220], 'fail'), // inside the grace period after the partition
      rel('a', 1, [300, 310], 'not_holder'), // outside
      rd([590, 700], [], 1), // overlaps the kill
    ];
    const rep = computeAvailability(history, faults, { graceMs: 50 });
    expect(rep.outside).toEqual({ total: 5, unavailable: 2, fraction: 2 / 5 });
    expect(rep.inside).toEqual({ total: 3, unavailable: 2, fraction: 2 / 3 });
    expect(rep.insideByKind).toEqual({
      kill: { total: 1, unavailable: 0, fraction: 0 },
      partition: { total: 2, unavailable: 2, fraction: 1 },
    });
  });

  it('without grace, an op right after a window is outside', () => {
    const rep = computeAvailability([rd([210, 220], 'fail')], faults, { graceMs: 0 });
    expect(rep.outside.unavailable).toBe(1);
    expect(rep.inside.total).toBe(0);
  });

  it('accepts a custom classification and handles an empty history', () => {
    const rep = computeAvailability([acq('b', 100, [20, 30], 'held')], [], { graceMs: 0, isUnavailable: () => true });
    expect(rep.outside.fraction).toBe(1);
    expect(computeAvailability([], faults, { graceMs: 0 }).outside).toEqual({ total: 0, unavailable: 0, fraction: 0 });
  });

  it('default classification: unknown and non-contract failures only', () => {
    expect(defaultIsUnavailable(acq('a', 1, [0, 1], 'held'))).toBe(false);
    expect(defaultIsUnavailable(rel('a', 1, [0, 1], 'not_holder'))).toBe(false);
    expect(defaultIsUnavailable(acq('a', 1, [0, 1], { error: 'timeout' }))).toBe(true);
    expect(defaultIsUnavailable(rd([0, null], 'unknown'))).toBe(true);
  });

  it('rejects a window that ends before it starts', () => {
    expect(() => computeAvailability([], [{ startMs: 5, endMs: 1, kind: 'x' }], { graceMs: 0 })).toThrow(/ends before/);
  });
});

describe('percentile', () => {
  it('is nearest-rank', () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 99)).toBe(10);
    expect(percentile(xs, 100)).toBe(10);
    expect(percentile([7], 1)).toBe(7);
    expect(percentile([], 50)).toBeNull();
    expect(() => percentile(xs, 0)).toThrow();
  });
});

describe('computeFailover', () => {
  it('measures time to a new leader after each fault', () => {
    const obs: LeaderObservation[] = [
      { atMs: 50, leader: 'n1', term: 1 },
      { atMs: 120, leader: null },
      { atMs: 130, leader: 'n1', term: 1 }, // stale view of the old leader: not new
      { atMs: 350, leader: 'n2', term: 2 }, // 250 ms after the partition started
      { atMs: 520, leader: 'n2', term: 2 },
      { atMs: 540, leader: 'n3', term: 3 }, // 40 ms after the kill
    ];
    const rep = computeFailover(faults, obs);
    expect(rep.perFault.map((f) => [f.outcome, f.timeToLeaderMs, f.leaderBefore, f.newLeader])).toEqual([
      ['new_leader', 250, 'n1', 'n2'],
      ['new_leader', 40, 'n2', 'n3'],
    ]);
    expect(rep.newLeaderCount).toBe(2);
    expect(rep.medianMs).toBe(40);
    expect(rep.p99Ms).toBe(250);
    expect(rep.maxMs).toBe(250);
  });

  it('uses node identity when terms are not reported', () => {
    const rep = computeFailover([faults[0]!], [
      { atMs: 0, leader: 'n1' },
      { atMs: 150, leader: 'n1' },
      { atMs: 180, leader: 'n2' },
    ]);
    expect(rep.perFault[0]?.timeToLeaderMs).toBe(80);
  });

  it('classifies faults without a change or without any leader', () => {
    const rep = computeFailover(faults, [
      { atMs: 0, leader: 'n1', term: 1 },
      { atMs: 150, leader: 'n1', term: 1 }, // a follower was partitioned: same leader
      { atMs: 550, leader: null }, // after the kill: nobody leads until the end
    ]);
    expect(rep.perFault.map((f) => f.outcome)).toEqual(['same_leader', 'no_leader_seen']);
    expect(rep.sameLeaderCount).toBe(1);
    expect(rep.noLeaderSeenCount).toBe(1);
    expect(rep.medianMs).toBeNull();
    expect(rep.maxMs).toBeNull();
  });

  it('does not credit a fault with a leader elected after the next fault began', () => {
    const rep = computeFailover(faults, [
      { atMs: 0, leader: 'n1', term: 1 },
      { atMs: 510, leader: 'n2', term: 2 },
    ]);
    expect(rep.perFault[0]?.outcome).toBe('no_leader_seen');
    expect(rep.perFault[1]?.timeToLeaderMs).toBe(10);
  });
});
