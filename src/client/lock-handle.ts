import { NotHolderError, RaftLockClientError, type LockLostError, type SessionLostError } from './errors.js';
import type { LeaseKeeper } from './lease-keeper.js';
import type { CallSignal, LockMode, LostSignal } from './types.js';

/** LockHandleInit is what RaftLockClient gives a new LockHandle (internal). */
export interface LockHandleInit {
  readonly name: string;
  readonly owner: string;
  readonly token: number;
  readonly mode: LockMode;
  /** The hold's own lease (a ttl lock); undefined for a lock held under a session. */
  readonly keeper?: LeaseKeeper;
  /** A session lock's session: its `lost` and keepalive stand for the lock's. */
  readonly session?: { readonly id: string; readonly lost: LostSignal<SessionLostError>; readonly remainingMs: number; keepalive(options?: CallSignal): Promise<void> };
  /** sendRelease sends the release call (same requestId on every retry). */
  readonly sendRelease: (signal: AbortSignal | undefined) => Promise<void>;
  /** onReleased runs once the hold is given up (a session forgets the handle). */
  readonly onReleased?: () => void;
}

/**
 * LockHandle is one granted hold of a lock. Its `token` is the fencing token:
 * pass it to whatever the lock protects, which should reject tokens lower
 * than the highest it has seen (Kleppmann 2016; Chubby's sequencers). A ttl
 * lock renews itself every ttlMs/3 until `release()`; `lost` fires when the
 * lease may have expired, which is when work under the lock must stop.
 */
export class LockHandle {
  /** name of the lock. */
  readonly name: string;
  /** token is the fencing token of this hold: strictly larger than any earlier holder's. */
  readonly token: number;
  /** owner the hold was granted to. */
  readonly owner: string;
  readonly mode: LockMode;
  /** sessionId of the session the lock is held under, if any. */
  readonly sessionId: string | undefined;
  /**
   * lost fires (once, with a LockLostError or SessionLostError reason) when
   * the hold may be gone: before its lease can have expired on the server if
   * renewals fail, or at once on a definitive not_holder. It never fires
   * after a successful release.
   */
  readonly lost: LostSignal<LockLostError | SessionLostError>;
  private state: 'held' | 'released' = 'held';
  private releasing: Promise<boolean> | undefined;

  /** Built by RaftLockClient.acquire; do not construct yourself. @internal */
  constructor(private readonly init: LockHandleInit) {
    if (!((init.keeper === undefined) !== (init.session === undefined))) throw new Error('invariant: a hold has either its own lease or a session');
    if (!(Number.isSafeInteger(init.token) && init.token >= 1)) throw new Error(`invariant: bad fencing token ${init.token}`);
    this.name = init.name;
    this.token = init.token;
    this.owner = init.owner;
    this.mode = init.mode;
    this.sessionId = init.session?.id;
    this.lost = (init.keeper?.lost as LostSignal<LockLostError> | undefined) ?? (init.session as NonNullable<LockHandleInit['session']>).lost;
  }

  /** held is true until the hold is released or lost. */
  get held(): boolean {
    return this.state === 'held' && !this.lost.aborted;
  }

  /** remainingMs is how long the lease is certainly still held: the hold's own lease, or its session's (0 once lost). */
  get remainingMs(): number {
    if (!this.held) return 0;
    return this.init.keeper?.remainingMs ?? (this.init.session as NonNullable<LockHandleInit['session']>).remainingMs;
  }

  /**
   * renew extends the lease now (a session lock keeps its session alive).
   * Throws NotHolderError (and fires `lost`) if the server no longer has the
   * hold, the lost reason if it was lost meanwhile, or the call's error.
   */
  async renew(options: CallSignal = {}): Promise<void> {
    if (this.state === 'released') throw new NotHolderError(`lock ${this.name} (token ${this.token}) was released`);
    if (this.init.keeper !== undefined) return this.init.keeper.renewNow(options.signal);
    return this.init.session?.keepalive(options);
  }

  /**
   * release gives the hold up and stops renewal; calling it again returns the
   * same answer. Resolves true if the server released it, false if it was
   * not held any more (lost, expired, force-released): releasing a lost lock
   * is not an error. Throws only if the call failed while the lock was not
   * lost (then the lease runs out by itself; release may be called again).
   */
  release(options: CallSignal = {}): Promise<boolean> {
    if (this.releasing !== undefined) return this.releasing;
    if (this.state === 'released') return Promise.resolve(false);
    this.init.keeper?.stopRenewing();
    const releasing = this.init.sendRelease(options.signal).then(
      () => this.finish(true),
      (err: unknown) => {
        if (err instanceof NotHolderError) return this.finish(false);
        if (this.lost.aborted && err instanceof RaftLockClientError) return this.finish(false);
        this.releasing = undefined;
        throw err;
      },
    );
    this.releasing = releasing;
    return releasing;
  }

  /** markReleased records that the hold ended without a release call (its session was closed). Internal. */
  markReleased(): void {
    if (this.state === 'released') return;
    this.finish(false);
  }

  private finish(released: boolean): boolean {
    this.state = 'released';
    this.init.keeper?.stop();
    this.init.onReleased?.();
    return released;
  }
}

/**
 * runWithLock waits for `acquiring`, runs `fn` with the handle, and releases
 * it whatever happens. `fn`'s result or exception propagates; a failed
 * release is swallowed, since the hold ends by itself (its lease or session).
 */
export async function runWithLock<T>(acquiring: Promise<LockHandle>, fn: (lock: LockHandle) => Promise<T> | T): Promise<T> {
  const lock = await acquiring;
  try {
    return await fn(lock);
  } finally {
    await lock.release().catch(() => false);
  }
}
