import type { NodeId, SeededRandom } from '../../src/raft/index.js';
import type { CommandResult, LockCommand, LockEvent, LockMode } from '../../src/locks/index.js';
import type { SimCluster } from './cluster.js';
import { leaseSafetyMarginMsMin } from '../../src/api/contract.js';

/** LOCK_NAMES are the locks the simulated clients fight over: few, so that they conflict often. */
export const LOCK_NAMES: readonly string[] = ['a', 'b', 'c'];
const CLIENT_COUNT = 4;
/** After this long without an answer (its member crashed, say) a client stops waiting for a request. */
const GIVE_UP_MS = 3_000;

interface Hold {
  readonly token: number;
  readonly mode: LockMode;
  readonly sessionId: string | null;
}

/** Client is one simulated application process and what it was told. */
interface Client {
  readonly name: string;
  readonly holds: Map<string, Hold>;
  /** Locks with an acquire in flight (or queued): a client never asks twice for one lock at a time. */
  readonly busy: Set<string>;
  session: string | null;
  sessionBusy: boolean;
  /** Sends the last request again, same requestId, to a member (a client retrying after a timeout). */
  retry: ((target: NodeId) => void) | null;
  seq: number;
}

type Answer = (err: Error | null, result?: CommandResult) => void;

/**
 * believedUntilMs is the client library's rule with the least margin the drift bound allows: a lease acknowledged
 * to a request sent at `sentMs` is relied on until sentMs + ttl - leaseSafetyMarginMsMin(ttl). (The library's
 * default margin is larger; checking the least one checks the bound itself.)
 */
function believedUntilMs(sentMs: number, ttlMs: number): number {
  return sentMs + ttlMs - leaseSafetyMarginMsMin(ttlMs);
}

function between(r: SeededRandom, lo: number, hi: number): number {
  return lo + r.nextInt(hi - lo + 1);
}

function pick<T>(r: SeededRandom, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick from empty list');
  return items[r.nextInt(items.length)]!;
}

/**
 * LockWorkload is the simulated clients: exclusive and shared acquires with a
 * TTL or under a session, queued (long-poll) or not; releases, renewals,
 * sessions with keepalives and deletes; retries with the same requestId; and
 * linearizable reads. Each answer it receives it reports to the lock checker
 * as a belief, which the checker holds the table to.
 */
export class LockWorkload {
  private readonly clients: Client[];

  constructor(
    private readonly cluster: SimCluster,
    private readonly r: SeededRandom,
  ) {
    this.clients = Array.from({ length: CLIENT_COUNT }, (_, i) => ({
      name: `c${i}`,
      holds: new Map(),
      busy: new Set(),
      session: null,
      sessionBusy: false,
      retry: null,
      seq: 0,
    }));
  }

  /** step is one client action, against the leader mostly and any member sometimes (which must refuse or forward). */
  step(): void {
    const r = this.r;
    const c = pick(r, this.clients);
    const leaders = this.cluster.leaders();
    const target = leaders.length > 0 && r.next() < 0.8 ? pick(r, leaders) : pick(r, this.cluster.ids);
    const x = r.next();
    if (x < 0.42) this.acquire(c, target);
    else if (x < 0.6) this.release(c, target);
    else if (x < 0.72) this.renew(c, target);
    else if (x < 0.82) this.sessionStep(c, target);
    else if (x < 0.9) c.retry?.(target);
    else if (x < 0.98) this.cluster.read(target, () => {});
    else if (leaders.length > 0) this.cluster.transfer(pick(r, leaders), pick(r, this.cluster.ids));
  }

  private send(c: Client, target: NodeId, command: LockCommand, answer: Answer): void {
    const attempt = (to: NodeId): void => {
      this.cluster.submit(to, command, answer);
    };
    c.retry = attempt;
    attempt(target);
  }

  private acquire(c: Client, target: NodeId): void {
    const r = this.r;
    const free = LOCK_NAMES.filter((n) => !c.holds.has(n) && !c.busy.has(n));
    if (free.length === 0) return;
    const name = pick(r, free);
    const mode: LockMode = r.next() < 0.75 ? 'exclusive' : 'shared';
    const sessionId = c.session !== null && r.next() < 0.4 ? c.session : null;
    const ttlMs = between(r, 100, 2000);
    const waitMs = r.next() < 0.6 ? 0 : between(r, 50, 1500);
    const requestId = `${c.name}.${++c.seq}`;
    const command: LockCommand = {
      type: 'acquire',
      name,
      owner: c.name,
      mode,
      waitMs,
      requestId,
      ...(sessionId === null ? { ttlMs } : { sessionId }),
    };
    const sentMs = this.cluster.nowMs;
    const granted = (token: number, grantedMode: LockMode): void => {
      c.busy.delete(name);
      if (c.holds.has(name)) return;
      c.holds.set(name, { token, mode: grantedMode, sessionId });
      this.cluster.locksChecker.noteGrantAcked(c.name, name, token, grantedMode, sessionId === null ? { untilMs: believedUntilMs(sentMs, ttlMs) } : { sessionId });
    };
    c.busy.add(name);
    this.cluster.at(sentMs + waitMs + GIVE_UP_MS, `${c.name} gives up on ${requestId}`, () => c.busy.delete(name));
    if (waitMs > 0) {
      const unsubscribe = this.cluster.registerWaiter(target, requestId, (event: LockEvent) => {
        unsubscribe?.();
        if (event.kind === 'granted') granted(event.token, event.mode);
        else c.busy.delete(name);
      });
    }
    this.send(c, target, command, (err, result) => {
      if (err !== null || result === undefined) return;
      if (result.ok && 'queued' in result) {
        if (!result.queued) granted(result.token, result.mode);
        return;
      }
      c.busy.delete(name);
    });
  }

  private release(c: Client, target: NodeId): void {
    const held = [...c.holds.keys()];
    if (held.length === 0) return;
    const name = pick(this.r, held);
    const hold = c.holds.get(name)!;
    c.holds.delete(name);
    this.cluster.locksChecker.noteReleaseSent(c.name, name, hold.token);
    const command: LockCommand = { type: 'release', name, owner: c.name, token: hold.token, requestId: `${c.name}.${++c.seq}` };
    this.send(c, target, command, (err, result) => {
      if (err === null && result !== undefined && result.ok && 'holdCount' in result) {
        this.cluster.locksChecker.noteReleaseAcked(c.name, name, hold.token, result.holdCount);
      }
    });
  }

  private renew(c: Client, target: NodeId): void {
    const held = [...c.holds.entries()].filter(([, h]) => h.sessionId === null);
    if (held.length === 0) return;
    const [name, hold] = pick(this.r, held);
    const ttlMs = between(this.r, 100, 2000);
    const sentMs = this.cluster.nowMs;
    const checker = this.cluster.locksChecker;
    const seq = checker.noteRenewSent(c.name, name, hold.token, believedUntilMs(sentMs, ttlMs));
    const command: LockCommand = { type: 'renew', name, owner: c.name, token: hold.token, ttlMs, requestId: `${c.name}.${++c.seq}` };
    this.send(c, target, command, (err, result) => {
      if (err !== null || result === undefined) return;
      if (result.ok) checker.noteRenewAcked(c.name, name, hold.token, seq, believedUntilMs(sentMs, ttlMs));
      else if (result.error === 'not_holder' && c.holds.get(name)?.token === hold.token) c.holds.delete(name);
    });
  }

  private sessionStep(c: Client, target: NodeId): void {
    if (c.sessionBusy) return;
    const checker = this.cluster.locksChecker;
    const sentMs = this.cluster.nowMs;
    const requestId = `${c.name}.${++c.seq}`;
    if (c.session === null) {
      const sessionId = `${c.name}.s${c.seq}`;
      const ttlMs = between(this.r, 300, 2000);
      c.sessionBusy = true;
      this.cluster.at(sentMs + GIVE_UP_MS, `${c.name} gives up on ${requestId}`, () => (c.sessionBusy = false));
      this.send(c, target, { type: 'createSession', sessionId, ttlMs, requestId }, (err, result) => {
        c.sessionBusy = false;
        if (err !== null || result === undefined || !result.ok || !('sessionId' in result) || c.session !== null) return;
        c.session = sessionId;
        checker.noteSessionAcked(sessionId, believedUntilMs(sentMs, ttlMs));
      });
      return;
    }
    const sessionId = c.session;
    if (this.r.next() < 0.75) {
      this.send(c, target, { type: 'keepalive', sessionId, requestId }, (err, result) => {
        if (err !== null || result === undefined) return;
        if (result.ok && 'ttlMs' in result) checker.noteSessionAcked(sessionId, believedUntilMs(sentMs, result.ttlMs));
        else if (!result.ok && c.session === sessionId) this.forgetSession(c, sessionId);
      });
      return;
    }
    checker.noteSessionEnding(sessionId);
    this.forgetSession(c, sessionId);
    this.send(c, target, { type: 'deleteSession', sessionId, requestId }, () => {});
  }

  /** forgetSession: the client stops relying on the session and on every hold under it. */
  private forgetSession(c: Client, sessionId: string): void {
    c.session = null;
    for (const [name, h] of c.holds) if (h.sessionId === sessionId) c.holds.delete(name);
  }
}
