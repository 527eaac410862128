// `npm run mutate -- <folder or file> [...]`: StrykerJS mutation testing of
// one scope over the in-process suites that test it. Examples:
//   npm run mutate -- src/locks
//   npm run mutate -- src/node/lease-clock.ts src/node/pending-requests.ts
//   npm run mutate -- src/server/lock-routes.ts
//   npm run mutate -- src/node/raft-host.ts:363-512   (a line range of one file)
// Each scope keeps its own incremental file and report under the git-ignored
// reports/mutation/<scope>/, so a rerun tests only mutants whose code or
// covering tests changed. Shared settings: test/mutation/stryker.config.mjs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { Stryker } from '@stryker-mutator/core';
import baseConfig from './stryker.config.mjs';

/**
 * The in-process suites that test each source folder. Suites that start real
 * `raftlock serve` processes (test/e2e, most of test/node) are left out: they
 * take seconds per mutant; the simulation runs the real host in-process.
 */
const SUITES = {
  'src/locks': ['test/locks/**/*.test.ts'],
  'src/raft': ['test/raft/**/*.test.ts', 'test/sim/**/*.test.ts'],
  'src/node': [
    'test/sim/**/*.test.ts',
    ...[
      'divergence-check',
      'election-counter',
      'host-membership',
      'leader-hand-off',
      'lease-clock',
      'lock-service-rules',
      'lock-watches',
      'member-health',
      'member-store',
      'node-config',
      'peer-refusal-tap',
      'pending-proposals',
      'pending-reads',
      'raft-host-apply',
      'raft-host-durability',
      'raft-host-requests',
      'recent-events',
      'session-keepalives',
      'snapshot-schedule',
      'soft-state-watch',
      'take-backup',
    ].map((name) => `test/node/${name}.test.ts`),
  ],
  // The route plugins run in-process under test/client (real plugins over one
  // in-process lease table on loopback) and test/server.
  'src/server': ['test/server/**/*.test.ts', 'test/client/**/*.test.ts'],
};

function usage(message) {
  process.stderr.write(
    `${message}\nusage: npm run mutate -- <path> [...]  (a folder or .ts file under ${Object.keys(SUITES).join(', ')})\n`,
  );
  process.exit(2);
}

/** suiteOf returns the SUITES key a repo-relative path lies under. */
function suiteOf(path) {
  const key = Object.keys(SUITES).find((folder) => path === folder || path.startsWith(`${folder}/`));
  if (key === undefined) usage(`no in-process suites are set up for ${path}`);
  return key;
}

/** A file with a line range (`file.ts:10-80`, Stryker's own syntax): only that part of the file is mutated. */
const LINE_RANGE = /\.ts:\d+-\d+$/;
const paths = process.argv.slice(2).map((arg) => {
  const range = LINE_RANGE.test(arg) ? arg.slice(arg.lastIndexOf(':')) : '';
  return relative(process.cwd(), resolve(arg.slice(0, arg.length - range.length))).replaceAll('\\', '/') + range;
});
if (paths.length === 0) usage('name what to mutate');
const mutate = [];
const tests = new Set();
for (const path of paths) {
  if (path.endsWith('.ts') || LINE_RANGE.test(path)) mutate.push(path);
  else mutate.push(`${path}/**/*.ts`, `!${path}/**/index.ts`);
  for (const glob of SUITES[suiteOf(path)]) tests.add(glob);
}

const scope = paths.join('+').replaceAll('/', '_').replaceAll(':', '_');
const reportDir = `reports/mutation/${scope}`;
mkdirSync(reportDir, { recursive: true });
// Read by test/mutation/vitest.mutation.config.ts in every Stryker worker.
process.env['RAFTLOCK_MUTATION_TESTS'] = [...tests].join(',');

const startedAtMs = Date.now();
const results = await new Stryker({
  ...baseConfig,
  mutate,
  incrementalFile: `${reportDir}/incremental.json`,
  htmlReporter: { fileName: `${reportDir}/index.html` },
  jsonReporter: { fileName: `${reportDir}/mutation.json` },
}).runMutationTest();
const elapsedS = Math.round((Date.now() - startedAtMs) / 1000);

const counts = {};
for (const result of results) counts[result.status] = (counts[result.status] ?? 0) + 1;
const detected = (counts.Killed ?? 0) + (counts.Timeout ?? 0);
const undetected = (counts.Survived ?? 0) + (counts.NoCoverage ?? 0);
const scorePct = detected + undetected === 0 ? 100 : (100 * detected) / (detected + undetected);
const summary = {
  scope: paths,
  tests: [...tests],
  elapsedS,
  scorePct: Number(scorePct.toFixed(2)),
  counts,
  report: `${reportDir}/index.html`,
};
writeFileSync(`${reportDir}/summary.json`, `${JSON.stringify(summary, null, 2)}\n`);
process.stdout.write(`\nmutation ${paths.join(' ')}: score ${summary.scorePct}% in ${elapsedS} s ${JSON.stringify(counts)}\n`);
