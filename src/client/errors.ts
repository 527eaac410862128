/**
 * The client's typed errors. Every expected failure is a RaftLockClientError
 * with a stable `code`; most codes are the server's own (the `error` field of
 * its JSON body, see src/server/error-mapping.ts), a few are the client's
 * (`timeout`, `unavailable`, `lock_lost`, `session_lost`).
 */

/** HolderInfo is one current holder of a lock, as the server reports it. */
export interface HolderInfo {
  readonly owner: string;
  readonly token: number;
  readonly mode: 'exclusive' | 'shared';
  readonly expiresInMs: number;
  readonly holdCount: number;
  readonly sessionId?: string;
  /** An election leader's value (RaftLockClient.campaign, Leadership.proclaim). */
  readonly value?: string;
}

/** RaftLockClientError is the base of every error the client throws on purpose; switch on `code`. */
export class RaftLockClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** LockHeldError: the lock was not granted within `waitMs`; `holders` are the holders the server saw then. */
export class LockHeldError extends RaftLockClientError {
  constructor(
    message: string,
    readonly holders: readonly HolderInfo[],
    /** Why a queued wait ended without a grant (e.g. `timeout`, `force_released`), when the server says. */
    readonly reason?: string,
  ) {
    super('lock_held', message);
  }
}

/** NotHolderError: the owner/token pair does not hold the lock (any more): its lease ran out or it was force-released. */
export class NotHolderError extends RaftLockClientError {
  constructor(message: string) {
    super('not_holder', message);
  }
}

/** LimitMismatchError: the semaphore is held with another `limit` than the acquire gave; `limit` is the one in force. */
export class LimitMismatchError extends RaftLockClientError {
  constructor(
    message: string,
    readonly limit: number | undefined,
  ) {
    super('limit_mismatch', message);
  }
}

/** NoLeaderError: no endpoint could reach a leader before the retries ran out (no quorum, or an election that lasted). */
export class NoLeaderError extends RaftLockClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('no_leader', message, options);
  }
}

/**
 * UnavailableError: the retries ran out on failures that were not "no leader":
 * every endpoint unreachable, or overloaded / shutting down / dropping proposals.
 * `reason` is the last server code, or `unreachable`. No write took effect.
 */
export class UnavailableError extends RaftLockClientError {
  constructor(
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('unavailable', message, options);
  }
}

/**
 * OutcomeUnknownError: a write may or may not have taken effect, and the
 * retries (all with the same requestId, so they could not have applied it
 * twice) ran out before one of them learned which. For an acquire this means
 * the lock may be held under this client's owner until its lease expires.
 */
export class OutcomeUnknownError extends RaftLockClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('outcome_unknown', message, options);
  }
}

/** SessionNotFoundError: the session does not exist or has expired (its locks are released). */
export class SessionNotFoundError extends RaftLockClientError {
  constructor(message: string) {
    super('session_not_found', message);
  }
}

/** BadRequestError: the server (or the client's own check) rejected the arguments; retrying cannot help. */
export class BadRequestError extends RaftLockClientError {
  constructor(message: string) {
    super('bad_request', message);
  }
}

/** UnauthorizedError: the cluster requires a bearer token and none, or an unknown one, was given (HTTP 401). */
export class UnauthorizedError extends RaftLockClientError {
  constructor(message: string) {
    super('unauthorized', message);
  }
}

/** ForbiddenError: the token is valid but its roles do not allow this call (HTTP 403). */
export class ForbiddenError extends RaftLockClientError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

/** TimeoutError: the call's total deadline passed with no answer, and no write of it can have taken effect. */
export class TimeoutError extends RaftLockClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('timeout', message, options);
  }
}

/** LockLostError is the `reason` of a LockHandle's `lost` signal: the lease may have expired or was taken away. */
export class LockLostError extends RaftLockClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('lock_lost', message, options);
  }
}

/** SessionLostError is the `reason` of a Session's `lost` signal: the session may have expired on the server. */
export class SessionLostError extends RaftLockClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('session_lost', message, options);
  }
}

/** The JSON error body every server error carries. */
interface ErrorBody {
  readonly error?: unknown;
  readonly message?: unknown;
  readonly holders?: unknown;
  readonly reason?: unknown;
  readonly limit?: unknown;
}

/**
 * errorFromResponse turns a definitive (non-retryable) error answer into its
 * typed error. Unknown codes keep the server's code in a RaftLockClientError.
 */
export function errorFromResponse(status: number, body: unknown): RaftLockClientError {
  const b: ErrorBody = typeof body === 'object' && body !== null ? (body as ErrorBody) : {};
  const code = typeof b.error === 'string' ? b.error : `http_${status}`;
  const message = typeof b.message === 'string' ? b.message : `${code} (HTTP ${status})`;
  switch (code) {
    case 'lock_held':
      return new LockHeldError(message, Array.isArray(b.holders) ? (b.holders as HolderInfo[]) : [], typeof b.reason === 'string' ? b.reason : undefined);
    case 'not_holder':
      return new NotHolderError(message);
    case 'limit_mismatch':
      return new LimitMismatchError(message, typeof b.limit === 'number' ? b.limit : undefined);
    case 'session_not_found':
      return new SessionNotFoundError(message);
    case 'bad_request':
      return new BadRequestError(message);
    case 'unauthorized':
      return new UnauthorizedError(message);
    case 'forbidden':
      return new ForbiddenError(message);
    case 'no_leader':
      return new NoLeaderError(message);
    case 'outcome_unknown':
      return new OutcomeUnknownError(message);
    default:
      return new RaftLockClientError(code, message);
  }
}
