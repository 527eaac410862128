import type { FastifyReply } from 'fastify';
import type { AcquireGranted, CommandResult, HolderView, LockError, LockView, SessionView, WaiterView } from '../locks/index.js';
import { sendError } from './error-mapping.js';

/**
 * The JSON bodies of the API, made from lease-table results and views. The
 * table keeps absolute deadlines (`expiresAtMs`, in the leader's stamped
 * time); the API shows what is left of them (`expiresInMs`), so every view
 * takes the clock reading to subtract. Owners are shown as their caller sent
 * them (principal-scope.ts), so every view that shows an owner also takes the
 * caller's scope: a ViewContext.
 */

/** ViewContext is what a view needs of the moment and the caller: the table's time, and how the caller sees an owner. */
export interface ViewContext {
  readonly nowMs: number;
  readonly showOwner: (stored: string) => string;
}

/** viewContext is the context of a view made now (table time `nowMs`) for a caller who sees owners through `showOwner`. */
export function viewContext(nowMs: number, showOwner: (stored: string) => string): ViewContext {
  return { nowMs, showOwner };
}

/** HolderJson is one hold as the API shows it. */
export interface HolderJson {
  readonly owner: string;
  readonly token: number;
  readonly mode: HolderView['mode'];
  readonly expiresInMs: number;
  readonly holdCount: number;
  readonly sessionId?: string;
  /** An election leader's value. */
  readonly value?: string;
}

/** holderJson shows one hold; a session hold's expiry is its session's. */
function holderJson(h: HolderView, at: ViewContext): HolderJson {
  return {
    owner: at.showOwner(h.owner),
    token: h.token,
    mode: h.mode,
    expiresInMs: expiresInMs(h.expiresAtMs, at.nowMs),
    holdCount: h.holdCount,
    ...(h.sessionId !== undefined ? { sessionId: h.sessionId } : {}),
    ...(h.value !== undefined ? { value: h.value } : {}),
  };
}

/** grantedJson answers a granted acquire (at once, or to a waiter): the lock's name and the caller's hold. */
export function grantedJson(g: HolderView & { readonly name: string }, at: ViewContext): { name: string } & HolderJson {
  return { name: g.name, ...holderJson(g, at) };
}

/** lockJson answers `GET /v1/locks/:name`; a lock nobody holds or waits for shows empty. */
export function lockJson(name: string, view: LockView | null, at: ViewContext): Record<string, unknown> {
  return {
    name,
    holders: holdersJson(view, at),
    waiters: view?.waiters ?? 0,
    lastToken: view?.lastToken ?? 0,
    ...(view?.limit !== undefined ? { limit: view.limit } : {}),
  };
}

/**
 * lockShape is what a watcher of one lock sees change (watch.ts): its holders
 * (without their remaining lease time, which moves by itself), values, queue
 * length, limit and whether a lock-delay is in force.
 */
export function lockShape(view: LockView | null): string {
  if (view === null) return 'free';
  const holders = view.holders.map((h) => [h.owner, h.token, h.mode, h.holdCount, h.sessionId ?? null, h.value ?? null]);
  return JSON.stringify([holders, view.waiters, view.limit ?? 0, view.lockDelayUntilMs !== undefined]);
}

/** lockListJson answers `GET /v1/locks`: each lock without its semaphore limit. */
export function lockListJson(views: readonly LockView[], at: ViewContext): { locks: Record<string, unknown>[] } {
  return { locks: views.map((v) => ({ name: v.name, holders: holdersJson(v, at), waiters: v.waiters, lastToken: v.lastToken })) };
}

/** sessionJson answers `GET /v1/sessions/:id`. */
export function sessionJson(view: SessionView, nowMs: number): Record<string, unknown> {
  return { sessionId: view.sessionId, ttlMs: view.ttlMs, expiresInMs: expiresInMs(view.expiresAtMs, nowMs), locks: view.locks };
}

/**
 * sessionLeaseJson answers createSession and keepalive: the session's ttl and what is left of the deadline the
 * table answered. A retried createSession gets its first result from the dedupe table, so its deadline is the
 * one set when the session was created, possibly a whole attempt timeout ago; a client that dated the session
 * from the retry's start plus ttlMs would believe it lives that much too long (issue 11, hole 3). A result of
 * another kind (a requestId reused for another command) shows nothing left.
 */
export function sessionLeaseJson(r: Exclude<CommandResult, LockError>, nowMs: number): { ttlMs: number; expiresInMs: number } {
  return { ttlMs: 'ttlMs' in r ? r.ttlMs : 0, expiresInMs: 'expiresAtMs' in r && 'ttlMs' in r ? expiresInMs(r.expiresAtMs, nowMs) : 0 };
}

/** holdersJson shows the holders of a lock (none when the table has no record of it). */
export function holdersJson(view: LockView | null | undefined, at: ViewContext): HolderJson[] {
  return (view?.holders ?? []).map((h) => holderJson(h, at));
}

/** isGranted says whether an acquire's result is a grant (rather than a queued waiter or a failure). */
export function isGranted(result: CommandResult): result is AcquireGranted {
  return result.ok && 'queued' in result && !result.queued;
}

/** sendResult answers a command's result: a failure by its code, a success with `view` of it. */
export function sendResult(reply: FastifyReply, result: CommandResult, at: ViewContext, view: (ok: Exclude<CommandResult, LockError>) => unknown): FastifyReply {
  if (!result.ok) return sendLockFailure(reply, result, at);
  return reply.send(view(result));
}

/** sendLockFailure answers a failed lock command with its code; `lock_held` carries the holders. */
export function sendLockFailure(reply: FastifyReply, result: LockError, at: ViewContext): FastifyReply {
  switch (result.error) {
    case 'lock_held':
      return sendError(reply, 'lock_held', `lock ${result.name} is held`, { holders: result.holders.map((h) => holderJson(h, at)) });
    case 'wait_ended':
      return sendError(reply, 'lock_held', `lock ${result.name} was not granted (${result.reason})`, { reason: result.reason });
    case 'bad_request':
      return sendError(reply, 'bad_request', result.message);
    case 'session_not_found':
      return sendError(reply, 'session_not_found', `session ${result.sessionId} does not exist or has expired`);
    case 'dedupe_full':
      // Nothing was applied: the same requestId may be retried once the oldest remembered id expires.
      void reply.header('retry-after', String(Math.ceil(result.retryAfterMs / 1_000)));
      return sendError(reply, 'dedupe_full', `the exactly-once table is full; retry (with the same requestId) in ${result.retryAfterMs} ms`);
    case 'already_waiting':
      return sendError(reply, 'already_waiting', `this owner (or session) already waits for lock ${result.name}; it may queue once per lock`);
    case 'limit_mismatch':
      return sendError(reply, 'limit_mismatch', `lock ${result.name} is held with limit ${result.limit}`, { limit: result.limit });
    default:
      return sendError(reply, result.error, `${result.error} for lock ${result.name}`);
  }
}

/** expiresInMs is what is left at `nowMs` of a deadline (0 once it has passed). */
export function expiresInMs(deadlineMs: number, nowMs: number): number {
  return Math.max(0, deadlineMs - nowMs);
}

/** WaiterJson is one queued acquire as the status page shows it. */
export interface WaiterJson {
  readonly owner: string;
  readonly mode: WaiterView['mode'];
  /** What is left of its wait, unless it is granted first. */
  readonly waitEndsInMs: number;
  readonly limit?: number;
  readonly sessionId?: string;
}

/** waiterJson shows one waiter. */
export function waiterJson(w: WaiterView, at: ViewContext): WaiterJson {
  return {
    owner: at.showOwner(w.owner),
    mode: w.mode,
    waitEndsInMs: expiresInMs(w.deadlineMs, at.nowMs),
    ...(w.limit !== undefined ? { limit: w.limit } : {}),
    ...(w.sessionId !== undefined ? { sessionId: w.sessionId } : {}),
  };
}
