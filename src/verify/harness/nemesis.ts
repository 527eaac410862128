/**
 * The nemesis of a verify run: executes a planned schedule of faults against
 * the live cluster, one at a time, each followed by its heal, and logs every
 * fault with its start and end on the run clock (nemesis.jsonl).
 *
 * Partitions are shapes over directed links (see LinkNetwork); kills are kill -9
 * by PID followed by a restart on the same data; pauses are SIGSTOP/SIGCONT by
 * PID; client pauses freeze a lock-holding client past its lease (ClientPauses); membership faults remove a
 * member, wipe it and add it back as a new one (MemberReplacement), and the final heal makes every member a voter
 * again (or says why not: membershipProblems).
 */
import { appendFileSync } from 'node:fs';
import type { FaultWindow } from '../availability.js';
import type { ClientPauses } from './client-pause.js';
import type { ClockSkew } from './clock-skew.js';
import type { LeaderMonitor } from './leader-monitor.js';
import type { LinkNetwork } from './link-network.js';
import { MemberReplacement } from './member-replacement.js';
import type { FaultSpec, NemesisFamily, PlannedFault } from './nemesis-plan.js';
import type { NodeProcesses } from './node-processes.js';
import { sleep, type RunClock } from './run-clock.js';

/** NemesisRecord is one executed (or skipped) fault, one line of nemesis.jsonl. */
export interface NemesisRecord {
  readonly seq: number;
  readonly family: NemesisFamily;
  readonly variant: string;
  readonly startMs: number;
  readonly endMs: number;
  /** The nodes (or client) the fault hit. */
  readonly targets: readonly string[];
  /** Human-readable shape: cut links, groups, signals. */
  readonly detail: string;
  /** True when the fault could not be applied (e.g. no lock holder for a client pause). */
  readonly skipped: boolean;
  /** The leader the harness saw when the fault started. */
  readonly leaderAtStart: string | null;
}

/** NemesisOptions wires the executor to the cluster. */
export interface NemesisOptions {
  readonly plan: readonly PlannedFault[];
  readonly network: LinkNetwork;
  readonly nodes: NodeProcesses;
  readonly monitor: LeaderMonitor;
  /** The nodes' fake wall clocks, when the run has clock faults (nodes started under libfaketime). */
  readonly clocks: ClockSkew | null;
  /** Client pauses, when the workload supports them. */
  readonly pauses: ClientPauses | null;
  /** The longest lease a workload takes (a client pause lasts TTL + extra). */
  readonly maxTtlMs: number;
  readonly clock: RunClock;
  /** nemesis.jsonl, appended as faults end; null to keep the log in memory only. */
  readonly logPath: string | null;
  /** Warm-up before the first fault's gap starts. */
  readonly warmupMs?: number;
}

/** The shortest fault worth injecting; a shorter remainder of the fault phase is left quiet. */
const MIN_FAULT_MS = 500;
/** How long a client-pause request waits for a client that holds a lock. */
const CLIENT_PAUSE_WAIT_MS = 3_000;
/** How long taking a member out may take (its removal must commit). */
const MEMBER_TAKE_OUT_MS = 15_000;
/** How long bringing a member back may take during the fault phase (add, start, catch up, promote). */
const MEMBER_BRING_BACK_MS = 30_000;
/** How long the final heal may take to make every member a voter again. */
const MEMBER_RESTORE_MS = 60_000;

interface Applied {
  readonly variant: string;
  readonly targets: string[];
  readonly detail: string;
  /** Undoes the fault. */
  readonly heal: () => Promise<void>;
}

/** Nemesis runs a plan until its end time and can heal everything at once. */
export class Nemesis {
  readonly records: NemesisRecord[] = [];
  private stopped = false;
  private activeHeal: (() => Promise<void>) | null = null;
  /** The membership faults' procedure; null when the plan has none (an older build has no member routes). */
  private readonly members: MemberReplacement | null;
  /** Why the final heal could not make every member a voter again (empty when it did, or without member faults). */
  membershipProblems: string[] = [];

  constructor(private readonly opts: NemesisOptions) {
    this.members = opts.plan.some((f) => f.spec.family === 'member')
      ? new MemberReplacement({ nodes: opts.nodes, access: opts.nodes.adminAccess, leaderHint: () => opts.monitor.current })
      : null;
  }

  /** windows are the executed faults as availability windows (skipped ones excluded). */
  windows(includeClientPauses = true): FaultWindow[] {
    return this.records
      .filter((r) => !r.skipped && (includeClientPauses || r.family !== 'client-pause'))
      .map((r) => ({ startMs: r.startMs, endMs: r.endMs, kind: r.family }));
  }

  /** stop makes run() return after the current fault heals. */
  stop(): void {
    this.stopped = true;
  }

  /** run executes the plan; every fault heals before endMs (run clock), later ones are not started. */
  async run(endMs: number): Promise<void> {
    const { clock } = this.opts;
    await sleep(Math.min(this.opts.warmupMs ?? 1_000, endMs - clock.nowMs()));
    for (const fault of this.opts.plan) {
      if (this.stopped) return;
      const gapEnd = clock.nowMs() + fault.gapBeforeMs;
      if (gapEnd + MIN_FAULT_MS > endMs) return;
      await sleep(gapEnd - clock.nowMs());
      if (this.stopped) return;
      await this.execute(fault, endMs);
    }
  }

  /** execute applies one fault, holds it (clipped to endMs), heals it and logs it. */
  private async execute(fault: PlannedFault, endMs: number): Promise<void> {
    const { clock } = this.opts;
    const leaderAtStart = await this.leader();
    const spec = fault.spec;
    if (spec.family === 'client-pause') {
      await this.clientPause(fault, spec, endMs, leaderAtStart);
      return;
    }
    const durationMs = Math.min(fault.durationMs, endMs - clock.nowMs());
    if (durationMs < MIN_FAULT_MS) return;
    const startMs = clock.nowMs();
    if (spec.family === 'member') {
      await this.member(fault, spec, durationMs, leaderAtStart);
      return;
    }
    const applied = await this.apply(spec, leaderAtStart);
    this.activeHeal = applied.heal;
    await sleep(durationMs - (clock.nowMs() - startMs));
    await applied.heal();
    this.activeHeal = null;
    this.log({ seq: fault.seq, family: spec.family, variant: applied.variant, startMs, endMs: clock.nowMs(), targets: applied.targets, detail: applied.detail, skipped: false, leaderAtStart });
  }

  /**
   * member replaces one member by an empty one (member-replacement.ts): takes it out, holds it out for the fault's
   * duration, brings it back. A member still out from an earlier fault is brought back first, instead.
   */
  private async member(fault: PlannedFault, spec: FaultSpec & { family: 'member' }, durationMs: number, leaderAtStart: string | null): Promise<void> {
    const { clock } = this.opts;
    const members = this.members!;
    const startMs = clock.nowMs();
    const record = (variant: string, targets: string[], detail: string, skipped: boolean): void =>
      this.log({ seq: fault.seq, family: 'member', variant, startMs, endMs: clock.nowMs(), targets, detail, skipped, leaderAtStart });
    const outstanding = members.outstanding;
    if (outstanding.length > 0) {
      // Never take out a second member while one is still out: bring it back instead (a quorum of the rest must stay).
      const notes: string[] = [];
      for (const id of outstanding) notes.push((await members.bringBack(id, performance.now() + MEMBER_BRING_BACK_MS)).detail);
      record('bring-back', outstanding, `skipped: ${outstanding.join(',')} still out from an earlier fault; ${notes.join('; ')}`, true);
      return;
    }
    const victim = spec.variant === 'replace-leader' ? this.withLeaderFirst(spec.pick, leaderAtStart)[0]! : this.ordered(spec.pick)[0]!;
    const out = await members.takeOut(victim, performance.now() + MEMBER_TAKE_OUT_MS);
    if (!out.ok) {
      record(spec.variant, [victim], `skipped: ${out.detail}`, true);
      return;
    }
    let back: { ok: boolean; detail: string } = { ok: false, detail: 'not brought back yet' };
    const heal = async (): Promise<void> => {
      back = await members.bringBack(victim, performance.now() + MEMBER_BRING_BACK_MS);
    };
    this.activeHeal = heal;
    await sleep(durationMs - (clock.nowMs() - startMs));
    await heal();
    this.activeHeal = null;
    record(spec.variant, [victim], `${out.detail}; ${back.ok ? '' : 'NOT BACK YET: '}${back.detail}`, false);
  }

  private async clientPause(fault: PlannedFault, spec: FaultSpec & { family: 'client-pause' }, endMs: number, leaderAtStart: string | null): Promise<void> {
    const { clock } = this.opts;
    const startMs = clock.nowMs();
    const pauses = this.opts.pauses;
    const fits = endMs - startMs >= this.opts.maxTtlMs + spec.extraMs + MIN_FAULT_MS;
    if (pauses === null || !fits) {
      const why = pauses === null ? 'the workload has no lock-holding clients to pause' : 'not enough time left in the fault phase';
      this.log({ seq: fault.seq, family: 'client-pause', variant: 'holder', startMs, endMs: startMs, targets: [], detail: `skipped: ${why}`, skipped: true, leaderAtStart });
      return;
    }
    const p = await pauses.request(spec.extraMs, CLIENT_PAUSE_WAIT_MS);
    if (p === null) {
      this.log({ seq: fault.seq, family: 'client-pause', variant: 'holder', startMs, endMs: clock.nowMs(), targets: [], detail: 'skipped: no client reached a pause point while holding a lock', skipped: true, leaderAtStart });
      return;
    }
    this.log({
      seq: fault.seq,
      family: 'client-pause',
      variant: 'holder',
      startMs: p.startMs,
      endMs: p.endMs,
      targets: [`client ${String(p.process)}`],
      detail: `client ${String(p.process)} holding ${p.key} token ${p.token} paused ${Math.round(p.endMs - p.startMs)} ms (TTL + ${spec.extraMs} ms)`,
      skipped: false,
      leaderAtStart,
    });
  }

  /** healAll undoes whatever is active: links, paused and dead nodes. */
  async healAll(): Promise<void> {
    const heal = this.activeHeal;
    this.activeHeal = null;
    if (heal !== null) await heal().catch(() => {});
    this.opts.network.heal();
    this.opts.nodes.resumeAll();
    // A wiped member restarts joining (its next start carries `existing`) and waits to be added back.
    for (const n of this.opts.nodes.nodes) if (n.child === null) this.opts.nodes.start(n.id);
    if (this.members !== null) this.membershipProblems = await this.members.restoreAll(performance.now() + MEMBER_RESTORE_MS);
  }

  private log(r: NemesisRecord): void {
    this.records.push(r);
    if (this.opts.logPath !== null) appendFileSync(this.opts.logPath, JSON.stringify(r) + '\n');
  }

  /** leader is the monitor's current leader if it is up, else one fresh poll's. */
  private async leader(): Promise<string | null> {
    const { monitor, nodes } = this.opts;
    const cur = monitor.current;
    if (cur !== null && nodes.isUp(cur)) return cur;
    const obs = await monitor.pollOnce();
    return obs.leader !== null && nodes.isUp(obs.leader) ? obs.leader : null;
  }

  private apply(spec: Exclude<FaultSpec, { family: 'client-pause' | 'member' }>, leader: string | null): Promise<Applied> {
    switch (spec.family) {
      case 'partition':
        return Promise.resolve(this.partition(spec, leader));
      case 'kill':
        return this.kill(spec, leader);
      case 'pause':
        return Promise.resolve(this.pause(spec, leader));
      case 'clock':
        return Promise.resolve(this.clock(spec, leader));
    }
  }

  private ordered(pick: readonly number[]): string[] {
    const ids = this.opts.nodes.ids;
    return pick.map((i) => {
      const id = ids[i];
      if (id === undefined) throw new Error(`plan names node index ${i} of ${ids.length}`);
      return id;
    });
  }

  /** withLeaderFirst moves the leader (when known) to the front of a permutation. */
  private withLeaderFirst(pick: readonly number[], leader: string | null): string[] {
    const ids = this.ordered(pick);
    if (leader === null || !ids.includes(leader)) return ids;
    return [leader, ...ids.filter((x) => x !== leader)];
  }

  private partition(spec: FaultSpec & { family: 'partition' }, leader: string | null): Applied {
    const { network } = this.opts;
    const ids = this.ordered(spec.pick);
    const n = ids.length;
    let allowed: (a: string, b: string) => boolean;
    let targets: string[];
    let shape: string;
    const groups = (gs: string[][]): void => {
      const side = new Map<string, number>();
      gs.forEach((g, i) => g.forEach((id) => side.set(id, i)));
      allowed = (a, b) => side.get(a) === side.get(b);
      shape = gs.map((g) => `{${g.join(',')}}`).join(' | ');
    };
    switch (spec.variant) {
      case 'isolate-one':
      case 'isolate-leader': {
        const victim = spec.variant === 'isolate-leader' ? this.withLeaderFirst(spec.pick, leader)[0]! : ids[0]!;
        targets = [victim];
        groups([[victim], ids.filter((x) => x !== victim)]);
        break;
      }
      case 'majority-minority': {
        const m = Math.floor((n - 1) / 2);
        targets = ids.slice(0, Math.max(1, m));
        groups([targets, ids.filter((x) => !targets.includes(x))]);
        break;
      }
      case 'bridge': {
        // The bridge sees both sides; the sides do not see each other.
        const bridge = ids[0]!;
        const rest = ids.slice(1);
        const half = Math.ceil(rest.length / 2);
        const left = rest.slice(0, half);
        const right = rest.slice(half);
        targets = [bridge];
        allowed = (a, b) => a === bridge || b === bridge || left.includes(a) === left.includes(b);
        shape = `{${left.join(',')}} <-${bridge}-> {${right.join(',')}}`;
        break;
      }
      case 'majorities-ring': {
        // Every node sees a majority (itself and its ring neighbours), no two the same one.
        const k = Math.ceil(Math.floor(n / 2) / 2);
        const pos = new Map(ids.map((id, i) => [id, i]));
        if (n <= 3) {
          // In a ring of three every node neighbours every other: cut one link instead.
          const [a, b] = [ids[0]!, ids[1]!];
          allowed = (x, y) => !((x === a && y === b) || (x === b && y === a));
          shape = `ring ${ids.join('-')} without ${a}<->${b}`;
        } else {
          allowed = (x, y) => {
            const d = Math.abs(pos.get(x)! - pos.get(y)!);
            return Math.min(d, n - d) <= k;
          };
          shape = `ring ${ids.join('-')} (neighbours within ${k})`;
        }
        targets = [...ids];
        break;
      }
      case 'one-way': {
        const victim = spec.targetLeader ? this.withLeaderFirst(spec.pick, leader)[0]! : ids[0]!;
        targets = [victim];
        if (spec.direction === 'out') {
          allowed = (a) => a !== victim;
          shape = `${victim} cannot send (hears everyone)`;
        } else {
          allowed = (_a, b) => b !== victim;
          shape = `${victim} cannot receive (is heard by everyone)`;
        }
        break;
      }
    }
    network.apply(allowed!, spec.mode);
    const detail = `${shape!}; ${spec.mode}; cut ${network.cutLinks().join(' ')}`;
    return {
      variant: spec.variant,
      targets: targets!,
      detail,
      heal: async () => network.heal(),
    };
  }

  private async kill(spec: FaultSpec & { family: 'kill' }, leader: string | null): Promise<Applied> {
    const { nodes } = this.opts;
    const ids = spec.variant === 'leader' ? this.withLeaderFirst(spec.pick, leader) : this.ordered(spec.pick);
    const n = ids.length;
    let victims: string[];
    switch (spec.variant) {
      case 'one':
      case 'leader':
        victims = [ids[0]!];
        break;
      case 'minority':
        victims = ids.slice(0, Math.max(1, Math.floor((n - 1) / 2)));
        break;
      case 'all':
        victims = [...ids];
        break;
    }
    await Promise.all(victims.map((id) => nodes.kill(id, 'SIGKILL')));
    return {
      variant: spec.variant,
      targets: victims,
      detail: `kill -9 ${victims.join(',')}${spec.variant === 'leader' && leader === null ? ' (no leader known; picked at random)' : ''}, then restart`,
      heal: async () => {
        for (const id of victims) if (nodes.node(id).child === null) nodes.start(id);
      },
    };
  }

  /** clock steps wall clocks through libfaketime (clock-skew.ts); the heal puts each back on its base offset. */
  private clock(spec: FaultSpec & { family: 'clock' }, leader: string | null): Applied {
    const clocks = this.opts.clocks;
    if (clocks === null) throw new Error('clock faults need nodes started under libfaketime (ClockSkew)');
    const ids = spec.variant.startsWith('leader') ? this.withLeaderFirst(spec.pick, leader) : this.ordered(spec.pick);
    const stepMs = spec.offsetsMs[0]!;
    let targets: string[];
    switch (spec.variant) {
      case 'leader-ahead':
      case 'one-ahead':
        targets = [ids[0]!];
        clocks.step(ids[0]!, stepMs);
        break;
      case 'leader-behind':
        targets = [ids[0]!];
        clocks.step(ids[0]!, -stepMs);
        break;
      case 'scatter':
        targets = [...ids];
        ids.forEach((id, i) => clocks.set(id, spec.offsetsMs[i] ?? 0));
        break;
    }
    const detail = targets.map((id) => `${id} wall clock ${clocks.offsetOf(id) >= 0 ? '+' : ''}${clocks.offsetOf(id)} ms`).join(', ');
    return {
      variant: spec.variant,
      targets,
      detail,
      heal: async () => {
        for (const id of targets) clocks.reset(id);
      },
    };
  }

  private pause(spec: FaultSpec & { family: 'pause' }, leader: string | null): Applied {
    const { nodes } = this.opts;
    const ids = this.ordered(spec.pick);
    const victim = spec.variant === 'leader' ? this.withLeaderFirst(spec.pick, leader)[0]! : ids.find((x) => x !== leader) ?? ids[0]!;
    nodes.pause(victim);
    return {
      variant: spec.variant,
      targets: [victim],
      detail: `SIGSTOP ${victim}, then SIGCONT`,
      heal: async () => nodes.resume(victim),
    };
  }
}
