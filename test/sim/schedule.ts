import { SeededRandom, memberIds, type NodeId } from '../../src/raft/index.js';
import { MAX_CLOCK_RATE_ERROR } from '../../src/api/contract.js';
import { SimCluster, type ClusterOptions } from './cluster.js';
import { scheduleMembership, type MembershipProfile, type MembershipWorkload } from './membership-workload.js';
import { variant as makeVariant, type VariantName } from './broken-variants.js';
import { SimViolation, violated } from './sim-violation.js';
import { LOCK_NAMES, LockWorkload } from './lock-workload.js';
import { SessionKeepers } from './session-keepers.js';

/**
 * LIVENESS_BOUND_MS is how long (virtual ms) after the faults stop a cluster
 * may take to elect a leader and commit a fresh proposal on every node.
 * Measured over 10,000 schedules per profile (seeds 1-10000): max 760 ms
 * (mixed), 850 ms (crashy), 3,460 ms (isolate-leader: a deposed leader's long
 * uncommitted tail is replaced one entry per AppendEntries, as that profile
 * limits appends to 40 bytes). 10 s leaves ~3x margin over the worst case, so
 * only a real livelock or stall fails it.
 */
export const LIVENESS_BOUND_MS = 10_000;

/** Wall clocks of members disagree by up to this much either way, from the start and after clock faults. */
const CLOCK_OFFSET_MAX_MS = 5_000;
/** A clock step moves a wall clock by this much, forward or back. */
const CLOCK_STEP_MS: readonly [number, number] = [500, 4_000];
/** Members a schedule may add, beyond the ones it starts with. */
const SPARES = 3;

/** FaultKind is one action of the fault schedule. */
export type FaultKind =
  | 'heal'
  | 'isolateOne'
  | 'isolateLeader'
  | 'split'
  | 'bridge'
  | 'oneWay'
  | 'flaky'
  | 'crashOne'
  | 'crashLeader'
  | 'restartOne'
  | 'crashAll'
  | 'clock';

/** FaultProfile is a fault mix: how often each fault happens and how bad the disk and network are. */
export interface FaultProfile {
  readonly weights: Readonly<Record<FaultKind, number>>;
  /** Gap between two faults, virtual ms. */
  readonly faultGapMs: readonly [number, number];
  /** How long a crashed node stays down when it restarts on its own. */
  readonly downtimeMs: readonly [number, number];
  /** Probability that a crash schedules its own restart (else it waits for restartOne or the liveness phase). */
  readonly selfRestartProbability: number;
  readonly maxDropProbability: number;
  readonly maxDuplicateProbability: number;
  readonly slowDiskProbability: number;
  readonly slowDiskMs: readonly [number, number];
  /** Gap between two client requests, virtual ms. */
  readonly clientGapMs: readonly [number, number];
  /** Candidate AppendEntries byte limits; a tiny one sends one entry per message. */
  readonly maxAppendBytes: readonly number[];
  /** How the simulated operator changes the membership (membership-workload.ts). */
  readonly membership: MembershipProfile;
}

/** ProfileName selects a fault mix. */
export type ProfileName = 'mixed' | 'crashy' | 'isolate-leader' | 'membership';

/** Membership changes in the three general profiles: every few hundred ms, a third of voter removals the leader's. */
const MEMBERSHIP_CHANGES: MembershipProfile = {
  gapMs: [100, 800],
  retryMs: [20, 100],
  maxRetries: 10,
  removeLeaderProbability: 0.3,
  concurrentProbability: 0.2,
  voterSlack: 1,
  isolateAfterChangeProbability: 0.1,
};

/** GENERAL_PROFILES are the fault mixes of the correct system and of the older broken variants. */
const GENERAL_PROFILES: Readonly<Record<Exclude<ProfileName, 'membership'>, FaultProfile>> = {
  mixed: {
    weights: { heal: 3, isolateOne: 2, isolateLeader: 3, split: 2, bridge: 1, oneWay: 2, flaky: 2, crashOne: 2, crashLeader: 2, restartOne: 2, crashAll: 0.5, clock: 2 },
    faultGapMs: [100, 700],
    downtimeMs: [20, 1500],
    selfRestartProbability: 0.7,
    maxDropProbability: 0.3,
    maxDuplicateProbability: 0.2,
    slowDiskProbability: 0.05,
    slowDiskMs: [10, 60],
    clientGapMs: [5, 60],
    maxAppendBytes: [40, 200, 4096, 1024 * 1024],
    membership: MEMBERSHIP_CHANGES,
  },
  // Send-before-durable only shows when a node crashes while a write it already acted on is in flight.
  crashy: {
    weights: { heal: 2, isolateOne: 1, isolateLeader: 1, split: 1, bridge: 0, oneWay: 1, flaky: 1, crashOne: 6, crashLeader: 4, restartOne: 3, crashAll: 2, clock: 1 },
    faultGapMs: [20, 200],
    downtimeMs: [1, 60],
    selfRestartProbability: 0.95,
    maxDropProbability: 0.1,
    maxDuplicateProbability: 0.3,
    slowDiskProbability: 0.5,
    slowDiskMs: [20, 120],
    clientGapMs: [5, 40],
    maxAppendBytes: [40, 4096],
    membership: MEMBERSHIP_CHANGES,
  },
  // Stale logs winning elections (no §5.4.1 check) and Figure 8 need logs that diverge at one index with different terms:
  // an isolated leader keeps taking proposals it cannot commit while the majority elects another and moves on.
  // Tuned by measurement: with these weights (b) is found in ~40% and (a) in ~90% of schedules.
  'isolate-leader': {
    weights: { heal: 3, isolateOne: 2, isolateLeader: 15, split: 2, bridge: 0, oneWay: 0, flaky: 0, crashOne: 1, crashLeader: 1, restartOne: 4, crashAll: 0.5, clock: 1 },
    faultGapMs: [30, 250],
    downtimeMs: [10, 300],
    selfRestartProbability: 0.8,
    maxDropProbability: 0.2,
    maxDuplicateProbability: 0.1,
    slowDiskProbability: 0.05,
    slowDiskMs: [10, 60],
    clientGapMs: [1, 10],
    maxAppendBytes: [40],
    // Fewer changes, and no isolation right after one, than in the other profiles: each change shrinks or grows the
    // cluster under the diverging logs Figure 8 needs; at the general rate (b) took up to 36 schedules, at this one 15.
    membership: { ...MEMBERSHIP_CHANGES, gapMs: [1000, 3000], isolateAfterChangeProbability: 0 },
  },
};

/** PROFILES are the fault mixes: 'mixed' for the correct system, the others make one broken variant's bug likely. */
export const PROFILES: Readonly<Record<ProfileName, FaultProfile>> = {
  ...GENERAL_PROFILES,
  // The single-server bug (raft-dev, 2015) needs a leader that changes the configuration right after its election while
  // an earlier leader's change is still uncommitted somewhere: frequent changes, leaders isolated (also right after they
  // accepted a change) and crashed often.
  membership: {
    ...GENERAL_PROFILES['isolate-leader'],
    weights: { heal: 3, isolateOne: 2, isolateLeader: 10, split: 2, bridge: 0, oneWay: 0, flaky: 0, crashOne: 2, crashLeader: 4, restartOne: 4, crashAll: 0.5, clock: 0 },
    clientGapMs: [5, 40],
    maxAppendBytes: [40, 4096],
    membership: {
      ...MEMBERSHIP_CHANGES,
      gapMs: [20, 150],
      // A refused change is retried within a few ms, so it lands right after an election, before the no-op commits;
      // even voter counts (4) and changes both ways from them: the bug's disjoint majorities need both.
      retryMs: [5, 30],
      maxRetries: 40,
      concurrentProbability: 0.3,
      voterSlack: 2,
      isolateAfterChangeProbability: 0.5,
    },
  },
};

/** ScheduleOptions identify one schedule; the same options replay it exactly. */
export interface ScheduleOptions {
  readonly seed: number;
  readonly nodes: 3 | 5;
  readonly variant?: VariantName;
  readonly profile?: ProfileName;
  /** Length of the fault phase in virtual ms; by default drawn from the seed in [3000, 6000). */
  readonly safetyMs?: number;
  /** false turns off the table-time-ahead check (SIM_CHECK_TABLE_TIME=0), to show a variant's harm reaches clients. */
  readonly checkTableTime?: boolean;
  /** Receives a line per event (slow; for replays). */
  readonly trace?: (line: string) => void;
}

/** ScheduleResult is the outcome of one schedule. */
export interface ScheduleResult {
  readonly seed: number;
  readonly nodes: number;
  readonly ok: boolean;
  /** The violation (SimViolation) or the core's own assertion / crash, when not ok. */
  readonly error: Error | null;
  /** One shell command that replays this schedule exactly. */
  readonly replay: string;
  readonly virtualMs: number;
  readonly events: number;
  /** Virtual ms from healing to a fresh proposal applied everywhere (null if the run failed earlier). */
  readonly livenessMs: number | null;
  readonly stats: Readonly<Record<string, number>>;
}

/** DEFAULT_SAFETY_MS is the range the fault phase length is drawn from. */
export const DEFAULT_SAFETY_MS: readonly [number, number] = [3000, 6000];

/** nodesForSeed is the default cluster size of a seed (run.ts alternates sizes this way). */
export function nodesForSeed(seed: number): 3 | 5 {
  return seed % 2 === 0 ? 3 : 5;
}

/** replayCommand is the one command that reproduces a schedule. */
export function replayCommand(o: ScheduleOptions): string {
  const env = [`SIM_SEED=${o.seed}`, `SIM_NODES=${o.nodes}`];
  if (o.variant !== undefined && o.variant !== 'correct') env.push(`SIM_VARIANT=${o.variant}`);
  if (o.profile !== undefined && o.profile !== 'mixed') env.push(`SIM_PROFILE=${o.profile}`);
  if (o.safetyMs !== undefined) env.push(`SIM_SAFETY_MS=${o.safetyMs}`);
  if (o.checkTableTime === false) env.push('SIM_CHECK_TABLE_TIME=0');
  return `${env.join(' ')} npm run sim`;
}

function between(r: SeededRandom, range: readonly [number, number]): number {
  return range[0] + r.nextInt(range[1] - range[0] + 1);
}

function pick<T>(r: SeededRandom, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick from empty list');
  return items[r.nextInt(items.length)]!;
}

function shuffled<T>(r: SeededRandom, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.nextInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function pickWeighted(r: SeededRandom, weights: Readonly<Record<FaultKind, number>>): FaultKind {
  const kinds = Object.keys(weights) as FaultKind[];
  let total = 0;
  for (const k of kinds) total += weights[k];
  let x = r.next() * total;
  for (const k of kinds) {
    x -= weights[k];
    if (x < 0) return k;
  }
  return kinds[kinds.length - 1]!;
}

/**
 * runSchedule runs one seeded schedule: a SAFETY phase of random faults and
 * client traffic with every invariant checked after every event, then a
 * LIVENESS phase (heal all, restart all) that must elect a leader and commit a
 * fresh proposal on every node within LIVENESS_BOUND_MS. Never throws for a
 * finding: it returns it, with the replay command.
 */
export function runSchedule(o: ScheduleOptions): ScheduleResult {
  const profile = PROFILES[o.profile ?? 'mixed'];
  const root = new SeededRandom(o.seed);
  // Fork order is part of the replay contract: add new forks at the end only.
  const params = root.fork();
  const clusterRandom = root.fork();
  const clientRandom = root.fork();
  const faultRandom = root.fork();
  const membershipRandom = root.fork();
  const keeperRandom = root.fork();

  const ids: NodeId[] = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const spareIds: NodeId[] = Array.from({ length: SPARES }, (_, i) => `n${o.nodes + i + 1}`);
  // Drawn even when overridden, so SIM_SAFETY_MS changes nothing else about the schedule.
  const drawnSafetyMs = between(params, [DEFAULT_SAFETY_MS[0], DEFAULT_SAFETY_MS[1] - 1]);
  const safetyMs = o.safetyMs ?? drawnSafetyMs;
  const cluster = new SimCluster(clusterOptions(o, profile, params, clusterRandom, ids, spareIds));

  let livenessMs: number | null = null;
  let error: Error | null = null;
  let membership: MembershipWorkload | null = null;
  try {
    scheduleFaults(cluster, faultRandom, profile, safetyMs);
    scheduleClients(cluster, clientRandom, profile, safetyMs);
    new SessionKeepers(cluster, keeperRandom).start(safetyMs);
    membership = scheduleMembership(cluster, membershipRandom, profile.membership, { ids, spareIds }, safetyMs);
    cluster.runUntil(safetyMs);
    livenessMs = runLiveness(cluster, safetyMs);
    for (const id of cluster.ids) cluster.checker.checkChain(cluster.host(id));
  } catch (e) {
    error = e instanceof Error ? e : new Error(String(e));
  }
  const replay = replayCommand(o);
  if (error !== null && !(error instanceof SimViolation)) {
    // A core assertion or a host/core contract break: still a finding, reported the same way.
    error.message = `[${error.name}] ${error.message}`;
  }
  if (error !== null) error.message += `\n  at virtual t=${cluster.nowMs} ms, ${cluster.describeNodes()}\n  replay: ${replay}`;
  return {
    seed: o.seed,
    nodes: o.nodes,
    ok: error === null,
    error,
    replay,
    virtualMs: cluster.nowMs,
    events: cluster.events,
    livenessMs,
    stats: { ...cluster.stats, ...cluster.checker.stats, ...cluster.checker.membership.stats, ...membership?.stats, ...cluster.locksChecker.stats },
  };
}

/**
 * clusterOptions draws a schedule's cluster from `params`. The order of the draws is part of the replay contract:
 * the spares' clocks and the promotion bound come after everything the bootstrap members drew.
 */
function clusterOptions(o: ScheduleOptions, profile: FaultProfile, params: SeededRandom, random: SeededRandom, ids: NodeId[], spareIds: NodeId[]): ClusterOptions {
  const v = makeVariant(o.variant ?? 'correct');
  const tickMs = (): number => between(params, [9, 11]);
  // Wall clocks seconds apart, monotonic clocks drifting up to the stated bound (a third of members at either extreme).
  const clockOffsetMs = (): number => between(params, [-CLOCK_OFFSET_MAX_MS, CLOCK_OFFSET_MAX_MS]);
  const clockRateError = (): number => {
    const x = params.next();
    if (x < 1 / 3) return pick(params, [-MAX_CLOCK_RATE_ERROR, MAX_CLOCK_RATE_ERROR]);
    return (2 * params.next() - 1) * MAX_CLOCK_RATE_ERROR;
  };
  const drawn = {
    maxDelayMs: between(params, [5, 30]),
    tickMs: ids.map(tickMs),
    maxAppendBytes: pick(params, profile.maxAppendBytes),
    maxInflightAppends: pick(params, [1, 4, 64]),
    snapshotEvery: between(params, [5, 40]),
    clockOffsetMs: ids.map(clockOffsetMs),
    clockRateError: ids.map(clockRateError),
  };
  return {
    ...drawn,
    ids,
    spareIds,
    random,
    createNode: v.createNode,
    createLockService: v.createLockService,
    lockNames: LOCK_NAMES,
    minDelayMs: 1,
    tickMs: [...drawn.tickMs, ...spareIds.map(tickMs)],
    clockOffsetMs: [...drawn.clockOffsetMs, ...spareIds.map(clockOffsetMs)],
    clockRateError: [...drawn.clockRateError, ...spareIds.map(clockRateError)],
    maxPromoteLagEntries: pick(params, [2, 20, 1000]),
    electionTicks: 10,
    fastDiskMaxMs: 3,
    slowDiskProbability: profile.slowDiskProbability,
    slowDiskMinMs: profile.slowDiskMs[0],
    slowDiskMaxMs: profile.slowDiskMs[1],
    checkTableTime: o.checkTableTime ?? true,
    trace: o.trace ?? null,
  };
}

/** scheduleFaults plants a self-rescheduling fault event until the end of the safety phase. */
function scheduleFaults(cluster: SimCluster, r: SeededRandom, profile: FaultProfile, safetyMs: number): void {
  const ids = cluster.ids;
  const net = cluster.network;
  const majority = Math.floor(ids.length / 2) + 1;

  const crash = (id: NodeId): void => {
    if (!cluster.isAlive(id)) return;
    cluster.crash(id);
    if (r.next() < profile.selfRestartProbability) {
      const downMs = between(r, profile.downtimeMs);
      cluster.at(cluster.nowMs + downMs, `restart ${id}`, () => cluster.restart(id));
    }
  };
  const live = (): NodeId[] => ids.filter((id) => cluster.isAlive(id));
  const down = (): NodeId[] => ids.filter((id) => !cluster.isAlive(id));

  const act = (kind: FaultKind): void => {
    switch (kind) {
      case 'heal':
        net.restoreLinks();
        if (r.next() < 0.5) net.healAll();
        return;
      case 'isolateOne':
        net.restoreLinks();
        net.isolate(pick(r, ids));
        return;
      case 'isolateLeader':
        net.restoreLinks();
        net.isolate(cluster.leader() ?? pick(r, ids));
        return;
      case 'split': {
        // A minority of 1..n/2 nodes, the rest keep a majority; the leader lands on a random side.
        const order = shuffled(r, ids);
        const minority = 1 + r.nextInt(ids.length - majority);
        net.partition([order.slice(0, minority), order.slice(minority)]);
        return;
      }
      case 'bridge': {
        // One node hears both halves, the halves do not hear each other (the PreVote/CheckQuorum stress case).
        const order = shuffled(r, ids);
        const [bridge, ...rest] = order;
        const half = Math.ceil(rest.length / 2);
        net.partition([[bridge!, ...rest.slice(0, half)], rest.slice(half)]);
        for (const id of rest.slice(half)) {
          net.setLink(bridge!, id, true);
          net.setLink(id, bridge!, true);
        }
        return;
      }
      case 'oneWay': {
        if (r.next() < 0.5) net.restoreLinks();
        const cuts = 1 + r.nextInt(ids.length);
        for (let i = 0; i < cuts; i++) {
          const a = pick(r, ids);
          const b = pick(r, ids);
          net.setLink(a, b, false);
        }
        return;
      }
      case 'flaky':
        net.dropProbability = r.next() * profile.maxDropProbability;
        net.duplicateProbability = r.next() * profile.maxDuplicateProbability;
        return;
      case 'crashOne': {
        const l = live();
        if (l.length > 0) crash(pick(r, l));
        return;
      }
      case 'crashLeader': {
        const leader = cluster.leader();
        if (leader !== null) crash(leader);
        return;
      }
      case 'restartOne': {
        const d = down();
        if (d.length > 0) cluster.restart(pick(r, d));
        return;
      }
      case 'clock': {
        // A wall clock is set to a new offset, or stepped forward or back (NTP, an operator, a VM resumed).
        const id = pick(r, ids);
        const clock = cluster.member(id).clock;
        if (r.next() < 0.5) clock.offsetMs = between(r, [-CLOCK_OFFSET_MAX_MS, CLOCK_OFFSET_MAX_MS]);
        else clock.offsetMs += (r.next() < 0.5 ? -1 : 1) * between(r, CLOCK_STEP_MS);
        cluster.note(`${id} wall clock offset now ${clock.offsetMs} ms`);
        return;
      }
      case 'crashAll': {
        // Every node at once (power loss): only synced writes survive.
        for (const id of live()) {
          cluster.crash(id);
          cluster.at(cluster.nowMs + between(r, profile.downtimeMs), `restart ${id}`, () => cluster.restart(id));
        }
        return;
      }
    }
  };

  const next = (atMs: number): void => {
    if (atMs >= safetyMs) return;
    cluster.at(atMs, 'fault', () => {
      const kind = pickWeighted(r, profile.weights);
      act(kind);
      cluster.note(`fault ${kind}: ${net.describe()}`);
      next(cluster.nowMs + between(r, profile.faultGapMs));
    });
  };
  next(between(r, profile.faultGapMs));
}

/** scheduleClients plants self-rescheduling client requests (lock-workload.ts) until the end of the safety phase. */
function scheduleClients(cluster: SimCluster, r: SeededRandom, profile: FaultProfile, safetyMs: number): void {
  const workload = new LockWorkload(cluster, r);
  const next = (atMs: number): void => {
    if (atMs >= safetyMs) return;
    cluster.at(atMs, 'client', () => {
      workload.step();
      next(cluster.nowMs + between(r, profile.clientGapMs));
    });
  };
  next(between(r, profile.clientGapMs));
}

/**
 * runLiveness heals the network, restarts every crashed node, and waits for a
 * leader to commit a fresh proposal on every member of its configuration
 * (removed members and spares never added are left alone). Returns the
 * virtual ms it took.
 */
function runLiveness(cluster: SimCluster, safetyEndMs: number): number {
  cluster.network.healAll();
  cluster.slowDiskProbability = 0;
  for (const id of cluster.ids) if (!cluster.isAlive(id)) cluster.restart(id);
  // The probe is a command through a leader's LockService like any client's; once it is answered, the answering
  // member's applied index is a committed point every member of its configuration must reach.
  let target = null as { index: number; members: readonly NodeId[] } | null;
  let inFlight = false;
  let done = false;
  let probes = 0;
  const probe = (): void => {
    if (target !== null && target.members.every((id) => (cluster.appliedIndexOf(id) ?? -1) >= target!.index)) {
      done = true;
      return;
    }
    const leader = cluster.leader();
    if (target === null && !inFlight && leader !== null) {
      inFlight = cluster.submit(leader, { type: 'forceRelease', name: `liveness-probe-${probes}` }, (err) => {
        inFlight = false;
        const config = cluster.configurationOf(leader);
        if (err === null && config !== null) target = { index: cluster.appliedIndexOf(leader)!, members: memberIds(config) };
      });
    }
    if (++probes > 10_000) throw new Error('liveness: too many probes');
    cluster.at(cluster.nowMs + 10, 'probe', probe);
  };
  cluster.at(safetyEndMs, 'probe', probe);
  cluster.runUntil(safetyEndMs + LIVENESS_BOUND_MS, () => done);
  if (!done) {
    const lagging = target === null ? 'no probe answered' : `members ${target.members.join(',')} to reach ${target.index}`;
    violated('liveness', `no fresh command applied on all members within ${LIVENESS_BOUND_MS} virtual ms after healing (leader: ${cluster.leader()}; ${lagging})`);
  }
  return cluster.nowMs - safetyEndMs;
}
