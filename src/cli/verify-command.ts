import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseNemesisFamilies, type NemesisFamily } from '../verify/harness/nemesis-plan.js';
import { runVerify } from '../verify/harness/run.js';
import { isRunSecurityMode, RUN_SECURITY_MODES, type RunSecurityMode } from '../verify/harness/run-security.js';
import { WORKLOAD_NAMES, type WorkloadName } from '../verify/harness/workload.js';
import type { CliIo } from './cli-io.js';

/** VERIFY_USAGE is the help text of `raftlock verify`. */
export const VERIFY_USAGE = `usage: raftlock verify [--nodes 3|5] [--nemesis partition,kill,pause,client-pause,clock,member|all|none]
                       [--workload linearizable|fenced|control] [--time S] [--seed N] [--out DIR]
                       [--security secret|tls-auth] [--build PATH/TO/main.js] [--clients N] [--keys N] [--keep-data]
Starts a local cluster of real raftlock processes behind fault-injecting TCP proxies, runs the workload while the
seeded nemesis partitions, kills and pauses nodes (and pauses lock-holding clients; steps clocks; member: removes a
member, wipes it and adds it back), then heals (every member a voter again), reads the final
state and checks the history: linearizability per lock, fencing, no lost acknowledgement, availability.
Writes history.jsonl, nemesis.jsonl, node logs, verdict.json and timeline.html to --out.
--security secret: peers prove a fresh random secret and MAC every frame, the API is plain HTTP without tokens.
--security tls-auth: peers over mutual TLS, HTTPS, bearer tokens (the clients' has the reader and locker roles).
Exit 0: no violation (for --workload control: updates were lost, as they must be without fencing).
Exit 1: a violation; the seed is printed. Exit 2: bad usage or the harness could not run.
Defaults: --nodes 3, --nemesis partition,kill,pause,client-pause (control: client-pause), --workload linearizable,
--time 60, --seed random, --security secret, --out $TMPDIR/raftlock-verify-SEED-TIME.`;

const FLAGS = {
  nodes: { type: 'string' },
  nemesis: { type: 'string' },
  workload: { type: 'string' },
  time: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  security: { type: 'string' },
  build: { type: 'string' },
  clients: { type: 'string' },
  keys: { type: 'string' },
  'keep-data': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {
  readonly code = 'usage';
}

function intFlag(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!(Number.isSafeInteger(v) && v >= min && v <= max)) throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got "${text}"`);
  return v;
}

/**
 * verifyCommand runs `raftlock verify`. Exit codes: 0 pass, 1 a violation (the
 * seed is printed), 2 usage error or harness failure.
 */
export async function verifyCommand(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const parse = (args: string[]) => parseArgs({ args, strict: true, allowPositionals: false, options: FLAGS }).values;
  let values: ReturnType<typeof parse>;
  try {
    values = parse(argv);
  } catch (err) {
    io.err(`raftlock verify: ${(err as Error).message}\n${VERIFY_USAGE}\n`);
    return 2;
  }
  if (values.help === true) {
    io.out(`${VERIFY_USAGE}\n`);
    return 0;
  }
  let nodes: number;
  let families: NemesisFamily[];
  let workload: WorkloadName;
  let timeS: number;
  let seed: number;
  let clients: number | undefined;
  let keys: number | undefined;
  let security: RunSecurityMode;
  try {
    nodes = intFlag('nodes', values.nodes, 3, 3, 5);
    if (nodes !== 3 && nodes !== 5) throw new UsageError('--nodes must be 3 or 5');
    const w = values.workload ?? 'linearizable';
    if (!(WORKLOAD_NAMES as readonly string[]).includes(w)) throw new UsageError(`--workload must be one of ${WORKLOAD_NAMES.join(', ')}`);
    workload = w as WorkloadName;
    const defaultNemesis = workload === 'control' ? 'client-pause' : 'partition,kill,pause,client-pause';
    try {
      families = parseNemesisFamilies(values.nemesis ?? defaultNemesis);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    timeS = intFlag('time', values.time, 60, 1, 3_600);
    seed = intFlag('seed', values.seed ?? env['RAFTLOCK_VERIFY_SEED'], Math.floor(Math.random() * 2 ** 31), 0, Number.MAX_SAFE_INTEGER);
    clients = values.clients === undefined ? undefined : intFlag('clients', values.clients, 0, 1, 64);
    keys = values.keys === undefined ? undefined : intFlag('keys', values.keys, 0, 1, 1_000);
    if (workload === 'linearizable' && keys !== undefined && keys < 20) throw new UsageError('the linearizable workload uses at least 20 lock names');
    const s = values.security ?? 'secret';
    if (!isRunSecurityMode(s)) throw new UsageError(`--security must be one of ${RUN_SECURITY_MODES.join(', ')}, got "${s}"`);
    security = s;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`raftlock verify: ${err.message}\n${VERIFY_USAGE}\n`);
      return 2;
    }
    throw err;
  }
  const outDir = values.out ?? join(tmpdir(), `raftlock-verify-${seed}-${Date.now()}`);
  io.out(`raftlock verify: seed ${seed}, run folder ${outDir}\n`);
  try {
    const result = await runVerify({
      nodes,
      families,
      workload,
      timeS,
      seed,
      security,
      outDir,
      ...(values.build !== undefined ? { mainPath: values.build } : {}),
      ...(clients !== undefined ? { clients } : {}),
      ...(keys !== undefined ? { keys } : {}),
      keepData: values['keep-data'] === true,
      handleSignals: true,
      log: (line) => io.out(`  ${line}\n`),
    });
    io.out(result.summary.join('\n') + '\n');
    return result.valid ? 0 : 1;
  } catch (err) {
    io.err(`raftlock verify: the harness failed: ${(err as Error).stack ?? String(err)}\nseed ${seed}; run folder ${outDir}\n`);
    return 2;
  }
}
