import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LIVENESS_BOUND_MS, runSchedule, type ProfileName, type ScheduleResult } from './schedule.js';

/**
 * The default simulation run: 1,500 seeded schedules of the production
 * RaftHost + LockService + LeaseTable over simulated I/O (1,000 with the mixed
 * fault profile, 200 each with the crash-heavy and the leader-isolation
 * profiles, 100 with the membership-change-heavy profile the broken-variant
 * tests use), both cluster sizes, membership changes by a simulated operator
 * in every profile, every Raft, membership and lock invariant checked after
 * every event, each followed by the liveness phase. A failure message carries the
 * one-line replay command (`SIM_SEED=... SIM_NODES=... npm run sim`).
 *
 * The fast-check seed is fixed so CI runs the same schedules every time; set
 * SIM_FC_SEED to explore others.
 */
const FC_SEED = Number(process.env['SIM_FC_SEED'] ?? 7_2024);
/**
 * Schedules per block. `npm run mutate` sets SIM_RUNS_PER_BLOCK=30 (the same
 * profiles and fast-check seeds, 450 schedules, ~6 s): a surviving mutant runs
 * every test that covers it, and the full 1,500 would cost 20 s per survivor.
 */
const RUNS_PER_BLOCK = Number(process.env['SIM_RUNS_PER_BLOCK'] ?? 100);
const FULL_RUN = RUNS_PER_BLOCK === 100;
const BLOCKS: readonly { profile: ProfileName; blocks: number }[] = [
  { profile: 'mixed', blocks: 10 },
  { profile: 'crashy', blocks: 2 },
  { profile: 'isolate-leader', blocks: 2 },
  { profile: 'membership', blocks: 1 },
];

const totals = { schedules: 0, nodes3: 0, nodes5: 0, events: 0, livenessMaxMs: 0 };
const counters: Record<string, number> = {};

function record(r: ScheduleResult): void {
  totals.schedules++;
  if (r.nodes === 3) totals.nodes3++;
  else totals.nodes5++;
  totals.events += r.events;
  totals.livenessMaxMs = Math.max(totals.livenessMaxMs, r.livenessMs ?? 0);
  for (const [k, v] of Object.entries(r.stats)) counters[k] = (counters[k] ?? 0) + v;
}

describe('deterministic cluster simulation (the real host and lease table)', () => {
  let block = 0;
  for (const { profile, blocks } of BLOCKS) {
    for (let b = 0; b < blocks; b++) {
      const fcSeed = FC_SEED + block++;
      it(`${profile} faults: ${RUNS_PER_BLOCK} schedules, block ${b + 1}/${blocks} (fast-check seed ${fcSeed})`, () => {
        fc.assert(
          fc.property(fc.integer({ min: 0, max: 0x7fffffff }), fc.constantFrom<3 | 5>(3, 5), (seed, nodes) => {
            const r = runSchedule({ seed, nodes, profile });
            record(r);
            if (!r.ok) throw r.error!;
          }),
          // No shrinking: a smaller seed is not a simpler schedule; the replay command is the minimal report.
          { numRuns: RUNS_PER_BLOCK, seed: fcSeed, endOnFailure: true },
        );
      });
    }
  }

  it('replays a schedule exactly from its seed', () => {
    const a = runSchedule({ seed: 4242, nodes: 5 });
    const b = runSchedule({ seed: 4242, nodes: 5 });
    expect(a.ok).toBe(true);
    expect(b.events).toBe(a.events);
    expect(b.virtualMs).toBe(a.virtualMs);
    expect(b.stats).toEqual(a.stats);
    // A different seed is a different schedule.
    expect(runSchedule({ seed: 4243, nodes: 5 }).events).not.toBe(a.events);
  });

  afterAll(() => {
    console.log(
      `simulation: ${totals.schedules} schedules (${totals.nodes3} with 3 nodes, ${totals.nodes5} with 5), ${totals.events} events, ` +
        `liveness max ${totals.livenessMaxMs} ms of ${LIVENESS_BOUND_MS} ms bound; ${JSON.stringify(counters)}`,
    );
  });

  it('covered both sizes and exercised every fault and protocol path', () => {
    const expected = BLOCKS.reduce((n, b) => n + b.blocks * RUNS_PER_BLOCK, 0);
    expect(totals.schedules).toBe(expected);
    if (FULL_RUN) expect(totals.schedules).toBeGreaterThanOrEqual(1000);
    expect(totals.nodes3).toBeGreaterThan(expected / 4);
    expect(totals.nodes5).toBeGreaterThan(expected / 4);
    // Guards against a silently toothless simulation (e.g. a schedule that never crashes or never snapshots).
    for (const key of ['crashes', 'restarts', 'snapshotsTaken', 'snapshotsInstalled', 'readsServed', 'acked', 'transfers', 'messagesDropped', 'grantsSeen', 'grantsAcked', 'releasesAcked', 'expiries', 'joins', 'learnersAdded', 'votersRemoved']) {
      expect(counters[key] ?? 0, key).toBeGreaterThan(expected);
    }
    // A learner is promoted in about every other schedule (others are removed first, or wait for a member that is down).
    expect(counters['promotions'] ?? 0, 'promotions').toBeGreaterThan(expected / 2);
    // Queued waiters granted later, from the queue, are the rarer path: at least one per ten schedules.
    expect(counters['waiterGrants'] ?? 0, 'waiterGrants').toBeGreaterThan(expected / 10);
    expect(counters['leadersElected'] ?? 0).toBeGreaterThan(expected * 2);
  });
});
