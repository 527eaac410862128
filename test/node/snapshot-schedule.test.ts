import { describe, expect, it } from 'vitest';
import { nextSnapshotIndex, snapshotPhase } from '../../src/node/snapshot-schedule.js';

describe('snapshot schedule', () => {
  it('puts each member on its own grid point, so members of a cluster never snapshot at the same index', () => {
    const every = 10_000;
    const phases = [0, 1, 2].map((k) => Math.floor((k * every) / 3));
    // The first snapshot of each member, from an empty log.
    expect(phases.map((p) => nextSnapshotIndex(0, p, every))).toEqual([10_000, 3_333, 6_666]);
    // After a snapshot taken a little late (the Ready carried several entries), the next is back on the grid.
    expect(nextSnapshotIndex(3_340, 3_333, every)).toBe(13_333);
    expect(nextSnapshotIndex(13_333, 3_333, every)).toBe(23_333);
    // A snapshot received from the leader at an arbitrary index: the next own one is the next grid point.
    expect(nextSnapshotIndex(25_000, 6_666, every)).toBe(26_666);
    // Over a long run the three members' snapshots stay a third of the interval apart.
    const taken = phases.map((p) => {
      const points: number[] = [];
      let snap = 0;
      for (let i = 0; i < 5; i++) {
        snap = nextSnapshotIndex(snap, p, every) + 7; // applied a few entries past the point
        points.push(snap);
      }
      return points;
    });
    for (let i = 0; i < 5; i++) {
      const at = taken.map((points) => points[i]!).sort((a, b) => a - b);
      expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(3_333);
      expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(3_333);
    }
  });

  it('places member k of n (in sorted id order) at k/n of the interval, whatever the order of the member list', () => {
    const every = 9_000;
    expect(['n1', 'n2', 'n3'].map((id) => snapshotPhase(['n3', 'n1', 'n2'], id, every))).toEqual([0, 3_000, 6_000]);
    // A member not (yet) in the list takes its own slot among them, not another member's.
    expect(snapshotPhase(['n3', 'n1'], 'n2', every)).toBe(3_000);
    // Listed twice, a member still counts once.
    expect(snapshotPhase(['n2', 'n2', 'n1'], 'n2', 10_000)).toBe(5_000);
  });

  it('refuses a phase outside the interval', () => {
    expect(() => nextSnapshotIndex(0, 10_000, 10_000)).toThrow(/phase/);
    expect(() => nextSnapshotIndex(0, -1, 10_000)).toThrow(/phase/);
  });
});
