import { RaftLockClientError } from './errors.js';
import type { CallResult } from './http-transport.js';
import { leaseTimers, type LeaseTimers, type LeaseWaker, type TimerEntry } from './lease-timers.js';
import { monotonicNowMs } from './monotonic-clock.js';

/**
 * LeaseGrant is what one successful grant or renewal proves: at the monotonic
 * time `startedAtMs` (the START of the HTTP attempt that got the answer) or
 * later, the server's lease had `remainingMs` left. So the lease lasts at
 * least until startedAtMs + remainingMs on the client's clock, however long
 * the answer took to arrive, and whichever retry of the call applied it.
 */
export interface LeaseGrant {
  readonly startedAtMs: number;
  readonly remainingMs: number;
}

/**
 * leaseGrantOf reads the lease an answer proves: `expiresInMs` (what the
 * server's deadline had left when it answered, in its table time) from the
 * start of the attempt that got the answer. Grants, renewals, session
 * creations and keepalives all answer so; a retried call's answer may come
 * from the server's dedupe table, with the deadline its first apply set.
 */
export function leaseGrantOf(res: CallResult<{ readonly expiresInMs?: unknown }>, what: string): LeaseGrant {
  const remainingMs = res.body.expiresInMs;
  if (typeof remainingMs !== 'number' || !Number.isFinite(remainingMs) || remainingMs < 0) {
    throw new RaftLockClientError('bad_response', `${what} answered without a valid expiresInMs: ${JSON.stringify(res.body)}`);
  }
  return { startedAtMs: res.attemptStartMs, remainingMs };
}

/**
 * confirmFresh returns `grant` if it still leaves at least half the ttl
 * before `lost` would fire, and otherwise renews once and returns that
 * renewal's grant. A grant whose attempt started long before the lease began
 * (a long-poll wait, a slow first connection) would otherwise hand out a
 * lease that is already nearly, or wholly, lost.
 */
export async function confirmFresh(grant: LeaseGrant, ttlMs: number, safetyMarginMs: number, renew: () => Promise<LeaseGrant>): Promise<LeaseGrant> {
  const leftMs = grant.startedAtMs + Math.min(grant.remainingMs, ttlMs) - safetyMarginMs - monotonicNowMs();
  return leftMs >= ttlMs / 2 ? grant : renew();
}

/** LeaseKeeperOptions tell a LeaseKeeper how to renew and what a failed renewal means. */
export interface LeaseKeeperOptions {
  readonly ttlMs: number;
  /** How long before the lease's earliest possible expiry `lost` fires (clock drift, scheduling delay). */
  readonly safetyMarginMs: number;
  /** Renew in the background every ttlMs/3. */
  readonly autoRenew: boolean;
  /** renew sends one renewal call (with its own retries) that must end by `deadlineMs`. */
  readonly renew: (deadlineMs: number, signal: AbortSignal) => Promise<LeaseGrant>;
  /** isLoss tells whether a renewal error proves the lease is gone (not_holder, session_not_found). */
  readonly isLoss: (err: unknown) => boolean;
  /** lostReason builds the reason the `lost` signal carries. */
  readonly lostReason: (why: string, cause?: unknown) => Error;
}

/**
 * LeaseKeeper keeps one lease (a lock's or a session's) alive and says when
 * it may have run out. `lost` fires at the earliest moment the server could
 * consider the lease expired, minus a safety margin: the START of the last
 * successful renewal plus the remaining time it reported — even while a
 * renewal is still in flight — or at once on a definitive loss. Lost is
 * final: a renewal that succeeds afterwards does not revive it.
 *
 * Its renewal and its `lost` deadline are one entry in the process's shared
 * LeaseTimers (whichever is due first), not two timers of its own; the
 * controller that aborts an in-flight renewal exists only once one is sent.
 */
export class LeaseKeeper implements LeaseWaker {
  private readonly lostController = new AbortController();
  /** Aborts an in-flight renewal when the keeper stops or the lease is lost; made when first needed. */
  private stopController: AbortController | undefined;
  /** lost fires when the lease may have expired; its reason is built by `lostReason`. */
  readonly lost: AbortSignal = this.lostController.signal;
  private lostAtMs: number;
  /** When the next background renewal is due (Infinity: none scheduled). */
  private renewAtMs = Infinity;
  private wakeEntry: TimerEntry | undefined;
  private renewing = false;
  private stopped = false;
  /** Whether `lost` is disarmed (the lease was given up on purpose). */
  private disarmed = false;

  constructor(
    private readonly opts: LeaseKeeperOptions,
    first: LeaseGrant,
    private readonly timers: LeaseTimers = leaseTimers,
  ) {
    // The renewal at ttl/3 must come before `lost` at ttl - margin.
    if (!(opts.safetyMarginMs >= 0 && opts.safetyMarginMs < (2 * opts.ttlMs) / 3)) {
      throw new Error(`invariant: safety margin ${opts.safetyMarginMs} ms must be below 2/3 of the ttl ${opts.ttlMs} ms`);
    }
    this.lostAtMs = this.lostAtFor(first);
    if (opts.autoRenew) this.renewAtMs = monotonicNowMs() + this.renewDelayAfter(first);
    this.reschedule();
  }

  /** remainingMs is how long the lease is certainly still held (0 once lost). */
  get remainingMs(): number {
    return this.lost.aborted ? 0 : Math.max(0, this.lostAtMs - monotonicNowMs());
  }

  /**
   * renewNow renews at once (besides the background renewals). Resolves when
   * the lease is extended; throws the renewal's error (a definitive loss also
   * fires `lost`), or the lost reason if the lease was lost meanwhile.
   */
  async renewNow(signal?: AbortSignal): Promise<void> {
    if (this.lost.aborted) throw this.lost.reason;
    const stopSignal = this.stopSignal();
    const combined = signal === undefined ? stopSignal : AbortSignal.any([signal, stopSignal]);
    let grant: LeaseGrant;
    try {
      grant = await this.opts.renew(Infinity, combined);
    } catch (err) {
      if (this.opts.isLoss(err)) this.fireLost('the server says it is no longer held', err);
      throw err;
    }
    if (this.lost.aborted) throw this.lost.reason;
    this.accept(grant);
  }

  /** stopRenewing ends background renewal; `lost` still fires when the last lease runs out. */
  stopRenewing(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.renewAtMs = Infinity;
    // Only a renewal in flight needs telling (and an Error with its stack is not free).
    this.stopController?.abort(new Error('renewal stopped'));
    this.reschedule();
  }

  /** stop ends renewal and disarms `lost`: the lease was given up on purpose. */
  stop(): void {
    this.disarmed = true;
    this.stopRenewing();
    this.timers.cancel(this.wakeEntry);
    this.wakeEntry = undefined;
  }

  /** fireLost marks the lease lost now (idempotent) and stops renewing. */
  fireLost(why: string, cause?: unknown): void {
    if (this.lost.aborted) return;
    this.disarmed = true;
    this.stopRenewing();
    this.timers.cancel(this.wakeEntry);
    this.wakeEntry = undefined;
    this.lostController.abort(this.opts.lostReason(why, cause));
  }

  /** wake is called by the shared timer when this keeper's earliest deadline came: lose the lease or renew it. */
  wake(): void {
    this.wakeEntry = undefined;
    if (this.lost.aborted || this.disarmed) return;
    const nowMs = monotonicNowMs();
    if (nowMs >= this.lostAtMs) {
      // A renewal's success moves lostAtMs; reaching it means none came in time.
      this.fireLost(`its lease may have expired: no renewal succeeded within ${this.opts.ttlMs - this.opts.safetyMarginMs} ms of the last one's start`);
      return;
    }
    if (nowMs >= this.renewAtMs) {
      this.renewAtMs = Infinity;
      void this.renewInBackground();
    }
    this.reschedule();
  }

  private stopSignal(): AbortSignal {
    if (this.stopController === undefined) {
      this.stopController = new AbortController();
      if (this.stopped) this.stopController.abort(new Error('renewal stopped'));
    }
    return this.stopController.signal;
  }

  private lostAtFor(grant: LeaseGrant): number {
    return grant.startedAtMs + Math.min(grant.remainingMs, this.opts.ttlMs) - this.opts.safetyMarginMs;
  }

  /** accept extends the lease by a grant; grants may arrive out of order, so keep the latest expiry. */
  private accept(grant: LeaseGrant): void {
    const lostAtMs = this.lostAtFor(grant);
    if (lostAtMs <= this.lostAtMs) return;
    this.lostAtMs = lostAtMs;
    this.reschedule();
  }

  /** reschedule puts this keeper's one wake-up at its earliest deadline (renewal or lost). */
  private reschedule(): void {
    if (this.lost.aborted || this.disarmed) return;
    const dueMs = Math.min(this.renewAtMs, this.lostAtMs);
    if (this.wakeEntry !== undefined && this.wakeEntry.waker !== null && this.wakeEntry.dueMs === dueMs) return;
    this.timers.cancel(this.wakeEntry);
    if (dueMs <= monotonicNowMs() && dueMs === this.lostAtMs) {
      this.wakeEntry = undefined;
      this.fireLost(`its lease may have expired (no successful renewal for ${this.opts.ttlMs - this.opts.safetyMarginMs} ms)`);
      return;
    }
    this.wakeEntry = this.timers.schedule(this, dueMs);
  }

  /** renewDelayAfter: renew when a third of the ttl has passed since the grant's start (at once if already later). */
  private renewDelayAfter(grant: LeaseGrant): number {
    const floorMs = Math.max(1, this.opts.ttlMs / 20);
    return Math.max(floorMs, grant.startedAtMs + Math.min(grant.remainingMs, this.opts.ttlMs) - (2 * this.opts.ttlMs) / 3 - monotonicNowMs());
  }

  private scheduleRenew(delayMs: number): void {
    if (this.stopped || this.lost.aborted) return;
    this.renewAtMs = monotonicNowMs() + delayMs;
    this.reschedule();
  }

  private async renewInBackground(): Promise<void> {
    if (this.stopped || this.lost.aborted || this.renewing) return;
    this.renewing = true;
    try {
      // Retrying beyond lostAtMs is pointless: by then the lease is lost anyway.
      const grant = await this.opts.renew(this.lostAtMs, this.stopSignal());
      if (this.stopped || this.lost.aborted) return;
      this.accept(grant);
      this.scheduleRenew(this.renewDelayAfter(grant));
    } catch (err) {
      if (this.stopped || this.lost.aborted) return;
      if (this.opts.isLoss(err)) {
        this.fireLost('the server says it is no longer held', err);
        return;
      }
      // Transient (no leader, unreachable, outcome unknown): try again soon; `lost` fires on time regardless.
      this.scheduleRenew(Math.min(this.opts.ttlMs / 10, Math.max(1, this.lostAtMs - monotonicNowMs())));
    } finally {
      this.renewing = false;
    }
  }
}
