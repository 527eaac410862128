// @ts-check
/**
 * The StrykerJS settings shared by every scope of `npm run mutate`
 * (test/mutation/mutate.mjs adds the files to mutate, the tests to run and
 * the report paths of one scope). Only in-process suites run under mutation:
 * each mutant costs one run of the tests that cover it, and a test that
 * starts real processes would take seconds per mutant and load the machine.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
const config = {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner', './test/mutation/ignore-invariants.mjs'],
  ignorers: ['invariant-assertions'],
  vitest: { configFile: 'test/mutation/vitest.mutation.config.ts', related: true },
  // Each mutant runs only the tests that executed its code in the dry run.
  coverageAnalysis: 'perTest',
  // The machine has 2 cores shared with other work; MUTATE_CONCURRENCY=1 when
  // several scopes run at once.
  concurrency: Number(process.env['MUTATE_CONCURRENCY'] ?? 2),
  // Added to the covering tests' normal run time x timeoutFactor: a loaded
  // machine must not turn a slow but correct run into a "timeout" kill.
  // Stryker counts a timeout as detected; at factor 2 and 10 s, 27 of 36
  // "timeouts" of one run (load ~8) survived when rerun on one worker.
  timeoutMS: 20_000,
  timeoutFactor: 3,
  // Incremental mode: a rerun re-tests only mutants whose code or covering
  // tests changed (the file is per scope, under the git-ignored reports/).
  incremental: true,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  tempDirName: 'reports/mutation/.stryker-tmp',
  cleanTempDir: true,
  // The sandbox is a copy of the repo: leave out what no in-process test reads.
  ignorePatterns: ['dist', 'reports', 'data', 'test-runs', 'docker', 'bench/results', '*.cpuprofile'],
  thresholds: { high: 90, low: 80, break: null },
};

export default config;
