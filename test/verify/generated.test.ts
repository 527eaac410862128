/**
 * Generated histories: a correct simulated lock server must always pass; mutations
 * that are illegal for every execution must always be caught; arbitrary mutations
 * must be caught most of the time; and a 10,000-op history must check in seconds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeOp, type Operation } from '../../src/verify/history.js';
import { checkLockHistory } from '../../src/verify/lock-model.js';
import { checkFencing } from '../../src/verify/fencing-checker.js';
import { checkNoLostAck } from '../../src/verify/no-lost-ack.js';
import type { LinearizabilityReport } from '../../src/verify/linearizability.js';
import { GUARANTEED_KINDS, guaranteedMutations, randomMutation } from './mutations.js';
import { DEFAULT_SIM, mulberry32, simulate, type SimParams } from './sim-lock-server.js';

const simParams = (maxOps: number): fc.Arbitrary<SimParams> =>
  fc.record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    clients: fc.integer({ min: 1, max: 8 }),
    keys: fc.integer({ min: 1, max: 3 }),
    ops: fc.integer({ min: 5, max: maxOps }),
    ttlMs: fc.integer({ min: 5, max: 200 }),
    maxLatencyMs: fc.integer({ min: 1, max: 30 }),
    unknownRate: fc.double({ min: 0, max: 0.35, noNaN: true }),
    notLeaderRate: fc.double({ min: 0, max: 0.1, noNaN: true }),
    expirySlackMaxMs: fc.integer({ min: 0, max: 60 }),
    tokenGapMax: fc.integer({ min: 0, max: 3 }),
    reentrantRenews: fc.boolean(),
  });

function explain(rep: LinearizabilityReport<Operation>): string {
  return rep.keys
    .filter((k) => k.result !== 'ok')
    .map((k) => {
      const e = k.explanation;
      const tail = e === undefined ? '' : e.linearizedPrefix.slice(-6).map(describeOp).join('\n  ');
      return `${k.key}: ${k.result} ${k.budgetExhausted ?? ''}\n  ${tail}\n  STUCK ${e ? describeOp(e.stuckOp) : '-'}\n  ${e?.statesAfterPrefix.join('\n  ') ?? ''}`;
    })
    .join('\n');
}

describe('a correct lock server always passes', () => {
  it('ambient mode (default), 150 random runs', () => {
    fc.assert(
      fc.property(simParams(300), (p) => {
        const sim = simulate(p);
        const rep = checkLockHistory(sim.history, { marginMs: 0 });
        if (!rep.valid) throw new Error(`false alarm for ${JSON.stringify(p)}\n${explain(rep)}`);
        // The same run, with the final reads, keeps every acknowledgement.
        const acks = checkNoLostAck(sim.history, sim.finalReads, { marginMs: 0 });
        expect(acks.violations).toEqual([]);
        expect(checkFencing(sim.history, []).violations).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('exact mode, 100 small random runs', () => {
    fc.assert(
      fc.property(simParams(40), (p) => {
        const rep = checkLockHistory(simulate(p).history, { marginMs: 0, unknownOps: 'exact', maxSteps: 200_000 });
        if (!rep.valid) throw new Error(`false alarm for ${JSON.stringify(p)}\n${explain(rep)}`);
      }),
      { numRuns: 100 },
    );
  });

  it('a server passes when the model is told its reentrant-lease policy', () => {
    fc.assert(
      fc.property(simParams(200), (p) => {
        const renewing = checkLockHistory(simulate({ ...p, reentrantRenews: true }).history, { marginMs: 0, reentrantRenewsLease: 'yes' });
        if (!renewing.valid) throw new Error(`false alarm for ${JSON.stringify(p)}\n${explain(renewing)}`);
        const rep = checkLockHistory(simulate({ ...p, reentrantRenews: false }).history, { marginMs: 0, reentrantRenewsLease: 'no' });
        if (!rep.valid) throw new Error(`false alarm for ${JSON.stringify(p)}\n${explain(rep)}`);
      }),
      { numRuns: 50 },
    );
  });
});

describe('mutations', () => {
  it('every guaranteed-illegal mutation is caught, in both modes', () => {
    const tried = new Map<string, number>();
    fc.assert(
      fc.property(simParams(60), fc.constantFrom(...GUARANTEED_KINDS), fc.nat(), (p, kind, pick) => {
        const sim = simulate(p);
        const variants = guaranteedMutations(sim.history, kind);
        if (variants.length === 0) return;
        const v = variants[pick % variants.length]!;
        tried.set(kind, (tried.get(kind) ?? 0) + 1);
        // Ambient mode must prove the violation. Exact mode is exponential in pending
        // unknown ops, so running out of budget ('unknown', a failure verdict) is accepted.
        const ambient = checkLockHistory(v.history, { marginMs: 0 });
        if (ambient.result !== 'illegal') throw new Error(`ambient: ${kind} (${v.what}) not caught: ${ambient.result}\n${explain(ambient)}`);
        const exact = checkLockHistory(v.history, { marginMs: 0, unknownOps: 'exact', maxSteps: 50_000 });
        if (exact.valid) throw new Error(`exact: ${kind} (${v.what}) not caught\n${explain(exact)}`);
      }),
      { numRuns: 300 },
    );
    // Make sure the property exercised every kind, not just skipped.
    for (const kind of GUARANTEED_KINDS) expect(tried.get(kind) ?? 0, kind).toBeGreaterThan(5);
  });

  it('arbitrary single-op mutations are caught most of the time (fixed seeds)', () => {
    let mutated = 0;
    let caught = 0;
    let ambientOnlyMissed = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = mulberry32(seed * 31 + 7);
      const sim = simulate({ ...DEFAULT_SIM, seed, ops: 60, unknownRate: 0.05 });
      const m = randomMutation(sim.history, (n) => Math.floor(rnd() * n));
      if (m === null) continue;
      mutated++;
      const ambient = checkLockHistory(m, { marginMs: 0 });
      const exact = checkLockHistory(m, { marginMs: 0, unknownOps: 'exact', maxSteps: 50_000 });
      // Ambient mode only adds behaviours: whatever it rejects, exact mode rejects too.
      if (!ambient.valid) expect(exact.valid, `seed ${seed}`).toBe(false);
      if (ambient.valid && exact.result === 'illegal') ambientOnlyMissed++;
      if (!ambient.valid) caught++;
    }
    const fraction = caught / mutated;
    console.log(
      `random mutations: ${caught}/${mutated} caught (${(fraction * 100).toFixed(1)}%), ${ambientOnlyMissed} caught only by exact mode`,
    );
    // Not every mutation is illegal (e.g. flipping a refusal that raced with an expiry).
    expect(fraction).toBeGreaterThan(0.75);
  });
});

describe('no lost acknowledgements on generated runs', () => {
  it('dropping a required holder or rolling back lastToken in the final read is caught', () => {
    let required = 0;
    fc.assert(
      fc.property(simParams(200), (p) => {
        const sim = simulate({ ...p, keys: 1 });
        const fr = sim.finalReads[0]!;
        const base = checkNoLostAck(sim.history, sim.finalReads, { marginMs: 0 });
        expect(base.violations).toEqual([]);
        if (fr.status !== 'ok') throw new Error('final read must succeed');
        if (base.grantsRequired > 0) {
          required++;
          const emptied = { ...fr, output: { ...fr.output, holders: [] } };
          expect(checkNoLostAck(sim.history, [emptied], { marginMs: 0 }).violations.map((v) => v.kind)).toContain('lost_grant');
        }
        if (fr.output.lastToken > 0 && sim.history.some((o) => o.f === 'acquire' && o.status === 'ok')) {
          const rolled = { ...fr, output: { ...fr.output, lastToken: 0 } };
          expect(checkNoLostAck(sim.history, [rolled], { marginMs: 0 }).violations.map((v) => v.kind)).toContain(
            'last_token_regressed',
          );
        }
      }),
      { numRuns: 100 },
    );
    expect(required).toBeGreaterThan(3);
  });
});

describe('performance', () => {
  it('10,000 ops across 20 keys with 10 concurrent clients check in seconds', () => {
    const sim = simulate({ ...DEFAULT_SIM, seed: 2024, clients: 10, keys: 20, ops: 10_000 });
    expect(sim.history).toHaveLength(10_000);
    const unknown = sim.history.filter((o) => o.status === 'unknown').length;
    const t0 = performance.now();
    const rep = checkLockHistory(sim.history, { marginMs: 0 });
    const elapsedMs = performance.now() - t0;
    const steps = rep.keys.reduce((n, k) => n + k.steps, 0);
    console.log(
      `linearizability: 10,000 ops (${unknown} unknown), ${rep.keys.length} keys, ${steps} steps in ${elapsedMs.toFixed(0)} ms`,
    );
    expect(rep.result, explain(rep)).toBe('ok');
    expect(rep.keys).toHaveLength(20);
    expect(elapsedMs).toBeLessThan(20_000);

    const t1 = performance.now();
    const acks = checkNoLostAck(sim.history, sim.finalReads, { marginMs: 0 });
    const fencing = checkFencing(sim.history, []);
    console.log(`no-lost-ack + fencing on the same history: ${(performance.now() - t1).toFixed(0)} ms`);
    expect(acks.valid).toBe(true);
    expect(fencing.valid).toBe(true);
  });

  it('a single hot key with heavy timeouts stays tractable', () => {
    const sim = simulate({ ...DEFAULT_SIM, seed: 77, clients: 10, keys: 1, ops: 3_000, unknownRate: 0.3 });
    const t0 = performance.now();
    const rep = checkLockHistory(sim.history, { marginMs: 0 });
    console.log(`hot key: 3,000 ops, 30% unknown: ${rep.keys[0]?.steps} steps in ${(performance.now() - t0).toFixed(0)} ms`);
    expect(rep.result, explain(rep)).toBe('ok');
  });
});
