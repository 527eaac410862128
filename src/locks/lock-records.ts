/**
 * The in-memory records of the lease table. They are tuned for memory: a lock
 * with a single holder (the common case) is ONE object — the first hold lives
 * inline in its LockRecord — and everything rarer (more holders, a semaphore
 * limit, waiters, a lock-delay) hangs off an optional LockExt.
 */
import type { LockMode } from './types.js';

/** MODE_EXCLUSIVE encodes LockMode 'exclusive' as a small integer. */
export const MODE_EXCLUSIVE = 0;
/** MODE_SHARED encodes LockMode 'shared'. */
export const MODE_SHARED = 1;
/** ModeCode is the integer encoding of LockMode. */
export type ModeCode = typeof MODE_EXCLUSIVE | typeof MODE_SHARED;

/** modeCode encodes a LockMode. */
export function modeCode(mode: LockMode): ModeCode {
  return mode === 'shared' ? MODE_SHARED : MODE_EXCLUSIVE;
}

/** modeName decodes a ModeCode. */
export function modeName(code: ModeCode): LockMode {
  return code === MODE_SHARED ? 'shared' : 'exclusive';
}

/**
 * HoldFields are the fields of one hold. Both the inline first hold of a
 * LockRecord and a Holder have them, so code can treat either as a "slot".
 */
export interface HoldFields {
  /** null only for a LockRecord without holders. */
  owner: string | null;
  token: number;
  /** Lease end of a TTL hold; 0 for a session hold (the session's expiry rules). */
  expiresAtMs: number;
  /** TTL of a TTL hold (default for renew); 0 for a session hold. */
  ttlMs: number;
  holdCount: number;
  sessionId: string | null;
  lockDelayMs: number;
  /** Creation sequence number: orders deadlines that tie (see DeadlineHeap). */
  seq: number;
}

/** Holder is the second, third, ... hold of a shared lock. */
export class Holder implements HoldFields {
  /** False once removed; heap entries pointing here are then stale. */
  alive = true;
  constructor(
    readonly rec: LockRecord,
    public owner: string,
    public token: number,
    public expiresAtMs: number,
    public ttlMs: number,
    public holdCount: number,
    public sessionId: string | null,
    public lockDelayMs: number,
    public seq: number,
  ) {}
}

/** Waiter is a queued acquire. */
export class Waiter {
  /** False once granted or removed; the queue drops dead waiters at the end of every apply. */
  alive = true;
  /** The election value its grant will carry (an exclusive acquire's `value`); null = none. */
  value: string | null = null;
  constructor(
    readonly rec: LockRecord,
    readonly id: string,
    readonly owner: string,
    readonly mode: ModeCode,
    /** Semaphore limit asked for; 0 = none. */
    readonly limit: number,
    /** 0 for a session waiter. */
    readonly ttlMs: number,
    readonly sessionId: string | null,
    readonly deadlineMs: number,
    readonly lockDelayMs: number,
    readonly seq: number,
    /** True when `id` is the acquire's requestId, so its dedupe entry follows the waiter's fate. */
    readonly deduped: boolean,
  ) {}
}

/** LockExt holds what only some locks need. */
export class LockExt {
  /** Semaphore limit of the current shared holders; 0 = none (or not held). */
  limit = 0;
  /** Holds after the inline one, in grant order. */
  more: Holder[] = [];
  /** FIFO queue; may contain dead waiters during an apply, never between applies. */
  waiters: Waiter[] = [];
  deadWaiters = 0;
  /** Lock-delay end; 0 = none. */
  delayUntilMs = 0;
  delaySeq = 0;
  /** The election value of the inline (exclusive) hold; null = none. Kept here: most locks never have one. */
  value: string | null = null;

  /** isEmpty: nothing here is needed any more. */
  isEmpty(): boolean {
    return this.limit === 0 && this.more.length === 0 && this.waiters.length === 0 && this.delayUntilMs === 0 && this.value === null;
  }
}

/**
 * LockRecord is one lock name. It exists while the lock has holders, waiters
 * or a lock-delay; free records are removed (the table keeps a token floor so
 * that tokens stay strictly increasing per name anyway).
 */
export class LockRecord implements HoldFields {
  owner: string | null = null;
  token = 0;
  expiresAtMs = 0;
  ttlMs = 0;
  holdCount = 0;
  sessionId: string | null = null;
  lockDelayMs = 0;
  seq = 0;
  /** Mode of the current holders (meaningless when free). */
  mode: ModeCode = MODE_EXCLUSIVE;
  /** Largest token ever granted for this name (or the table's floor when created). */
  lastToken: number;
  ext: LockExt | null = null;

  constructor(
    readonly name: string,
    lastToken: number,
  ) {
    this.lastToken = lastToken;
  }

  /** holderCount counts holds (not reentrant hold counts). */
  holderCount(): number {
    if (this.owner === null) return 0;
    return this.ext === null ? 1 : 1 + this.ext.more.length;
  }

  /** queueLength counts waiters not yet removed. */
  queueLength(): number {
    return this.ext === null ? 0 : this.ext.waiters.length - this.ext.deadWaiters;
  }

  /** semaphoreLimit is the limit of the current shared holders; 0 = none (or not held). */
  semaphoreLimit(): number {
    return this.ext === null ? 0 : this.ext.limit;
  }

  /** isLockDelayed: is a lock-delay in force at `nowMs`? */
  isLockDelayed(nowMs: number): boolean {
    return this.ext !== null && this.ext.delayUntilMs > nowMs;
  }

  /** holdValue is the election value of `hold`: only the inline hold of an exclusive lock has one. */
  holdValue(hold: HoldFields): string | null {
    return hold === this && this.ext !== null ? this.ext.value : null;
  }

  /** ensureExt returns the LockExt, creating it on first need. */
  ensureExt(): LockExt {
    return (this.ext ??= new LockExt());
  }

  /** forEachHold visits the holds in grant order, inline first. */
  forEachHold(visit: (hold: HoldFields) => void): void {
    if (this.owner === null) return;
    visit(this);
    if (this.ext !== null) for (const h of this.ext.more) visit(h);
  }

  /** holdByToken finds the hold with fencing token `token`. */
  holdByToken(token: number): HoldFields | null {
    if (this.owner === null) return null;
    if (this.token === token) return this;
    if (this.ext !== null) for (const h of this.ext.more) if (h.token === token) return h;
    return null;
  }

  /**
   * holdOf finds the hold of an identity: under a session, the session's hold
   * (whatever its owner); without one, the owner's hold that has no session.
   */
  holdOf(owner: string, sessionId: string | null): HoldFields | null {
    let found: HoldFields | null = null;
    this.forEachHold((hold) => {
      if (found === null && hold.sessionId === sessionId && (sessionId !== null || hold.owner === owner)) found = hold;
    });
    return found;
  }
}

/** Session is a client session: its holds live as long as it does. */
export class Session {
  /** Lock names held under the session, in the order they were granted (= holder seq order). */
  readonly locks = new Set<string>();
  /** Waiters queued under the session, in queue-entry order (= waiter seq order); null when none yet. */
  waiters: Set<Waiter> | null = null;
  constructor(
    readonly id: string,
    readonly owner: string | null,
    public ttlMs: number,
    public expiresAtMs: number,
    readonly seq: number,
  ) {}
}
