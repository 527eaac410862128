import type { FastifyReply } from 'fastify';
import type { AcquireCommand, LockEvent } from '../locks/index.js';
import { sendError } from './error-mapping.js';
import type { LockBackend } from './lock-backend.js';
import { grantedJson, isGranted, holdersJson, sendLockFailure, viewContext } from './response-views.js';

/** Extra time a queued acquire waits for its grant event beyond waitMs (the expire entry may lag a tick). */
const WAIT_GRACE_MS = 2_000;

/** How long a follower's long-poll waits for the leader to take its waiter out of the queue. */
const CANCEL_TIMEOUT_MS = 5_000;

type WaitOutcome = LockEvent | 'timeout' | 'gone';

/**
 * otherKindMessage says why a command is refused whose requestId names an earlier command of another kind: the table
 * answers a known requestId with its first result (exactly-once), so this command was not applied. The caller's
 * mistake, refused rather than answered as if it had acquired, released or renewed.
 */
export function otherKindMessage(kind: 'acquire' | 'release' | 'renew', requestId?: string): string {
  const subject = requestId === undefined ? 'this requestId' : `requestId ${requestId}`;
  return `${subject} names an earlier command that is not ${kind === 'acquire' ? 'an' : 'a'} ${kind}; nothing was done: give each command its own requestId`;
}

/**
 * acquireWaiting answers a queued acquire (waitMs > 0) as a long-poll: it
 * subscribes to the waiter's events first, executes the acquire, then waits
 * for the grant or the end of the wait, for its own deadline, or for the
 * client to leave. A waiter whose deadline passes is taken out of the queue;
 * if it was granted meanwhile, the grant is reported. When the client leaves
 * before its answer is written, the cancel names the owner: this attempt can
 * deliver nothing, so the table undoes the grant if no other attempt of the
 * acquire can deliver it either (src/locks/undelivered-grants.ts).
 * `command.requestId` is the waiter's id; `showOwner` is how the caller sees
 * owners (principal-scope.ts).
 */
export async function acquireWaiting(
  backend: LockBackend,
  reply: FastifyReply,
  command: AcquireCommand & { readonly requestId: string },
  showOwner: (stored: string) => string,
): Promise<FastifyReply> {
  const { name, requestId: waiterId, waitMs } = command;
  let settle: (outcome: WaitOutcome) => void = () => {};
  const done = new Promise<WaitOutcome>((resolve) => {
    settle = resolve;
  });
  const unsubscribe = backend.registerWaiter(waiterId, (event) => settle(event));
  if (unsubscribe === null) return sendError(reply, 'overloaded', 'too many waiting acquires on this node, or this requestId is already waiting');
  const timer = setTimeout(() => settle('timeout'), waitMs + WAIT_GRACE_MS);
  let clientGone = false;
  const onClose = (): void => {
    if (reply.raw.writableFinished) return;
    clientGone = true;
    settle('gone');
  };
  reply.raw.on('close', onClose);
  const at = () => viewContext(backend.nowMs(), showOwner);
  const startMs = performance.now();
  // Whether the wait got the lock; null when the acquire failed outright (no wait to count).
  let granted: boolean | null = null;
  const sendGrant = (hold: Parameters<typeof grantedJson>[0]): FastifyReply => {
    granted = true;
    return reply.send(grantedJson(hold, at()));
  };
  try {
    const result = await backend.execute(command);
    if (!result.ok) return sendLockFailure(reply, result, at());
    // The table answered with its first result to an earlier command of another kind: no wait to follow.
    if (!('queued' in result)) return sendError(reply, 'bad_request', otherKindMessage('acquire'));
    granted = false;
    if (isGranted(result) && !clientGone) return sendGrant(result);
    const outcome: WaitOutcome = clientGone ? 'gone' : await done;
    // Also when the grant came first: a client gone before it was written can receive nothing.
    if (clientGone) {
      await cancelWait(backend, name, waiterId, command.owner);
      return sendError(reply, 'lock_held', `lock ${name} was not granted: the client went away`);
    }
    if (outcome === 'gone' || outcome === 'timeout') {
      const cancelled = await cancelWait(backend, name, waiterId);
      const held = backend.table().get(name)?.holders.find((h) => h.owner === command.owner);
      if (!cancelled && held !== undefined) return sendGrant({ name, ...held });
      return sendError(reply, 'lock_held', `lock ${name} was not granted within ${waitMs} ms`, { holders: holdersJson(backend.table().get(name), at()) });
    }
    if (outcome.kind === 'granted') return sendGrant(outcome);
    return sendError(reply, 'lock_held', `lock ${name} was not granted (${outcome.reason})`, {
      reason: outcome.reason,
      holders: holdersJson(backend.table().get(name), at()),
    });
  } finally {
    if (granted !== null) backend.waitEnded?.(performance.now() - startMs, granted);
    clearTimeout(timer);
    reply.raw.off('close', onClose);
    unsubscribe();
  }
}

/**
 * cancelWait removes a waiter, through the leader wherever it is; it answers
 * whether the waiter was still queued. With `owner`, it says this attempt's
 * client is gone. Any failure answers false: the waiter's own deadline
 * removes it then (and a grant stands until its lease ends).
 */
async function cancelWait(backend: LockBackend, name: string, waiterId: string, owner?: string): Promise<boolean> {
  try {
    if (backend.isLeader()) return await executeCancelWait(backend, name, waiterId, owner);
    const leader = backend.leader();
    const base = leader === null ? undefined : backend.httpUrlOf(leader);
    if (base === undefined) return false;
    // An internal route: this member speaks for itself (the waiter id is already the caller's scoped requestId).
    const res = await backend.peers.send(base, {
      method: 'POST',
      path: `/v1/locks/${encodeURIComponent(name)}/cancel-wait`,
      body: JSON.stringify({ waiterId, ...(owner !== undefined ? { owner } : {}) }),
      caller: 'member',
      signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS),
    });
    const body = JSON.parse(res.text) as { cancelled?: boolean };
    return body.cancelled === true;
  } catch {
    return false;
  }
}

/**
 * executeCancelWait proposes a cancelWait here (on the leader): with `owner` from a long-poll whose client is gone
 * (see acquireWaiting). It answers whether the waiter left the queue or its grant was undone.
 */
export async function executeCancelWait(backend: LockBackend, name: string, waiterId: string, owner?: string): Promise<boolean> {
  const result = await backend.execute({ type: 'cancelWait', name, waiterId, ...(owner !== undefined ? { owner } : {}) });
  return result.ok && 'cancelled' in result && result.cancelled;
}
