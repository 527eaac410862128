import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The vitest config that `npm run mutate` runs each mutant under. The test
 * files come from RAFTLOCK_MUTATION_TESTS (comma-separated globs, set by
 * test/mutation/mutate.mjs per scope) so that a scope runs only its own
 * in-process suites. Scale tests measure speed and memory, not behaviour, and
 * would add seconds to every mutant they cover.
 */
const include = (process.env['RAFTLOCK_MUTATION_TESTS'] ?? '')
  .split(',')
  .map((glob) => glob.trim())
  .filter((glob) => glob.length > 0);
if (include.length === 0) {
  throw new Error('RAFTLOCK_MUTATION_TESTS is empty: run mutation through `npm run mutate -- <folder>`');
}

/** costRank orders a test file: example tests, then property tests, then the simulation. */
function costRank(moduleId: string): number {
  if (moduleId.includes('/test/sim/')) return 2;
  if (moduleId.endsWith('.property.test.ts')) return 1;
  return 0;
}

/**
 * CheapestFirst runs fast example tests before property tests and the
 * simulation. Stryker stops at a mutant's first failing test, so most
 * mutants are killed before the expensive files start; vitest's own order
 * (slowest file first) would run them first for every mutant.
 */
class CheapestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort(
      (a, b) => costRank(a.moduleId) - costRank(b.moduleId) || a.moduleId.localeCompare(b.moduleId),
    );
  }
}

// The short simulation profile (see test/sim/simulation.test.ts): 30 schedules per block.
process.env['SIM_RUNS_PER_BLOCK'] ??= '30';

export default defineConfig({
  test: {
    include,
    // Broken-variant tests plant their own bug and expect the simulation to find it:
    // they test the checkers (not mutated), and cost seconds per mutant.
    exclude: ['**/*.scale.test.ts', '**/broken-variants.test.ts', '**/node_modules/**'],
    setupFiles: ['test/mutation/fast-check-setup.ts'],
    sequence: { sequencer: CheapestFirst },
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
