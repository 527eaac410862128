/**
 * The membership nemesis's procedure (issue 13): replace a member of the running verify cluster by an empty one with
 * the same id and addresses, as an operator replaces a machine that lost its disk:
 *
 *   take out:   DELETE /v1/members/X (a leader hands leadership over first), kill X, wipe its data dir;
 *   bring back: POST /v1/members {X, same addresses} (a learner), start X with `--initial-cluster-state existing
 *               --cluster-id` (NodeLauncher.rejoinOnNextStart), POST /v1/members/X/promote until it is caught up.
 *
 * The harness's per-link TCP proxies keep fixed addresses, so the same id and addresses work, and every member's
 * `--peers` still names X's proxy. Requests go to the leader the harness last saw, else to any running member (any
 * member relays to the leader), with the run's admin token (run-security.ts). Every step is retried on the
 * transient refusals and on unanswered requests, within a deadline; the requests are idempotent by their answers
 * (a repeated remove finds no such member, a repeated add finds it a member, a repeated promote finds it a voter).
 * restoreAll() brings every original member back as a voter at the end of the run, or says why it could not (once
 * any removal may have taken effect).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { httpCall, type CallResult, type HttpAccess } from './http-call.js';
import type { NodeProcesses } from './node-processes.js';
import { sleep } from './run-clock.js';

/** MemberReplacementOptions wire the procedure to the cluster. */
export interface MemberReplacementOptions {
  readonly nodes: NodeProcesses;
  /** The CA and admin token of every request (NodeProcesses.adminAccess). */
  readonly access: HttpAccess;
  /** The leader the harness last saw (tried first), or null. */
  readonly leaderHint: () => string | null;
}

/** StepOutcome is how one step ended, in words for the nemesis log. */
export interface StepOutcome {
  readonly ok: boolean;
  readonly detail: string;
  /** Not ok because a member refused for good (not a lost request or the deadline): the step changed nothing. */
  readonly refused?: boolean;
}

/** MemberRow is one member as GET /v1/members lists it. */
interface MemberRow {
  readonly id: string;
  readonly suffrage: 'voter' | 'learner';
  readonly peerAddress: string | null;
  readonly httpUrl: string | null;
}

/** The addresses a member is added back with. */
interface MemberAddresses {
  readonly peerAddress: string;
  readonly httpUrl: string;
}

/** Refusals that pass by themselves (member-routes.ts): retry them. */
const TRANSIENT_REFUSALS: ReadonlySet<string> = new Set(['not_caught_up', 'change_in_progress', 'own_term_not_committed']);
/** One request's bound; a relay to the leader fits well within it. */
const REQUEST_TIMEOUT_MS = 3_000;
/** Pause between attempts of a step. */
const RETRY_PAUSE_MS = 250;
/** MAX_ATTEMPTS bounds every retry loop, besides its deadline. */
const MAX_ATTEMPTS = 1_000;

function reasonOf(r: CallResult): string {
  if (r.kind !== 'response') return `${r.kind}: ${r.error}`;
  const reason = typeof r.body['reason'] === 'string' ? `/${r.body['reason']}` : '';
  return `${r.status} ${String(r.body['error'] ?? '')}${reason}`;
}

function refusalOf(r: CallResult): string | null {
  return r.kind === 'response' && r.status === 409 && typeof r.body['reason'] === 'string' ? r.body['reason'] : null;
}

/** MemberReplacement takes members out and brings them back; it remembers which ones are out. */
export class MemberReplacement {
  /** Members whose data dir was wiped and that must join again (added, started with `existing`, promoted). */
  private readonly wiped = new Set<string>();
  /** Each member's addresses as the configuration listed them before its first removal. */
  private readonly addresses = new Map<string, MemberAddresses>();
  /** Whether a removal may have taken effect: only then does restoreAll check the configuration. */
  private touched = false;

  constructor(private readonly o: MemberReplacementOptions) {}

  /** outstanding lists the members taken out and not yet voters again. */
  get outstanding(): string[] {
    return [...this.wiped];
  }

  /**
   * takeOut removes `id` from the configuration, kills it and wipes its data dir. Not ok when the removal was not
   * confirmed by `deadlineMs` (performance.now()): then `id` still runs on its data (restoreAll checks it again).
   */
  async takeOut(id: string, deadlineMs: number): Promise<StepOutcome> {
    await this.learnAddresses(id, deadlineMs);
    const removed = await this.retry(deadlineMs, id, 'DELETE', `/v1/members/${id}`, undefined, (r) => {
      if (r.kind === 'response' && r.status === 200) return 'done';
      if (r.kind === 'response' && r.status === 404) {
        // A repeated removal (the first one's answer was lost) finds no such member; a build without the route
        // (verify --build of an older one) answers 404 without a reason.
        return r.body['reason'] === 'unknown_member' ? 'done' : 'fail';
      }
      const refusal = refusalOf(r);
      return refusal !== null && !TRANSIENT_REFUSALS.has(refusal) ? 'fail' : 'retry';
    });
    if (removed.refused !== true) this.touched = true;
    if (!removed.ok) return { ok: false, detail: `remove ${id} failed: ${removed.detail}` };
    await this.wipe(id);
    return { ok: true, detail: `removed ${id} (${removed.detail}), killed it, wiped its data dir` };
  }

  /**
   * bringBack makes `id` a voter again: if it is no member, wipes it (unless it already was) and adds it as a
   * learner with its old addresses; starts it (joining, when wiped); promotes it once caught up. Ok once it is a
   * voter; not ok at `deadlineMs`, with the step that did not finish.
   */
  async bringBack(id: string, deadlineMs: number): Promise<StepOutcome> {
    const steps: string[] = [];
    const members = await this.members(id, deadlineMs);
    if (members === null) return { ok: false, detail: `bring back ${id}: the membership could not be read` };
    const row = members.find((m) => m.id === id);
    if (row?.suffrage === 'voter') {
      this.wiped.delete(id);
      return { ok: true, detail: `${id} is a voter` };
    }
    if (row === undefined) {
      // Still on its old data (a removal confirmed late): it must not come back with it.
      if (!this.wiped.has(id)) await this.wipe(id);
      const addr = this.addressesOf(id);
      const added = await this.retry(deadlineMs, id, 'POST', '/v1/members', { id, ...addr }, (r) => {
        if (r.kind === 'response' && r.status === 201) return 'done';
        // A repeated add (the first one's answer was lost) finds it a member.
        if (refusalOf(r) === 'already_member') return 'done';
        const refusal = refusalOf(r);
        return refusal !== null && !TRANSIENT_REFUSALS.has(refusal) ? 'fail' : 'retry';
      });
      if (!added.ok) return { ok: false, detail: `add ${id} as a learner failed: ${added.detail}` };
      steps.push(`added ${id} as a learner (${added.detail})`);
    }
    const node = this.o.nodes.node(id);
    if (node.child === null) {
      this.o.nodes.start(id);
      steps.push(this.wiped.has(id) ? `started ${id} empty (existing)` : `restarted ${id}`);
    }
    const startedMs = performance.now();
    const promoted = await this.retry(deadlineMs, id, 'POST', `/v1/members/${id}/promote`, undefined, (r) => {
      if (r.kind === 'response' && r.status === 200) return 'done';
      // A repeated promotion finds it a voter already.
      if (refusalOf(r) === 'not_learner') return 'done';
      const refusal = refusalOf(r);
      if (r.kind === 'response' && r.status === 404) return 'fail';
      return refusal !== null && !TRANSIENT_REFUSALS.has(refusal) ? 'fail' : 'retry';
    });
    if (!promoted.ok) return { ok: false, detail: [...steps, `promote ${id} failed: ${promoted.detail}`].join(', ') };
    this.wiped.delete(id);
    steps.push(`caught up and promoted after ${Math.round(performance.now() - startedMs)} ms (${promoted.detail})`);
    return { ok: true, detail: steps.join(', ') };
  }

  /**
   * restoreAll brings every member of the run back as a voter by `deadlineMs`; returns what it could not restore,
   * each in words (empty when all are voters).
   */
  async restoreAll(deadlineMs: number): Promise<string[]> {
    if (!this.touched) return [];
    const ids = this.o.nodes.ids;
    let problems: string[] = ['the membership was never read'];
    for (let round = 0; round < MAX_ATTEMPTS && performance.now() < deadlineMs; round++) {
      const members = await this.members(null, deadlineMs);
      if (members === null) {
        problems = ['the membership could not be read (no member answered GET /v1/members through its leader)'];
        continue;
      }
      const missing = ids.filter((id) => members.find((m) => m.id === id)?.suffrage !== 'voter');
      if (missing.length === 0) {
        this.wiped.clear();
        return [];
      }
      problems = [];
      for (const id of missing) {
        const r = await this.bringBack(id, deadlineMs);
        if (!r.ok) problems.push(`${id} is not a voter again: ${r.detail}`);
      }
      if (problems.length > 0) await sleep(RETRY_PAUSE_MS);
    }
    return problems;
  }

  /** wipe kills `id` (if it runs), deletes its data dir, and makes its next start join the cluster again. */
  private async wipe(id: string): Promise<void> {
    const { nodes } = this.o;
    await nodes.kill(id, 'SIGKILL');
    const dir = nodes.node(id).dataDir;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    nodes.rejoinOnNextStart(id);
    this.wiped.add(id);
  }

  /** learnAddresses keeps `id`'s addresses as the configuration lists them, the first time it is taken out. */
  private async learnAddresses(id: string, deadlineMs: number): Promise<void> {
    if (this.addresses.has(id)) return;
    // Briefly: without the listing the member's own listeners do (addressesOf), and the removal needs the time.
    const row = (await this.members(id, Math.min(deadlineMs, performance.now() + REQUEST_TIMEOUT_MS)))?.find((m) => m.id === id);
    if (row?.peerAddress != null && row.httpUrl != null) this.addresses.set(id, { peerAddress: row.peerAddress, httpUrl: row.httpUrl });
  }

  /** addressesOf is what learnAddresses kept, else the member's own listeners (its peers dial it through --peers). */
  private addressesOf(id: string): MemberAddresses {
    const known = this.addresses.get(id);
    if (known !== undefined) return known;
    const node = this.o.nodes.node(id);
    return { peerAddress: `${node.host}:${node.peerPort}`, httpUrl: node.httpUrl };
  }

  /** members lists the configuration (asked of anyone but `avoid`), or null when no one answered by `deadlineMs`. */
  private async members(avoid: string | null, deadlineMs: number): Promise<MemberRow[] | null> {
    let rows: MemberRow[] | null = null;
    await this.retry(deadlineMs, avoid, 'GET', '/v1/members', undefined, (r) => {
      // A build without the route (verify --build of an older one) answers 404: asking again will not help.
      if (r.kind === 'response' && r.status === 404) return 'fail';
      if (r.kind !== 'response' || r.status !== 200 || !Array.isArray(r.body['members'])) return 'retry';
      rows = r.body['members'] as MemberRow[];
      return 'done';
    });
    return rows;
  }

  /**
   * retry sends one request until `judge` calls an answer done or failed, or `deadlineMs` passes. Each attempt goes
   * to the known leader, else to the running members in turn (never `avoid`, the member being changed).
   */
  private async retry(
    deadlineMs: number,
    avoid: string | null,
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body: unknown,
    judge: (r: CallResult) => 'done' | 'retry' | 'fail',
  ): Promise<StepOutcome> {
    let last = 'no attempt before the deadline';
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const leftMs = deadlineMs - performance.now();
      if (leftMs <= 0) break;
      const target = this.target(avoid, attempt);
      if (target === null) {
        last = 'no running member to ask';
      } else {
        const r = await httpCall(this.o.nodes.node(target).httpUrl, method, path, body, Math.min(REQUEST_TIMEOUT_MS, Math.max(100, leftMs)), this.o.access);
        const verdict = judge(r);
        last = `${reasonOf(r)} from ${target}`;
        if (verdict === 'done') return { ok: true, detail: `${attempt + 1} attempt${attempt === 0 ? '' : 's'}` };
        if (verdict === 'fail') return { ok: false, detail: last, refused: true };
      }
      await sleep(Math.min(RETRY_PAUSE_MS, deadlineMs - performance.now()));
    }
    return { ok: false, detail: `not done in time; last answer: ${last}` };
  }

  /** target is whom attempt `attempt` asks: the known leader first, then each running member in turn. */
  private target(avoid: string | null, attempt: number): string | null {
    const { nodes } = this.o;
    const up = nodes.ids.filter((id) => id !== avoid && nodes.isUp(id) && !this.wiped.has(id));
    if (up.length === 0) return null;
    const leader = this.o.leaderHint();
    if (attempt % 2 === 0 && leader !== null && up.includes(leader)) return leader;
    return up[attempt % up.length]!;
  }
}
