import type { Entry } from '../../src/raft/types.js';
import type { CommandResult, HolderView, LeaseTable, LockCommand, LockMode } from '../../src/locks/index.js';
import { violated } from './sim-violation.js';
import { MAX_CLOCK_RATE_ERROR } from '../../src/api/contract.js';

/** Belief is what a client may act on: it holds `token` on `lock` until `untilMs` (its own clock) or while its session lives. */
interface Belief {
  readonly client: string;
  readonly lock: string;
  readonly token: number;
  readonly mode: LockMode;
  readonly sessionId: string | null;
  untilMs: number;
  releaseSent: boolean;
  /** Sequence of the newest renew sent; only its answer may lengthen the belief. */
  renewSeq: number;
}

interface SessionBelief {
  untilMs: number;
  /** deleteSession was sent: the client no longer relies on it. */
  ending: boolean;
}

interface QueuedAcquire {
  readonly stampMs: number;
  readonly waitMs: number;
}

/**
 * LockChecker checks the lease table's promises after every entry that is
 * applied for the first time anywhere (State Machine Safety makes every other
 * replica's table the same there, which the hash chain checks):
 *
 * - mutual exclusion: at most one exclusive holder, never beside shared ones;
 * - fencing: every new hold of a lock gets a token above all earlier ones,
 *   a token always names the same owner, and `lastToken` never goes back;
 * - no acknowledged grant lost: a hold a client was told it has stays in the
 *   table while the table's time is before the client's belief (its request's
 *   send time + TTL, or the session's), unless the client sent a release;
 *   an acknowledged release never comes back; a believed session stays;
 * - no lease overlap: a conflicting hold is never created while another
 *   client still believes its hold (send time + TTL) by the shared clock;
 * - waiters: a hold granted from the queue is granted no later than the
 *   acquire's stamp + waitMs, and a session hold's session is live;
 * - table time never runs ahead of real time by more than the clock-rate
 *   bound (MAX_CLOCK_RATE_ERROR): leases never depend on wall clocks, which
 *   the simulation sets seconds apart and steps (issue 11).
 *
 * Beliefs follow the client library's own rule: a client believes a hold only
 * from an acknowledgement, from when it sent the request, for the TTL less
 * leaseSafetyMarginMsMin (the drift bound), in real time. Whether an
 * acknowledged hold vanished too early is judged in real time too: table time
 * pauses between leaders, so it is no measure of what a client may believe.
 */
export class LockChecker {
  private readonly beliefs = new Map<string, Belief[]>();
  private readonly sessions = new Map<string, SessionBelief>();
  private readonly holders = new Map<string, Map<number, string>>();
  private readonly maxToken = new Map<string, number>();
  private readonly lastToken = new Map<string, number>();
  private readonly released = new Set<string>();
  private readonly queued = new Map<string, QueuedAcquire[]>();
  /** The event after which each term's leader took its lease time base, in term order. */
  private readonly termBases: { term: number; event: number }[] = [];
  readonly stats = { grantsSeen: 0, waiterGrants: 0, grantsAcked: 0, releasesAcked: 0, expiries: 0, waitsCancelled: 0, grantsUndone: 0, sessionCheckpoints: 0, sessionRestarts: 0 };

  constructor(
    private readonly lockNames: readonly string[],
    /** Off only to show that a broken variant's harm reaches clients (lease-overlap), not just the time check. */
    private readonly checkTableTime = true,
  ) {
    for (const name of lockNames) {
      this.beliefs.set(name, []);
      this.holders.set(name, new Map());
    }
  }

  // ---- What clients were told -----------------------------------------------------------

  /** noteGrantAcked: `client` was told it holds `token` (TTL hold believed until `untilMs`, or under `sessionId`). */
  noteGrantAcked(client: string, lock: string, token: number, mode: LockMode, hold: { untilMs: number } | { sessionId: string }): void {
    this.stats.grantsAcked++;
    const list = this.beliefsOf(lock);
    const sessionId = 'sessionId' in hold ? hold.sessionId : null;
    const untilMs = 'untilMs' in hold ? hold.untilMs : 0;
    const known = list.find((b) => b.client === client && b.token === token);
    if (known !== undefined) {
      known.untilMs = Math.max(known.untilMs, untilMs);
      return;
    }
    if (this.released.has(`${lock}|${token}`)) return; // a late answer to a retry of a hold already released
    list.push({ client, lock, token, mode, sessionId, untilMs, releaseSent: false, renewSeq: 0 });
  }

  /** noteReleaseSent: from now on the client does not rely on the hold. */
  noteReleaseSent(client: string, lock: string, token: number): void {
    for (const b of this.beliefsOf(lock)) if (b.client === client && b.token === token) b.releaseSent = true;
  }

  /** noteReleaseAcked: the hold is gone (holdCount 0) and must never come back. */
  noteReleaseAcked(client: string, lock: string, token: number, holdCount: number): void {
    this.stats.releasesAcked++;
    if (holdCount > 0) return;
    this.released.add(`${lock}|${token}`);
    this.beliefs.set(
      lock,
      this.beliefsOf(lock).filter((b) => !(b.client === client && b.token === token)),
    );
  }

  /** noteRenewSent shortens the belief at once to the renewal's (it may set a shorter lease); returns its sequence. */
  noteRenewSent(client: string, lock: string, token: number, untilMs: number): number {
    const b = this.beliefsOf(lock).find((x) => x.client === client && x.token === token);
    if (b === undefined) return 0;
    b.untilMs = Math.min(b.untilMs, untilMs);
    return ++b.renewSeq;
  }

  /** noteRenewAcked lengthens the belief to the renewal's when it answers the newest renew sent. */
  noteRenewAcked(client: string, lock: string, token: number, seq: number, untilMs: number): void {
    const b = this.beliefsOf(lock).find((x) => x.client === client && x.token === token);
    if (b !== undefined && b.renewSeq === seq) b.untilMs = untilMs;
  }

  /** noteSessionAcked: a createSession or keepalive answered; the session lives at least until `untilMs`. */
  noteSessionAcked(sessionId: string, untilMs: number): void {
    const s = this.sessions.get(sessionId);
    if (s === undefined) this.sessions.set(sessionId, { untilMs, ending: false });
    else if (!s.ending) s.untilMs = Math.max(s.untilMs, untilMs);
  }

  /** noteSessionEnding: deleteSession was sent; the session's holds are no longer relied on. */
  noteSessionEnding(sessionId: string): void {
    const s = this.sessions.get(sessionId);
    if (s === undefined) this.sessions.set(sessionId, { untilMs: 0, ending: true });
    else s.ending = true;
  }

  /** noteTermBase: the leader of `term` took its lease time base at event `event` (recorded once per term). */
  noteTermBase(term: number, event: number): void {
    const last = this.termBases[this.termBases.length - 1];
    if (last !== undefined && last.term >= term) return;
    this.termBases.push({ term, event });
  }

  /**
   * noteKeepaliveFromMemory: `member`, leading `term` when the keepalive arrived at event `arrivalEvent`, answered it
   * from memory (no log entry). That is safe only if no later term's leader had taken its base before the arrival:
   * that leader reset every session from its base, before the keepalive, so nothing in the log or in its memory
   * covers the ttl the client was promised from the keepalive (issue 14). The quorum round before the answer makes
   * it impossible: a later term was elected by a quorum that no longer acknowledges this term's heartbeats.
   */
  noteKeepaliveFromMemory(member: string, term: number, arrivalEvent: number): void {
    for (let i = this.termBases.length - 1; i >= 0 && this.termBases[i]!.term > term; i--) {
      const base = this.termBases[i]!;
      if (base.event < arrivalEvent) {
        violated('stale-keepalive', `${member} answered a keepalive from memory in term ${term}, but term ${base.term}'s leader had taken its base (event ${base.event}) before the keepalive arrived (event ${arrivalEvent})`);
      }
    }
  }

  // ---- What the table did -----------------------------------------------------------------

  /** onFirstApply checks the table right after an entry was applied for the first time; `nowMs` is virtual time. */
  onFirstApply(entry: Entry, command: LockCommand, result: CommandResult, table: LeaseTable, nowMs: number): void {
    const tableNowMs = table.nowMs;
    if (this.checkTableTime && tableNowMs > nowMs * (1 + MAX_CLOCK_RATE_ERROR) + 1) {
      violated('table-time-ahead', `table time ${tableNowMs} ms is ahead of real time ${nowMs} ms by more than the ${MAX_CLOCK_RATE_ERROR} rate bound (entry ${entry.index}, term ${entry.term})`);
    }
    if (command.type === 'expire' && 'holdsExpired' in result) this.stats.expiries += result.holdsExpired;
    if (command.type === 'checkpointSessions') this.stats.sessionCheckpoints++;
    if (command.type === 'restartSessionLeases') this.stats.sessionRestarts++;
    if (command.type === 'cancelWait' && result.ok && 'cancelled' in result && result.cancelled) {
      if ('released' in result) this.stats.grantsUndone++;
      else this.stats.waitsCancelled++;
    }
    if (command.type === 'acquire' && result.ok && 'queued' in result && result.queued) {
      const key = `${command.owner}|${command.name}`;
      const list = (this.queued.get(key) ?? []).filter((q) => q.stampMs + q.waitMs >= tableNowMs - 60_000);
      list.push({ stampMs: tableNowMs, waitMs: command.waitMs });
      this.queued.set(key, list);
    }
    for (const name of this.lockNames) this.checkLock(name, command, table, tableNowMs, nowMs);
    this.checkSessions(table, nowMs);
  }

  private checkLock(name: string, command: LockCommand, table: LeaseTable, tableNowMs: number, nowMs: number): void {
    const view = table.get(name);
    const holders = view?.holders ?? [];
    const exclusive = holders.filter((h) => h.mode === 'exclusive');
    if (exclusive.length > 1 || (exclusive.length === 1 && holders.length > 1)) {
      violated('mutual-exclusion', `${name} has ${exclusive.length} exclusive holders among ${holders.length}: ${describeHolders(holders)}`);
    }
    if (view !== null) {
      const last = this.lastToken.get(name) ?? 0;
      if (view.lastToken < last) violated('fencing', `${name} lastToken went back ${last} -> ${view.lastToken}`);
      this.lastToken.set(name, view.lastToken);
    }
    const before = this.holders.get(name)!;
    for (const h of holders) {
      const owner = before.get(h.token);
      if (owner === undefined) this.checkNewHold(name, h, command, table, tableNowMs, nowMs);
      else if (owner !== h.owner) violated('fencing', `${name} token ${h.token} changed owner ${owner} -> ${h.owner}`);
    }
    const beliefs = this.beliefsOf(name);
    for (const b of beliefs) {
      if (b.releaseSent || this.beliefUntilMs(b) <= nowMs) continue;
      if (!holders.some((h) => h.token === b.token)) {
        violated('lost-grant', `${b.client}'s acknowledged hold ${name}#${b.token} vanished at t=${nowMs} (table time ${tableNowMs}), believed until ${this.beliefUntilMs(b)}`);
      }
    }
    // A belief that has ended on a hold that is gone can never matter again (a renew of it fails).
    if (beliefs.length > 8) {
      this.beliefs.set(name, beliefs.filter((b) => this.beliefUntilMs(b) > nowMs || holders.some((h) => h.token === b.token)));
    }
    this.holders.set(name, new Map(holders.map((h) => [h.token, h.owner])));
  }

  private checkNewHold(name: string, h: HolderView, command: LockCommand, table: LeaseTable, tableNowMs: number, nowMs: number): void {
    this.stats.grantsSeen++;
    if (this.released.has(`${name}|${h.token}`)) violated('lost-release', `${name}#${h.token} was released (acknowledged) but is held again by ${h.owner}`);
    const max = this.maxToken.get(name) ?? 0;
    if (h.token <= max) violated('fencing', `new hold of ${name} by ${h.owner} has token ${h.token}, not above ${max}`);
    this.maxToken.set(name, h.token);
    if (h.sessionId !== undefined && table.session(h.sessionId) === null) {
      violated('waiter-session', `${name}#${h.token} granted to ${h.owner} under session ${h.sessionId}, which is not live`);
    }
    const direct = command.type === 'acquire' && command.name === name && command.owner === h.owner;
    if (!direct) {
      this.stats.waiterGrants++;
      const waits = this.queued.get(`${h.owner}|${name}`) ?? [];
      if (!waits.some((q) => q.stampMs + q.waitMs >= tableNowMs)) {
        violated('waiter-late', `${name}#${h.token} granted from the queue to ${h.owner} at table time ${tableNowMs}, after every wait it queued (${JSON.stringify(waits)})`);
      }
    }
    for (const b of this.beliefsOf(name)) {
      if (b.client === h.owner || b.releaseSent) continue;
      if (b.mode !== 'exclusive' && h.mode !== 'exclusive') continue;
      const untilMs = this.beliefUntilMs(b);
      if (untilMs > nowMs) {
        violated('lease-overlap', `${name}#${h.token} (${h.mode}) granted to ${h.owner} at t=${nowMs} while ${b.client} believes it holds ${name}#${b.token} (${b.mode}) until ${untilMs}`);
      }
    }
  }

  private checkSessions(table: LeaseTable, nowMs: number): void {
    for (const [id, s] of this.sessions) {
      if (s.ending || s.untilMs <= nowMs) continue;
      if (table.session(id) === null) violated('lost-session', `session ${id} vanished at t=${nowMs}, believed until ${s.untilMs}`);
    }
  }

  private beliefUntilMs(b: Belief): number {
    if (b.sessionId === null) return b.untilMs;
    const s = this.sessions.get(b.sessionId);
    return s === undefined || s.ending ? 0 : s.untilMs;
  }

  private beliefsOf(lock: string): Belief[] {
    const list = this.beliefs.get(lock);
    if (list === undefined) throw new Error(`lock checker: unknown lock ${lock}`);
    return list;
  }
}

function describeHolders(holders: readonly HolderView[]): string {
  return holders.map((h) => `${h.owner}#${h.token}/${h.mode}`).join(', ');
}
