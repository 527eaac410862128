import { RaftLockClientError, SessionLostError, SessionNotFoundError } from './errors.js';
import type { HttpTransport } from './http-transport.js';
import { LeaseKeeper, leaseGrantOf, type LeaseGrant } from './lease-keeper.js';
import { runWithLock, type LockHandle } from './lock-handle.js';
import type { CallSignal, HoldOptions, LostSignal } from './types.js';

/** SessionInit is what RaftLockClient gives a new Session (internal). */
export interface SessionInit {
  readonly id: string;
  readonly ttlMs: number;
  readonly owner: string;
  readonly safetyMarginMs: number;
  readonly transport: HttpTransport;
  /** The grant of the create call. */
  readonly first: LeaseGrant;
  /** acquire is the client's acquire; the session passes itself as `session`. */
  readonly acquire: (name: string, options: HoldOptions & { readonly session: Session }) => Promise<LockHandle>;
}

/**
 * Session is a server-side session (Chubby's, Raft thesis §6.3's client
 * session): locks acquired under it have no lease of their own and live as
 * long as it does. It is kept alive every ttlMs/3; `lost` fires when it may
 * have expired (then all its locks are gone too). `close()` deletes it, which
 * releases its locks.
 */
export class Session {
  /** id is the server's session id. */
  readonly id: string;
  readonly ttlMs: number;
  readonly owner: string;
  /** lost fires (with a SessionLostError) when the session may have expired on the server. */
  readonly lost: LostSignal<SessionLostError>;
  private readonly keeper: LeaseKeeper;
  private readonly handles = new Set<LockHandle>();
  private closing: Promise<number> | undefined;

  /** Built by RaftLockClient.session; do not construct yourself. @internal */
  constructor(private readonly init: SessionInit) {
    this.id = init.id;
    this.ttlMs = init.ttlMs;
    this.owner = init.owner;
    this.keeper = new LeaseKeeper(
      {
        ttlMs: init.ttlMs,
        safetyMarginMs: init.safetyMarginMs,
        autoRenew: true,
        renew: (deadlineMs, signal) => sendKeepalive(init.transport, init.id, deadlineMs, signal),
        isLoss: (err) => err instanceof SessionNotFoundError,
        lostReason: (why, cause) => new SessionLostError(`session ${init.id} lost: ${why}`, { cause }),
      },
      init.first,
    );
    this.lost = this.keeper.lost as LostSignal<SessionLostError>;
  }

  /** remainingMs is how long the session is certainly still alive on the server (0 once lost): its keepalives' lease. */
  get remainingMs(): number {
    return this.keeper.remainingMs;
  }

  /** closed is true once close() started. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** acquire takes a lock under this session (no per-lock renewal); see RaftLockClient.acquire. */
  async acquire(name: string, options: HoldOptions = {}): Promise<LockHandle> {
    if (this.closing !== undefined) throw new RaftLockClientError('session_closed', `session ${this.id} is closed`);
    return this.init.acquire(name, { ...options, session: this });
  }

  /** withLock acquires under this session, runs `fn`, and releases whatever happens. */
  withLock<T>(name: string, fn: (lock: LockHandle) => Promise<T> | T, options: HoldOptions = {}): Promise<T> {
    return runWithLock(this.acquire(name, options), fn);
  }

  /** keepalive extends the session now; throws SessionNotFoundError (and fires `lost`) if it is gone. */
  keepalive(options: CallSignal = {}): Promise<void> {
    return this.keeper.renewNow(options.signal);
  }

  /** track remembers a hold taken under this session, so close() can mark it released. Internal. */
  track(handle: LockHandle): void {
    if (this.closing !== undefined) handle.markReleased();
    else this.handles.add(handle);
  }

  /** forget drops a handle whose hold ended (called by the handle). Internal. */
  forget(handle: LockHandle): void {
    this.handles.delete(handle);
  }

  /**
   * close stops the keepalives and deletes the session, releasing its locks.
   * Resolves with the number of locks the server released (0 if the session
   * was already gone). Closing a lost session is not an error.
   */
  close(options: CallSignal = {}): Promise<number> {
    if (this.closing !== undefined) return this.closing;
    this.keeper.stopRenewing();
    this.closing = deleteSession(this.init.transport, this.id, options.signal).then(
      (locksReleased) => this.finish(locksReleased),
      (err: unknown) => {
        if (err instanceof SessionNotFoundError || (this.lost.aborted && err instanceof RaftLockClientError)) return this.finish(0);
        this.closing = undefined;
        throw err;
      },
    );
    return this.closing;
  }

  private finish(locksReleased: number): number {
    this.keeper.stop();
    for (const handle of [...this.handles]) handle.markReleased();
    this.handles.clear();
    return locksReleased;
  }
}

/** deleteSession deletes session `id` and resolves with how many locks that released. */
export async function deleteSession(transport: HttpTransport, id: string, signal?: AbortSignal): Promise<number> {
  const res = await transport.call<{ locksReleased?: number }>({
    method: 'DELETE',
    path: `/v1/sessions/${encodeURIComponent(id)}`,
    write: true,
    ...(signal !== undefined ? { signal } : {}),
  });
  return typeof res.body.locksReleased === 'number' ? res.body.locksReleased : 0;
}

/** sendKeepalive sends one keepalive call for session `id`; its grant is dated from the answering attempt's start. */
export async function sendKeepalive(transport: HttpTransport, id: string, deadlineMs: number, signal: AbortSignal | undefined): Promise<LeaseGrant> {
  const res = await transport.call<{ expiresInMs?: unknown }>({
    method: 'POST',
    path: `/v1/sessions/${encodeURIComponent(id)}/keepalive`,
    body: {},
    write: true,
    deadlineMs,
    ...(signal !== undefined ? { signal } : {}),
  });
  return leaseGrantOf(res, 'keepalive');
}
