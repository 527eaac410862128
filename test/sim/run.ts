/**
 * run.ts is the simulation CLI (`npm run sim`, compiled to dist/test/sim/run.js).
 *
 *   SIM_SEEDS=N        schedules to run (default 200), seeds SIM_START_SEED.. (default 1)
 *   SIM_SEED=S         replay exactly one schedule (prints an event trace with SIM_TRACE=1)
 *   SIM_NODES=3|5      cluster size (default: alternates with the seed, see nodesForSeed)
 *   SIM_VARIANT=name   correct | vote-without-log-check | commit-earlier-terms | send-before-durable | wall-clock-stamps
 *                      | two-conf-changes | conf-change-before-noop
 *   SIM_PROFILE=name   mixed | crashy | isolate-leader | membership
 *   SIM_SAFETY_MS=ms   length of the fault phase (default: drawn from the seed)
 *   SIM_CHECK_TABLE_TIME=0  skip the table-time-ahead check (to see a clock bug's harm to clients)
 *
 * Prints a line per violation (seed + replay command), then as its last line
 * exactly `N schedules, K violations`; exits 1 when K > 0.
 */
import { DEFAULT_SAFETY_MS, LIVENESS_BOUND_MS, PROFILES, nodesForSeed, runSchedule, type ProfileName, type ScheduleOptions } from './schedule.js';
import { isVariantName, type VariantName } from './broken-variants.js';

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return n;
}

function main(): number {
  const variantRaw = process.env['SIM_VARIANT'] ?? 'correct';
  if (!isVariantName(variantRaw)) throw new Error(`unknown SIM_VARIANT ${variantRaw}`);
  const variant: VariantName = variantRaw;
  const profileRaw = process.env['SIM_PROFILE'] ?? 'mixed';
  if (!(profileRaw in PROFILES)) throw new Error(`unknown SIM_PROFILE ${profileRaw}`);
  const profile = profileRaw as ProfileName;
  const nodesRaw = process.env['SIM_NODES'];
  if (nodesRaw !== undefined && nodesRaw !== '3' && nodesRaw !== '5') throw new Error(`SIM_NODES must be 3 or 5, got ${nodesRaw}`);
  const fixedNodes = nodesRaw === undefined ? null : (Number(nodesRaw) as 3 | 5);
  const safetyRaw = process.env['SIM_SAFETY_MS'];
  const safetyMs = safetyRaw === undefined || safetyRaw === '' ? undefined : intEnv('SIM_SAFETY_MS', 0);
  const checkTableTime = process.env['SIM_CHECK_TABLE_TIME'] !== '0';

  const single = process.env['SIM_SEED'];
  const seeds: number[] = [];
  if (single !== undefined && single !== '') {
    seeds.push(intEnv('SIM_SEED', 0));
  } else {
    const count = intEnv('SIM_SEEDS', 200);
    const start = intEnv('SIM_START_SEED', 1);
    for (let i = 0; i < count; i++) seeds.push(start + i);
  }
  const replaying = seeds.length === 1 && single !== undefined;
  const tracing = replaying && process.env['SIM_TRACE'] === '1';
  let violations = 0;
  let livenessMax = 0;
  let livenessSum = 0;
  let events = 0;
  for (const seed of seeds) {
    const o: ScheduleOptions = {
      seed,
      nodes: fixedNodes ?? nodesForSeed(seed),
      variant,
      profile,
      ...(safetyMs === undefined ? {} : { safetyMs }),
      ...(checkTableTime ? {} : { checkTableTime: false }),
      ...(tracing ? { trace: (line: string) => console.log(line) } : {}),
    };
    const r = runSchedule(o);
    events += r.events;
    if (r.livenessMs !== null) {
      livenessMax = Math.max(livenessMax, r.livenessMs);
      livenessSum += r.livenessMs;
    }
    if (!r.ok) {
      violations++;
      console.log(`VIOLATION seed=${seed} nodes=${o.nodes}: ${r.error?.message ?? ''}`);
      if (replaying && r.error?.stack !== undefined) console.log(r.error.stack);
    } else if (replaying) {
      console.log(`seed=${seed} nodes=${o.nodes} ok: ${r.events} events, ${r.virtualMs} virtual ms, liveness ${r.livenessMs} ms, ${JSON.stringify(r.stats)}`);
    }
  }
  const passed = seeds.length - violations;
  console.log(
    `variant ${variant}, profile ${profile}, safety phase ${safetyMs ?? `${DEFAULT_SAFETY_MS[0]}-${DEFAULT_SAFETY_MS[1]}`} ms; ` +
      `${events} events; liveness mean ${passed > 0 ? Math.round(livenessSum / Math.max(1, passed)) : 0} ms, max ${livenessMax} ms (bound ${LIVENESS_BOUND_MS} ms)`,
  );
  console.log(`${seeds.length} schedules, ${violations} violations`);
  return violations > 0 ? 1 : 0;
}

process.exitCode = main();
