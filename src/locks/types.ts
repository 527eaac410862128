/**
 * The vocabulary of the lease table: the commands that travel through the Raft
 * log, the results and events that applying them produces, and the read-only
 * views. Everything here is plain data (msgpackr-encodable, no `undefined`
 * values in results), so a result can be stored in the dedupe table, put into
 * a snapshot and sent over HTTP unchanged.
 */

/** LockMode: `exclusive` admits one holder; `shared` admits many (bounded by a semaphore `limit`, if set). */
export type LockMode = 'exclusive' | 'shared';

/**
 * AcquireCommand asks for a hold on `name`. Exactly one of `ttlMs` (the hold has
 * its own lease) and `sessionId` (the hold lives as long as the session) must be
 * given. `waitMs` > 0 queues the caller FIFO when the lock cannot be granted now.
 */
export interface AcquireCommand {
  readonly type: 'acquire';
  readonly name: string;
  readonly owner: string;
  readonly mode: LockMode;
  /** Semaphore: up to `limit` shared holders. Only with mode 'shared'. The first holder sets it. */
  readonly limit?: number;
  readonly ttlMs?: number;
  readonly sessionId?: string;
  /** 0 = fail at once with lock_held; > 0 = queue as a waiter for at most this long. */
  readonly waitMs: number;
  /** Chubby/Consul lock-delay: after this hold's lease EXPIRES, nobody gets the lock for this long. */
  readonly lockDelayMs?: number;
  /**
   * Election value (src/locks/holds.ts, proclaim): carried by an exclusive hold,
   * shown with it, changed by 'proclaim'. A reentrant acquire with a value replaces it.
   */
  readonly value?: string;
  readonly requestId?: string;
}

/**
 * ProclaimCommand replaces the value of the caller's own live exclusive hold
 * (an election's leader announcing a new value), fenced by its token: a
 * deposed leader's proclaim finds no hold with its token and changes nothing.
 */
export interface ProclaimCommand {
  readonly type: 'proclaim';
  readonly name: string;
  readonly owner: string;
  readonly token: number;
  readonly value: string;
  readonly requestId?: string;
}

/** ReleaseCommand drops one hold (reentrant holds count down; the lock frees at zero). */
export interface ReleaseCommand {
  readonly type: 'release';
  readonly name: string;
  readonly owner: string;
  readonly token: number;
  readonly requestId?: string;
}

/** RenewCommand extends a TTL hold by `ttlMs` (default: the hold's last ttlMs) from now. */
export interface RenewCommand {
  readonly type: 'renew';
  readonly name: string;
  readonly owner: string;
  readonly token: number;
  readonly ttlMs?: number;
  readonly requestId?: string;
}

/** ForceReleaseCommand (operator action) removes every holder and every waiter of `name`; no lock-delay. */
export interface ForceReleaseCommand {
  readonly type: 'forceRelease';
  readonly name: string;
  readonly requestId?: string;
}

/** CreateSessionCommand creates a session; `sessionId` is chosen by the proposer and must be unused. */
export interface CreateSessionCommand {
  readonly type: 'createSession';
  readonly sessionId: string;
  readonly ttlMs: number;
  /** When set, only this owner may acquire under the session. */
  readonly owner?: string;
  readonly requestId?: string;
}

/** KeepaliveCommand refreshes a live session to now + its ttlMs. */
export interface KeepaliveCommand {
  readonly type: 'keepalive';
  readonly sessionId: string;
  readonly requestId?: string;
}

/** DeleteSessionCommand ends a session cleanly: its holds are released (no lock-delay) and its waiters dropped. */
export interface DeleteSessionCommand {
  readonly type: 'deleteSession';
  readonly sessionId: string;
  readonly requestId?: string;
}

/**
 * CancelWaitCommand ends a long-poll's interest in the waiting acquire
 * `waiterId` (its requestId). With `owner` (the acquire's), it says this
 * long-poll's client is gone and can receive no answer: the table counts
 * such attempts and, once none is left that could deliver, takes the waiter
 * out of the queue or undoes its grant (undelivered-grants.ts). Without
 * `owner` (a long-poll that timed out with its client still there, and every
 * entry of older logs) it takes a queued waiter out and never undoes a grant.
 */
export interface CancelWaitCommand {
  readonly type: 'cancelWait';
  readonly name: string;
  readonly waiterId: string;
  readonly owner?: string;
}

/** ExpireCommand is proposed by the leader once `nextDeadlineMs()` has passed by its clock. */
export interface ExpireCommand {
  readonly type: 'expire';
}

/**
 * ExtendLeasesCommand is proposed by a NEW leader before anything else, with
 * `byMs` >= an election timeout, so that a leader change never shortens a lease
 * (clients could not renew while there was no leader).
 */
export interface ExtendLeasesCommand {
  readonly type: 'extendLeases';
  readonly byMs: number;
}

/**
 * CheckpointSessionsCommand writes the leader's in-memory keepalives into the log (src/node/session-keepalives.ts):
 * each named session's expiry becomes at least the given table time. Sessions gone meanwhile are skipped.
 */
export interface CheckpointSessionsCommand {
  readonly type: 'checkpointSessions';
  /** [sessionId, expiresAtMs] pairs, at most CHECKPOINT_SESSIONS_MAX. */
  readonly sessions: readonly (readonly [string, number])[];
}

/**
 * RestartSessionLeasesCommand is a new leader's first command after its term's no-op: every session's expiry
 * becomes at least the table's time + its ttlMs. Keepalives the previous leader answered from memory may not have
 * reached the log; this covers them (etcd's lessor promotes every lease to a full TTL the same way).
 */
export interface RestartSessionLeasesCommand {
  readonly type: 'restartSessionLeases';
}

/** LockCommand is one entry of the lock state machine's log. */
export type LockCommand =
  | AcquireCommand
  | ReleaseCommand
  | RenewCommand
  | ProclaimCommand
  | ForceReleaseCommand
  | CreateSessionCommand
  | KeepaliveCommand
  | DeleteSessionCommand
  | CancelWaitCommand
  | ExpireCommand
  | ExtendLeasesCommand
  | CheckpointSessionsCommand
  | RestartSessionLeasesCommand;

/** LockCommandType is the `type` tag of a LockCommand. */
export type LockCommandType = LockCommand['type'];

/** ApplyContext is what the host knows about the entry being applied. */
export interface ApplyContext {
  /** The Raft index of the entry; strictly increasing across apply calls. */
  readonly index: number;
  /** The leader's clock when it proposed the entry; the table clamps it to be monotonic. */
  readonly timeMs: number;
}

/** HolderView describes one hold. `expiresAtMs` of a session hold is the session's expiry. */
export interface HolderView {
  readonly owner: string;
  readonly token: number;
  readonly mode: LockMode;
  readonly expiresAtMs: number;
  readonly holdCount: number;
  readonly sessionId?: string;
  /** The hold's election value, when it has one (only an exclusive hold can). */
  readonly value?: string;
}

/** LockView is the read-only picture of one lock. */
export interface LockView {
  readonly name: string;
  readonly holders: HolderView[];
  /** Number of queued waiters (including ones whose deadline passed but which 'expire' has not removed yet). */
  readonly waiters: number;
  readonly lastToken: number;
  readonly limit?: number;
  /** Present while a lock-delay is in force (nowMs < lockDelayUntilMs). */
  readonly lockDelayUntilMs?: number;
}

/** WaiterView describes one queued acquire, as the status page shows the queue. */
export interface WaiterView {
  readonly owner: string;
  readonly mode: LockMode;
  /** When the waiter's wait ends (table time) unless it is granted first. */
  readonly deadlineMs: number;
  readonly limit?: number;
  readonly sessionId?: string;
}

/** SessionView is the read-only picture of one session. */
export interface SessionView {
  readonly sessionId: string;
  readonly ttlMs: number;
  readonly expiresAtMs: number;
  readonly owner?: string;
  /** Names of the locks the session holds, in the order it got them. */
  readonly locks: string[];
}

/** LockStats are gauges and counters for metrics. */
export interface LockStats {
  /** Number of lock names with at least one holder. */
  readonly locksHeld: number;
  readonly waiters: number;
  readonly sessions: number;
  /** Holds removed because their lease or session expired, since the beginning of the log. */
  readonly expiriesTotal: number;
}

/** TokenCheck answers Chubby's CheckSequencer: is `token` held now, and what is the newest held token. */
export interface TokenCheck {
  readonly valid: boolean;
  readonly currentToken: number | null;
}

// ---- Results ----------------------------------------------------------------

/** Grant is what a grant tells its holder, whether it answers the acquire at once or wakes a waiter later. */
export interface Grant {
  readonly name: string;
  readonly owner: string;
  readonly token: number;
  readonly mode: LockMode;
  readonly expiresAtMs: number;
  readonly holdCount: number;
  readonly sessionId?: string;
  readonly value?: string;
}

/** AcquireGranted: the caller holds the lock (a new hold, or one more reentrant hold). */
export interface AcquireGranted extends Grant {
  readonly ok: true;
  readonly queued: false;
}

/** AcquireQueued: the caller waits; a 'granted' or 'waitEnded' event with `waiterId` follows later. */
export interface AcquireQueued {
  readonly ok: true;
  readonly queued: true;
  readonly name: string;
  readonly waiterId: string;
}

/** ReleaseOk: one hold dropped; `holdCount` is what remains (0 = the hold is gone). */
export interface ReleaseOk {
  readonly ok: true;
  readonly name: string;
  readonly holdCount: number;
}

/** RenewOk: the hold's lease now ends at `expiresAtMs`. */
export interface RenewOk {
  readonly ok: true;
  readonly name: string;
  readonly token: number;
  readonly expiresAtMs: number;
}

/** ProclaimOk: the hold with `token` now carries `value`. */
export interface ProclaimOk {
  readonly ok: true;
  readonly name: string;
  readonly token: number;
  readonly value: string;
}

/** ForceReleaseOk reports how many holders and waiters were removed. */
export interface ForceReleaseOk {
  readonly ok: true;
  readonly name: string;
  readonly holdersRemoved: number;
  readonly waitersRemoved: number;
}

/** SessionOk answers createSession and keepalive. */
export interface SessionOk {
  readonly ok: true;
  readonly sessionId: string;
  readonly ttlMs: number;
  readonly expiresAtMs: number;
}

/** SessionLeasesOk answers checkpointSessions and restartSessionLeases: how many sessions' expiries moved. */
export interface SessionLeasesOk {
  readonly ok: true;
  readonly sessionsExtended: number;
}

/** DeleteSessionOk reports how many holds and waiters the session lost. */
export interface DeleteSessionOk {
  readonly ok: true;
  readonly sessionId: string;
  readonly locksReleased: number;
  readonly waitersRemoved: number;
}

/**
 * CancelWaitOk: `cancelled` is true when the waiter left the queue or its
 * grant was undone (`released`: one hold count released) by this entry;
 * false when it was already gone (timed out, unknown), its grant stands, or
 * other attempts may still answer it.
 */
export interface CancelWaitOk {
  readonly ok: true;
  readonly cancelled: boolean;
  readonly released?: true;
}

/** ExpireOk counts what an 'expire' or 'extendLeases' entry removed. */
export interface ExpireOk {
  readonly ok: true;
  readonly holdsExpired: number;
  readonly sessionsExpired: number;
  readonly waitersTimedOut: number;
}

/** WaitEndReason says why a waiter left the queue without a grant. */
export type WaitEndReason = 'timeout' | 'session_expired' | 'cancelled' | 'force_released';

/** LockErrorCode is the stable `error` string of a failed command. */
export type LockErrorCode =
  | 'lock_held'
  | 'not_holder'
  | 'session_not_found'
  | 'bad_request'
  | 'limit_mismatch'
  | 'too_many_waiters'
  | 'already_waiting'
  | 'dedupe_full'
  | 'wait_ended';

/** LockHeldError: the lock is taken (or in lock-delay) and the caller did not (or could not) queue. */
export interface LockHeldError {
  readonly ok: false;
  readonly error: 'lock_held';
  readonly name: string;
  readonly holders: HolderView[];
  readonly lockDelayUntilMs?: number;
}

/** NotHolderError: wrong owner, stale token, or a lease that already ran out. */
export interface NotHolderError {
  readonly ok: false;
  readonly error: 'not_holder';
  readonly name: string;
}

/** SessionNotFoundError: unknown session, or one whose expiry has passed. */
export interface SessionNotFoundError {
  readonly ok: false;
  readonly error: 'session_not_found';
  readonly sessionId: string;
}

/** BadRequestError: the command is malformed or not allowed in the current state. */
export interface BadRequestError {
  readonly ok: false;
  readonly error: 'bad_request';
  readonly message: string;
}

/** LimitMismatchError: the lock is held as a semaphore with a different limit. */
export interface LimitMismatchError {
  readonly ok: false;
  readonly error: 'limit_mismatch';
  readonly name: string;
  /** The lock's current limit; 0 = plain shared lock without a semaphore limit. */
  readonly limit: number;
}

/** TooManyWaitersError: the lock's queue is full. */
export interface TooManyWaitersError {
  readonly ok: false;
  readonly error: 'too_many_waiters';
  readonly name: string;
}

/**
 * AlreadyWaitingError: the caller's identity (its session, or its owner when
 * it names no session) already waits in this lock's queue. An identity queues
 * at most once per lock: its one waiter gets the one grant, so a second
 * queued acquire would have no hold of its own to answer with (issue 11,
 * hole 5), and a second waiter under one session could never be granted
 * beside the first (a session holds a lock at most once) yet would block
 * the queue until its deadline.
 */
export interface AlreadyWaitingError {
  readonly ok: false;
  readonly error: 'already_waiting';
  readonly name: string;
}

/**
 * DedupeFullError: the command carries a requestId the table has not seen, and
 * the exactly-once table is at its cap of live entries. Nothing was applied
 * and nothing is remembered: retry after `retryAfterMs` (table time), when
 * the oldest entry expires. Refusing keeps every remembered id for its whole
 * dedupeTtlMs, so a late retry of an earlier call still finds its result.
 */
export interface DedupeFullError {
  readonly ok: false;
  readonly error: 'dedupe_full';
  readonly retryAfterMs: number;
}

/**
 * WaitEndedError is never returned by a first apply: it replaces the stored
 * dedupe result of a queued acquire whose waiter left the queue without a
 * grant, so that a retry with the same requestId learns the outcome.
 */
export interface WaitEndedError {
  readonly ok: false;
  readonly error: 'wait_ended';
  readonly name: string;
  readonly reason: WaitEndReason;
}

/** LockError is any failed result. */
export type LockError =
  | LockHeldError
  | NotHolderError
  | SessionNotFoundError
  | BadRequestError
  | LimitMismatchError
  | TooManyWaitersError
  | AlreadyWaitingError
  | DedupeFullError
  | WaitEndedError;

/** AcquireResult answers an acquire. */
export type AcquireResult = AcquireGranted | AcquireQueued | LockError;

/** CommandResult is the answer for the proposer of any command. */
export type CommandResult =
  | AcquireGranted
  | AcquireQueued
  | ReleaseOk
  | RenewOk
  | ProclaimOk
  | ForceReleaseOk
  | SessionOk
  | DeleteSessionOk
  | CancelWaitOk
  | ExpireOk
  | SessionLeasesOk
  | LockError;

// ---- Events -----------------------------------------------------------------

/** GrantedEvent: a queued waiter got the lock in this entry. */
export interface GrantedEvent extends Grant {
  readonly kind: 'granted';
  readonly waiterId: string;
}

/** WaitEndedEvent: a queued waiter left the queue without a grant. */
export interface WaitEndedEvent {
  readonly kind: 'waitEnded';
  readonly waiterId: string;
  readonly name: string;
  readonly reason: WaitEndReason;
}

/** LockEvent wakes exactly the long-polls of the waiters it names. */
export type LockEvent = GrantedEvent | WaitEndedEvent;

/** ApplyOutcome is what one apply call produces. */
export interface ApplyOutcome {
  readonly result: CommandResult;
  readonly events: LockEvent[];
  /**
   * The names of the locks this entry touched, in first-touch order: their
   * holders, waiters, lock-delay or value may have changed (a renewal also
   * counts). Not replicated state: what watches (src/node/lock-watches.ts) wake on.
   */
  readonly touched: string[];
}
