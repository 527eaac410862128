/**
 * Who leads, over time: the harness polls every node's /v1/status every
 * ~200 ms during a run. Each poll becomes one LeaderObservation (the node that
 * claims leadership at the highest term, or null); changes are kept separately
 * for the timeline. The observations feed "time to a new leader after each fault".
 */
import type { LeaderObservation } from '../availability.js';
import { httpCall, type HttpAccess } from './http-call.js';
import { sleep, type RunClock } from './run-clock.js';

/** NodeStatus is the part of /v1/status the harness reads. */
export interface NodeStatus {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
}

/** LeaderChange marks the moment the observed leader (or its term) changed. */
export interface LeaderChange {
  readonly atMs: number;
  readonly leader: string | null;
  readonly term: number | null;
}

/** MAX_OBSERVATIONS bounds the memory of a monitor (10 minutes at 5 polls a second is 3,000). */
const MAX_OBSERVATIONS = 100_000;

/** pollStatuses asks every endpoint for its status at once; unreachable ones are left out. */
export async function pollStatuses(endpoints: readonly string[], timeoutMs: number, access: HttpAccess = {}): Promise<NodeStatus[]> {
  const results = await Promise.all(endpoints.map((url) => httpCall(url, 'GET', '/v1/status', undefined, timeoutMs, access)));
  const out: NodeStatus[] = [];
  for (const r of results) {
    if (r.kind !== 'response' || r.status !== 200) continue;
    const b = r.body;
    if (typeof b['id'] !== 'string' || typeof b['role'] !== 'string' || typeof b['term'] !== 'number') continue;
    out.push({ id: b['id'], role: b['role'], term: b['term'], leader: typeof b['leader'] === 'string' ? b['leader'] : null });
  }
  return out;
}

/** leaderOf picks the node claiming leadership at the highest term (a deposed leader may still claim an old one). */
export function leaderOf(statuses: readonly NodeStatus[]): { leader: string; term: number } | null {
  let best: NodeStatus | null = null;
  for (const s of statuses) if (s.role === 'leader' && (best === null || s.term > best.term)) best = s;
  return best === null ? null : { leader: best.id, term: best.term };
}

/** LeaderMonitor polls in the background between start() and stop(). */
export class LeaderMonitor {
  readonly observations: LeaderObservation[] = [];
  readonly changes: LeaderChange[] = [];
  private running = false;
  private loop: Promise<void> | null = null;
  private last: { leader: string | null; term: number | null } = { leader: null, term: null };

  constructor(
    private readonly endpoints: () => readonly string[],
    private readonly clock: RunClock,
    private readonly access: HttpAccess = {},
    private readonly intervalMs = 200,
  ) {}

  /** current is the leader of the latest poll, or null. */
  get current(): string | null {
    return this.last.leader;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.loop = null;
  }

  /** pollOnce polls now and records the observation. */
  async pollOnce(): Promise<LeaderObservation> {
    const statuses = await pollStatuses(this.endpoints(), Math.max(100, this.intervalMs * 2), this.access);
    const l = leaderOf(statuses);
    const obs: LeaderObservation = l === null ? { atMs: this.clock.nowMs(), leader: null } : { atMs: this.clock.nowMs(), leader: l.leader, term: l.term };
    if (this.observations.length < MAX_OBSERVATIONS) this.observations.push(obs);
    const term = l?.term ?? null;
    if (obs.leader !== this.last.leader || term !== this.last.term) {
      if (this.changes.length < MAX_OBSERVATIONS) this.changes.push({ atMs: obs.atMs, leader: obs.leader, term });
      this.last = { leader: obs.leader, term };
    }
    return obs;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const started = this.clock.nowMs();
      await this.pollOnce();
      await sleep(this.intervalMs - (this.clock.nowMs() - started));
    }
  }
}

/**
 * waitForAgreedLeader polls until every endpoint answers and all name the same
 * leader, which claims leadership itself; returns its id, or null at the deadline.
 */
export async function waitForAgreedLeader(endpoints: readonly string[], timeoutMs: number, access: HttpAccess = {}): Promise<string | null> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const statuses = await pollStatuses(endpoints, 500, access);
    const l = leaderOf(statuses);
    if (l !== null && statuses.length === endpoints.length && statuses.every((s) => s.leader === l.leader && s.term === l.term)) return l.leader;
    await sleep(100);
  }
  return null;
}
