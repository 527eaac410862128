import type { NodeId, SeededRandom } from '../../src/raft/index.js';
import type { CommandResult, LockCommand, LockEvent, LockMode } from '../../src/locks/index.js';
import type { SimCluster } from './cluster.js';
import { leaseSafetyMarginMsMin } from '../../src/api/contract.js';

/** LOCK_NAMES are the locks the simulated clients fight over: few, so that they conflict often. */
export const LOCK_NAMES: readonly string[] = ['a', 'b', 'c'];
const CLIENT_COUNT = 4;
/** After this long without an answer (its member crashed, say) a client stops waiting for a request. */
const GIVE_UP_MS = 3_000;
/** Shares of answers lost on the way back (the client retries later): createSession's, and renew's and keepalive's. */
const LOST_CREATE_ANSWERS = 0.3;
const LOST_ANSWERS = 0.1;

interface Hold {
  readonly token: number;
  readonly mode: LockMode;
  readonly sessionId: string | null;
}

/** Client is one simulated application process and what it was told. */
interface Client {
  readonly name: string;
  readonly holds: Map<string, Hold>;
  /** The acquire call in flight (or queued) per lock: a client never asks twice for one lock at a time. */
  readonly calls: Map<string, AcquireCall>;
  session: string | null;
  sessionBusy: boolean;
  /** Sends the last request again, same requestId, to a member (a client retrying after a timeout). */
  retry: ((target: NodeId) => void) | null;
  seq: number;
}

/** AcquireCall is one acquire call: its attempts, and for a waiting one the cancel its long-polls send when their client is gone. */
interface AcquireCall {
  /** Every attempt so far; a retry adds one (send's array). */
  attempts: Attempt[];
  readonly cancel: LockCommand | null;
  /** Sends one more attempt (same requestId) to a member. */
  retry: (to: NodeId) => void;
}

/** LongPoll is a waiting acquire's long-poll: the waiter id its attempts subscribe to, and what an event does. */
interface LongPoll {
  readonly waiterId: string;
  readonly onEvent: AttemptEventHandler;
}

/** SentCall is what send() returns: the call's attempts so far and its retry. */
interface SentCall {
  readonly attempts: Attempt[];
  readonly retry: (to: NodeId) => void;
}

/** Attempt is one HTTP attempt of a call: sent at `sentMs`; an abandoned one's answers reach nobody. */
interface Attempt {
  readonly to: NodeId;
  readonly sentMs: number;
  /** Answered "queued": its long-poll waits for the outcome. */
  queued: boolean;
  /** Its long-poll answered the outcome (a grant or the end of the wait). */
  answered: boolean;
  /**
   * An event for its waiter id that came before its own acquire was answered. The long-poll reads events only
   * once its acquire has applied (long-poll.ts): a retry's acquire may find the stored outcome changed meanwhile.
   */
  early: LockEvent | null;
  abandoned: boolean;
  unsubscribe: (() => void) | null;
}

/** AttemptAnswer receives an attempt's answer: the result, and the answering member's table time then. */
type AttemptAnswer = (attempt: Attempt, result: CommandResult, tableNowMs: number) => void;

/**
 * believedUntilMs is the client library's rule with the least margin the drift bound allows: a lease whose answer
 * says `remainingMs` is left (expiresInMs: the deadline less the answering member's table time) is relied on until
 * the START of the attempt that got the answer + remainingMs (at most the ttl) - leaseSafetyMarginMsMin(ttl)
 * (src/client/lease-keeper.ts). A retry answered from the dedupe table carries its first deadline, so this is what
 * keeps a retried createSession or renew honest (issue 11, hole 3). (The library's default margin is larger;
 * checking the least one checks the bound itself.)
 */
export function believedUntilMs(attemptSentMs: number, ttlMs: number, remainingMs = ttlMs): number {
  return attemptSentMs + Math.min(Math.max(0, remainingMs), ttlMs) - leaseSafetyMarginMsMin(ttlMs);
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
 * sessions with keepalives and deletes; retries with the same requestId;
 * waiting attempts whose clients disconnect (a cancel naming the owner); and
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
      calls: new Map(),
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
    else if (x < 0.87) c.retry?.(target);
    else if (x < 0.9) this.abandon(c, pick(r, LOCK_NAMES), target);
    else if (x < 0.98) this.cluster.read(target, () => {});
    else if (leaders.length > 0) this.cluster.transfer(pick(r, leaders), pick(r, this.cluster.ids));
  }

  /**
   * send makes one call: its first attempt now, a retry (same command) whenever the client retries. Each attempt
   * is answered on its own, dated from its own send; for a waiting acquire (`longPoll`) each attempt also has its
   * own long-poll, subscribed before it is sent, as the HTTP route does. A share `lostAnswers` of the answers is
   * lost, and the client retries. Returns the call's attempts (the array grows with every retry) and its retry.
   */
  private send(c: Client, target: NodeId, command: LockCommand, answer: AttemptAnswer, longPoll?: LongPoll, lostAnswers = 0): SentCall {
    const attempts: Attempt[] = [];
    const attemptTo = (to: NodeId): void => {
      const a: Attempt = { to, sentMs: this.cluster.nowMs, queued: false, answered: false, abandoned: false, early: null, unsubscribe: null };
      if (longPoll !== undefined) {
        a.unsubscribe = this.cluster.registerWaiter(to, longPoll.waiterId, (event) => {
          a.unsubscribe?.();
          if (a.abandoned || a.answered) return; // an abandoned long-poll has cancelled, or will once its acquire applies
          if (!a.queued) {
            a.early = event;
            return;
          }
          a.answered = true;
          longPoll.onEvent(a, event, this.cluster.tableNowMs(to));
        });
        if (a.unsubscribe === null) return; // that member already holds a long-poll for this id (the route answers 503)
      }
      attempts.push(a);
      this.cluster.submit(to, command, (err, result) => {
        if (err !== null || result === undefined || a.answered) return;
        if (this.r.next() < lostAnswers) {
          // The answer is lost on its way back (or comes after the attempt's timeout): the client retries later,
          // and the retry is answered from the dedupe table with the first result (issue 11, hole 3).
          a.answered = true;
          this.cluster.at(this.cluster.nowMs + between(this.r, 100, 1500), `${c.name} retries ${command.type}`, () => attemptTo(pick(this.r, this.cluster.ids)));
          return;
        }
        answer(a, result, this.cluster.tableNowMs(to));
      });
    };
    c.retry = attemptTo;
    attemptTo(target);
    return { attempts, retry: attemptTo };
  }

  private acquire(c: Client, target: NodeId): void {
    const r = this.r;
    const free = LOCK_NAMES.filter((n) => !c.holds.has(n) && !c.calls.has(n));
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
    const call: AcquireCall = { attempts: [], cancel: waitMs > 0 ? { type: 'cancelWait', name, waiterId: requestId, owner: c.name } : null, retry: () => {} };
    const end = (): void => {
      if (c.calls.get(name) === call) c.calls.delete(name);
    };
    const granted = (a: Attempt, token: number, grantedMode: LockMode, expiresAtMs: number, tableNowMs: number): void => {
      end();
      if (c.holds.has(name)) return;
      c.holds.set(name, { token, mode: grantedMode, sessionId });
      const belief = sessionId === null ? { untilMs: believedUntilMs(a.sentMs, ttlMs, expiresAtMs - tableNowMs) } : { sessionId };
      this.cluster.locksChecker.noteGrantAcked(c.name, name, token, grantedMode, belief);
    };
    c.calls.set(name, call);
    // The call's deadline: the library aborts its attempts, so each long-poll sees its client gone.
    this.cluster.at(this.cluster.nowMs + waitMs + GIVE_UP_MS, `${c.name} gives up on ${requestId}`, () => {
      for (const a of call.attempts) this.dropAttempt(a, call);
      end();
    });
    const onEvent: AttemptEventHandler = (a, event, tableNowMs) => {
      if (event.kind === 'granted') granted(a, event.token, event.mode, event.expiresAtMs, tableNowMs);
      else end();
    };
    const sent = this.send(
      c,
      target,
      command,
      (a, result, tableNowMs) => {
        const applied = result.ok && 'queued' in result;
        if (a.abandoned) {
          // Its long-poll learns only now, after its acquire applied, that its client is gone: it cancels (long-poll.ts).
          a.answered = true;
          if (applied && call.cancel !== null) this.sendCancel(a, call.cancel);
          return;
        }
        if (applied && result.queued) {
          a.queued = true;
          if (a.early !== null) {
            a.answered = true;
            onEvent(a, a.early, tableNowMs);
          }
          return;
        }
        a.answered = true;
        a.unsubscribe?.();
        if (applied) granted(a, result.token, result.mode, result.expiresAtMs, tableNowMs);
        else end();
      },
      waitMs > 0 ? { waiterId: requestId, onEvent } : undefined,
    );
    call.attempts = sent.attempts;
    call.retry = sent.retry;
  }

  /**
   * abandon drops one unanswered attempt of `c`'s waiting acquire of `name`: its connection breaks, and the client
   * relies on nothing that attempt could still bring; its long-poll cancels naming the owner. Mostly the library
   * then retries (same requestId) at `to`, as it does after a broken connection, and that attempt may bring the
   * grant: the table must not undo a grant another attempt brought to the client (the lost-grant check would see
   * it), and may undo one that no attempt brought.
   */
  private abandon(c: Client, name: string, to: NodeId): void {
    const call = c.calls.get(name);
    if (call === undefined || call.cancel === null) return;
    const open = call.attempts.filter((a) => !a.answered && !a.abandoned);
    if (open.length === 0) return;
    this.dropAttempt(pick(this.r, open), call);
    if (this.r.next() < 0.7) call.retry(to);
  }

  /**
   * dropAttempt ends one attempt of an acquire call: its answer reaches nobody; a waiting one's long-poll cancels,
   * when it notices: at once, or up to a second later (a connection that died without a FIN), by which time a
   * retry of the call may wait too, or may have brought the grant.
   */
  private dropAttempt(a: Attempt, call: AcquireCall): void {
    if (a.answered || a.abandoned) return;
    a.abandoned = true;
    a.unsubscribe?.();
    // Not answered yet: the long-poll still awaits its acquire and cancels once it applies (see the answer above).
    const cancel = call.cancel;
    if (!a.queued || cancel === null) return;
    const noticeMs = this.r.next() < 0.5 ? 0 : between(this.r, 1, 1000);
    this.cluster.at(this.cluster.nowMs + noticeMs, `${a.to} notices a client gone`, () => this.sendCancel(a, cancel));
  }

  /** sendCancel is a long-poll's cancel: proposed on its own member when it leads, else forwarded to the leader. */
  private sendCancel(a: Attempt, cancel: LockCommand): void {
    this.cluster.submit(this.cluster.leader() ?? a.to, cancel, () => {});
  }

  private release(c: Client, target: NodeId): void {
    const held = [...c.holds.keys()];
    if (held.length === 0) return;
    const name = pick(this.r, held);
    const hold = c.holds.get(name)!;
    c.holds.delete(name);
    this.cluster.locksChecker.noteReleaseSent(c.name, name, hold.token);
    const command: LockCommand = { type: 'release', name, owner: c.name, token: hold.token, requestId: `${c.name}.${++c.seq}` };
    this.send(c, target, command, (_a, result) => {
      if (result.ok && 'holdCount' in result) this.cluster.locksChecker.noteReleaseAcked(c.name, name, hold.token, result.holdCount);
    });
    // Often a waiter's connection breaks just as the lock is released to it (issue 11, hole 4).
    const waiting = this.clients.filter((x) => x.calls.get(name)?.cancel != null);
    if (waiting.length > 0 && this.r.next() < 0.5) this.abandon(pick(this.r, waiting), name, target);
  }

  private renew(c: Client, target: NodeId): void {
    const held = [...c.holds.entries()].filter(([, h]) => h.sessionId === null);
    if (held.length === 0) return;
    const [name, hold] = pick(this.r, held);
    const ttlMs = between(this.r, 100, 2000);
    const checker = this.cluster.locksChecker;
    const seq = checker.noteRenewSent(c.name, name, hold.token, believedUntilMs(this.cluster.nowMs, ttlMs));
    const command: LockCommand = { type: 'renew', name, owner: c.name, token: hold.token, ttlMs, requestId: `${c.name}.${++c.seq}` };
    const answer: AttemptAnswer = (a, result, tableNowMs) => {
      if (result.ok && 'expiresAtMs' in result) checker.noteRenewAcked(c.name, name, hold.token, seq, believedUntilMs(a.sentMs, ttlMs, result.expiresAtMs - tableNowMs));
      else if (!result.ok && result.error === 'not_holder' && c.holds.get(name)?.token === hold.token) c.holds.delete(name);
    };
    this.send(c, target, command, answer, undefined, LOST_ANSWERS);
  }

  private sessionStep(c: Client, target: NodeId): void {
    if (c.sessionBusy) return;
    const checker = this.cluster.locksChecker;
    const requestId = `${c.name}.${++c.seq}`;
    if (c.session === null) {
      const sessionId = `${c.name}.s${c.seq}`;
      const ttlMs = between(this.r, 300, 2000);
      c.sessionBusy = true;
      this.cluster.at(this.cluster.nowMs + GIVE_UP_MS, `${c.name} gives up on ${requestId}`, () => (c.sessionBusy = false));
      const created: AttemptAnswer = (a, result, tableNowMs) => {
        c.sessionBusy = false;
        if (!result.ok || !('ttlMs' in result && 'expiresAtMs' in result) || c.session !== null) return;
        c.session = sessionId;
        // A retry's answer may come from the dedupe table: the deadline the first attempt set (issue 11, hole 3).
        checker.noteSessionAcked(sessionId, believedUntilMs(a.sentMs, ttlMs, result.expiresAtMs - tableNowMs));
      };
      this.send(c, target, { type: 'createSession', sessionId, ttlMs, requestId }, created, undefined, LOST_CREATE_ANSWERS);
      return;
    }
    const sessionId = c.session;
    if (this.r.next() < 0.75) {
      const kept: AttemptAnswer = (a, result, tableNowMs) => {
        if (result.ok && 'ttlMs' in result && 'expiresAtMs' in result) checker.noteSessionAcked(sessionId, believedUntilMs(a.sentMs, result.ttlMs, result.expiresAtMs - tableNowMs));
        else if (!result.ok && c.session === sessionId) this.forgetSession(c, sessionId);
      };
      this.send(c, target, { type: 'keepalive', sessionId, requestId }, kept, undefined, LOST_ANSWERS);
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

/** AttemptEventHandler receives a waiter event on one attempt's long-poll, with that member's table time then. */
type AttemptEventHandler = (attempt: Attempt, event: LockEvent, tableNowMs: number) => void;
