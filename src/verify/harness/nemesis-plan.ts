/**
 * The nemesis schedule of a verify run, drawn from a seed: which fault comes next,
 * how long after the previous one healed, how long it lasts, and every random
 * choice it makes (which nodes, which direction, reset or blackhole). The plan is
 * a pure function of (seed, families, node count, duration), so a failing run's
 * seed replays the same sequence of faults. Choices that depend on the live
 * cluster ("the leader") are resolved when the fault starts, from the plan's
 * random permutation of the nodes, so they stay deterministic given the leader.
 */
import { SeededRandom } from '../../raft/index.js';
import type { CutMode } from './link-network.js';

/** NemesisFamily is a group of faults selectable with --nemesis. */
export type NemesisFamily = 'partition' | 'kill' | 'pause' | 'client-pause' | 'clock' | 'member';

/** NEMESIS_FAMILIES lists every family (what --nemesis all means). */
export const NEMESIS_FAMILIES: readonly NemesisFamily[] = ['partition', 'kill', 'pause', 'client-pause', 'clock', 'member'];

/** PartitionVariant names a partition shape. */
export type PartitionVariant = 'isolate-one' | 'isolate-leader' | 'majority-minority' | 'bridge' | 'majorities-ring' | 'one-way';
/** KillVariant names whom a kill -9 hits. */
export type KillVariant = 'one' | 'leader' | 'minority' | 'all';
/** PauseVariant names whom a SIGSTOP hits. */
export type PauseVariant = 'leader' | 'other';

/**
 * ClockVariant names a wall-clock fault: the leader's clock stepped ahead or back, one node's stepped ahead, or
 * every node's scattered to a different offset. Held for the fault's duration, then put back on each node's base
 * offset (itself random, drawn at every start).
 */
export type ClockVariant = 'leader-ahead' | 'leader-behind' | 'one-ahead' | 'scatter';

/**
 * MemberVariant names whom a membership fault replaces (member-replacement.ts): the member is removed from the
 * configuration, stopped, its data dir wiped; held out for the fault's duration; then added back as a learner with
 * the same id and addresses, started empty (`existing`), and promoted once caught up.
 */
export type MemberVariant = 'replace' | 'replace-leader';

/** FaultSpec is one planned fault with its random choices. */
export type FaultSpec =
  | {
      readonly family: 'partition';
      readonly variant: PartitionVariant;
      readonly mode: CutMode;
      /** A random permutation of node indices; variants take targets from its front. */
      readonly pick: readonly number[];
      /** one-way only: the affected node is the leader (else pick[0]). */
      readonly targetLeader: boolean;
      /** one-way only: 'out' blocks what the node sends, 'in' what it receives. */
      readonly direction: 'in' | 'out';
    }
  | { readonly family: 'kill'; readonly variant: KillVariant; readonly pick: readonly number[] }
  | { readonly family: 'pause'; readonly variant: PauseVariant; readonly pick: readonly number[] }
  | { readonly family: 'client-pause'; readonly extraMs: number }
  | { readonly family: 'member'; readonly variant: MemberVariant; readonly pick: readonly number[] }
  | {
      readonly family: 'clock';
      readonly variant: ClockVariant;
      readonly pick: readonly number[];
      /** The step (leader-*, one-ahead), or each node's offset in node order (scatter), ms. */
      readonly offsetsMs: readonly number[];
    };

/** PlannedFault is one step of the schedule. */
export interface PlannedFault {
  readonly seq: number;
  /** Quiet time between the previous fault's heal (or the warm-up) and this fault. */
  readonly gapBeforeMs: number;
  /** How long the fault lasts (for client-pause: extra time past the holder's TTL). */
  readonly durationMs: number;
  readonly spec: FaultSpec;
}

/** NemesisPlanOptions are the inputs of the schedule. */
export interface NemesisPlanOptions {
  readonly seed: number;
  readonly families: readonly NemesisFamily[];
  readonly nodeCount: number;
  /** Length of the fault phase; the plan holds enough faults to fill it. */
  readonly durationMs: number;
  /** Quiet time between faults, [min, max] (default 2,000-6,000 ms). */
  readonly gapMs?: readonly [number, number];
}

/** MAX_PLANNED_FAULTS bounds a plan. */
export const MAX_PLANNED_FAULTS = 10_000;

const PARTITION_VARIANTS: readonly PartitionVariant[] = ['isolate-one', 'isolate-leader', 'majority-minority', 'bridge', 'majorities-ring', 'one-way'];
const KILL_VARIANTS: readonly KillVariant[] = ['one', 'leader', 'minority', 'all'];
const PAUSE_VARIANTS: readonly PauseVariant[] = ['leader', 'other'];
const MEMBER_VARIANTS: readonly MemberVariant[] = ['replace', 'replace-leader'];
const CLOCK_VARIANTS: readonly ClockVariant[] = ['leader-ahead', 'leader-behind', 'one-ahead', 'scatter'];
/** Clock steps and offsets: a few seconds (more than a lease's safety margin), up to ten. */
const CLOCK_STEP_MS: readonly [number, number] = [2_000, 10_000];

function between(rng: SeededRandom, lo: number, hi: number): number {
  return lo + rng.nextInt(hi - lo + 1);
}

function choose<T>(rng: SeededRandom, xs: readonly T[]): T {
  const x = xs[rng.nextInt(xs.length)];
  if (x === undefined) throw new Error('choose from an empty list');
  return x;
}

function permutation(rng: SeededRandom, n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** planFault draws one fault of `family` and its duration. */
function planFault(rng: SeededRandom, family: NemesisFamily, nodeCount: number): { spec: FaultSpec; durationMs: number } {
  switch (family) {
    case 'partition': {
      const variant = choose(rng, PARTITION_VARIANTS);
      const mode: CutMode = rng.next() < 0.25 ? 'blackhole' : 'blocked';
      const pick = permutation(rng, nodeCount);
      const targetLeader = rng.next() < 0.5;
      const direction = rng.next() < 0.5 ? 'in' : 'out';
      return { spec: { family, variant, mode, pick, targetLeader, direction }, durationMs: between(rng, 1_000, 8_000) };
    }
    case 'kill': {
      // Killing every node is the harshest fault; keep it to about one kill in six.
      const variant = rng.next() < 0.15 ? 'all' : choose(rng, KILL_VARIANTS.filter((v) => v !== 'all'));
      const pick = permutation(rng, nodeCount);
      return { spec: { family, variant, pick }, durationMs: variant === 'all' ? between(rng, 1_000, 4_000) : between(rng, 1_000, 6_000) };
    }
    case 'pause': {
      const variant = choose(rng, PAUSE_VARIANTS);
      const pick = permutation(rng, nodeCount);
      // Up to four maximum election timeouts (1 s each).
      return { spec: { family, variant, pick }, durationMs: between(rng, 500, 4_000) };
    }
    case 'client-pause': {
      const extraMs = between(rng, 500, 2_500);
      return { spec: { family, extraMs }, durationMs: extraMs };
    }
    case 'member': {
      const variant = choose(rng, MEMBER_VARIANTS);
      const pick = permutation(rng, nodeCount);
      // How long the member stays out of the configuration; adding it back and its catch-up come on top.
      return { spec: { family, variant, pick }, durationMs: between(rng, 1_000, 5_000) };
    }
    case 'clock': {
      const variant = choose(rng, CLOCK_VARIANTS);
      const pick = permutation(rng, nodeCount);
      const offsetsMs =
        variant === 'scatter'
          ? Array.from({ length: nodeCount }, () => (rng.next() < 0.5 ? -1 : 1) * between(rng, CLOCK_STEP_MS[0], CLOCK_STEP_MS[1]))
          : [between(rng, CLOCK_STEP_MS[0], CLOCK_STEP_MS[1])];
      return { spec: { family, variant, pick, offsetsMs }, durationMs: between(rng, 2_000, 10_000) };
    }
  }
}

/**
 * planNemesis draws the schedule: faults chosen uniformly among `families`, each
 * after a quiet gap, until the sum of gaps and durations covers durationMs.
 */
export function planNemesis(opts: NemesisPlanOptions): PlannedFault[] {
  if (!Number.isSafeInteger(opts.seed)) throw new Error(`seed must be a safe integer, got ${opts.seed}`);
  if (!(opts.nodeCount >= 1)) throw new Error('nodeCount must be >= 1');
  if (!(opts.durationMs >= 0)) throw new Error('durationMs must be >= 0');
  const [gapMin, gapMax] = opts.gapMs ?? [2_000, 6_000];
  if (!(gapMin >= 0 && gapMax >= gapMin)) throw new Error('bad gapMs');
  const families = [...new Set(opts.families)];
  const plan: PlannedFault[] = [];
  if (families.length === 0) return plan;
  const rng = new SeededRandom(opts.seed);
  let coveredMs = 0;
  while (coveredMs < opts.durationMs && plan.length < MAX_PLANNED_FAULTS) {
    const gapBeforeMs = between(rng, gapMin, gapMax);
    const family = choose(rng, families);
    const { spec, durationMs } = planFault(rng, family, opts.nodeCount);
    plan.push({ seq: plan.length + 1, gapBeforeMs, durationMs, spec });
    coveredMs += gapBeforeMs + Math.max(durationMs, 1);
  }
  return plan;
}

/** parseNemesisFamilies parses "partition,kill" or "all"; throws on an unknown name. */
export function parseNemesisFamilies(text: string): NemesisFamily[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.includes('all')) return [...NEMESIS_FAMILIES];
  if (names.includes('none')) return [];
  const out: NemesisFamily[] = [];
  for (const n of names) {
    if (!(NEMESIS_FAMILIES as readonly string[]).includes(n)) throw new Error(`unknown nemesis "${n}" (choose from ${NEMESIS_FAMILIES.join(', ')}, all, none)`);
    if (!out.includes(n as NemesisFamily)) out.push(n as NemesisFamily);
  }
  return out;
}
