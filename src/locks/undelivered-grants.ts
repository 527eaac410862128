/**
 * Undelivered grants: undoing a grant that no attempt of its acquire can
 * carry to the client (issue 11, hole 4). A waiting acquire is answered by a
 * long-poll; when the long-poll's client disconnects (or the follower that
 * forwarded it dies) just as the lock is handed to it, nobody learns of the
 * grant, and the lock used to stay held by nobody for its TTL, or for the
 * whole life of a session.
 *
 * The rule. A waiting acquire (waitMs > 0) with a requestId counts, in its
 * dedupe entry (`answers`), the applied attempts of it that may still carry
 * its outcome to the client: 1 when it first applies (queued or granted at
 * once), one more for every retry (same requestId, waitMs > 0) answered
 * "queued", since that retry's long-poll waits for the outcome too. A retry
 * answered with the grant itself may have carried it to the client: the count
 * drops to 0 and the grant is never undone. A long-poll whose client is gone
 * proposes cancelWait with the acquire's owner, which takes one off. When the
 * last one is taken off, nobody can receive the outcome:
 *
 *  - a waiter still queued leaves the queue (reason `cancelled`);
 *  - a grant is undone: one hold count of the hold with its token is released
 *    (a clean release, so no lock-delay; a reentrant count the owner took
 *    since by another request stays), and the request's stored result becomes
 *    wait_ended (`cancelled`), so a later retry learns it holds nothing.
 *
 * A cancelWait without an owner comes from a long-poll that timed out with its
 * client still there (or from an older log): it takes a queued waiter out
 * whatever the count and never undoes a grant, which that long-poll reports;
 * so the grant counts as delivered. Anything the table cannot see (a proposal
 * that applied after its proposer gave up, a long-poll that died with its
 * node) keeps a count above 0: the grant then stands until its lease or
 * session ends, as it always did. Acquires without a requestId (the HTTP API
 * always gives a waiting acquire one) are not counted.
 */
import { release } from './holds.js';
import type { DedupeEntry } from './dedupe-table.js';
import type { LeaseState } from './lease-state.js';
import type { AcquireGranted, CancelWaitCommand, CancelWaitOk, CommandResult, LockCommand } from './types.js';
import { endWaiter, findWaiter } from './waiter-queue.js';

const NOT_CANCELLED: CancelWaitOk = Object.freeze({ ok: true, cancelled: false });

/** firstAnswers is the count a command's first result starts with: 1 for a waiting acquire with a requestId that queued or was granted. */
export function firstAnswers(cmd: LockCommand, result: CommandResult): number {
  return cmd.type === 'acquire' && cmd.waitMs > 0 && cmd.requestId !== undefined && result.ok ? 1 : 0;
}

/** noteRetry counts a retry of a waiting acquire that the dedupe table answers with `entry`. */
export function noteRetry(cmd: LockCommand, entry: DedupeEntry): void {
  if (cmd.type !== 'acquire' || cmd.waitMs === 0 || entry.answers === 0) return;
  const r = entry.result;
  // Stryker disable next-line LogicalOperator: a count above 0 is kept only with the ok result of an acquire (firstAnswers, DedupeTable.replace), for which && and || agree
  if (!(r.ok && 'queued' in r)) return;
  // Bounded by the number of retries a client sends, each an applied log entry.
  if (r.queued) entry.answers++;
  else entry.answers = 0;
}

/** cancelWait applies a CancelWaitCommand (see the rule above). */
export function cancelWait(st: LeaseState, cmd: CancelWaitCommand): CancelWaitOk {
  const state = st.replicated;
  const entry = state.dedupe.get(cmd.waiterId);
  const w = findWaiter(state, cmd.name, cmd.waiterId);
  if (w !== null) {
    if (cmd.owner !== undefined) {
      if (w.owner !== cmd.owner) return NOT_CANCELLED;
      // Another attempt still waits for this acquire's outcome: the waiter stays for it.
      if (w.deduped && entry !== undefined && entry.answers > 1) {
        entry.answers--;
        return NOT_CANCELLED;
      }
    }
    endWaiter(st, w, 'cancelled');
    return { ok: true, cancelled: true };
  }
  const grant = entry === undefined || entry.answers === 0 ? null : grantIn(entry.result, cmd.name);
  if (grant === null) return NOT_CANCELLED;
  if (cmd.owner === undefined) {
    // The long-poll that sent this reports the grant to its client itself.
    entry!.answers = 0;
    return NOT_CANCELLED;
  }
  if (grant.owner !== cmd.owner) return NOT_CANCELLED;
  if (--entry!.answers > 0) return NOT_CANCELLED;
  if (!release(st, cmd.name, cmd.owner, grant.token).ok) return NOT_CANCELLED; // its hold has ended already
  state.dedupe.replace(cmd.waiterId, { ok: false, error: 'wait_ended', name: cmd.name, reason: 'cancelled' });
  return { ok: true, cancelled: true, released: true };
}

/** grantIn is the grant of lock `name` that `result` stores, or null. */
function grantIn(result: CommandResult, name: string): AcquireGranted | null {
  return result.ok && 'queued' in result && !result.queued && result.name === name ? result : null;
}
