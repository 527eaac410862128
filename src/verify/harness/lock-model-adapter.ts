/**
 * Adapter between raftlock's documented lease semantics and the lock model of
 * src/verify (which this harness may not change). Two differences:
 *
 * 1. Free reads. raftlock drops the record of a lock nobody holds (keeping only a
 *    table-wide token floor), so `GET /v1/locks/:name` of a free lock answers
 *    `lastToken: 0` whatever was granted before: a free read says "free" and
 *    nothing about the last token. The model reads `lastToken` as exact, so a free
 *    read with lastToken 0 is stepped as "free, with whatever lastToken the state
 *    has". For a state whose last token is an unrevealed bound, the smallest
 *    possible value is pinned, which only ever allows more futures (every later
 *    check is "a new token is larger"), so this cannot raise false alarms.
 *
 * 2. Dead leases. A lease past its deadline is "dead" until an `expire` entry
 *    removes it: renew answers not_holder, but reads still list the holder, other
 *    acquirers still get lock_held and the holder may still release it
 *    (src/locks/lease-table.ts). The model takes a renew's not_holder as "the lease
 *    is over", so a later read showing the holder looks illegal. Here a renew may
 *    also fail with not_holder while the holder stays, provided its lease may be
 *    past its deadline by the renew's completion (the server's rule, so no
 *    violation is hidden that the server's own contract forbids).
 *
 * For no-lost-acknowledgement, a free final read cannot show a regressed
 * lastToken; the run covers that with a final acquire of every lock after the
 * final reads (the fencing checker's real-time token order then catches a
 * rollback), and fillFreeFinalReads gives the free final read the largest token
 * acknowledged before it.
 */
import { effectiveCompleteMs, validateHistory, NOT_HOLDER, type History, type Operation, type ReadOp, type RenewOp } from '../history.js';
import { checkLinearizability, type LinearizabilityReport } from '../linearizability.js';
import { lockModel, type LockCheckOptions, type LockState } from '../lock-model.js';
import type { KeyModel, ModelFactory } from '../model.js';

/** isFreeReadWithoutToken marks the reads whose lastToken the server does not know. */
export function isFreeReadWithoutToken(op: Operation): op is ReadOp & { status: 'ok' } {
  return op.f === 'read' && op.status === 'ok' && op.output.holders.length === 0 && op.output.lastToken === 0;
}

/** isRefusedRenew marks a renew answered not_holder. */
function isRefusedRenew(op: Operation): op is RenewOp & { status: 'fail' } {
  return op.f === 'renew' && op.status === 'fail' && op.output.error === NOT_HOLDER;
}

/** harnessLockModel wraps lockModel with raftlock's free-read and dead-lease semantics (see the file comment). */
export function harnessLockModel(options: LockCheckOptions): ModelFactory<LockState, Operation> {
  const inner = lockModel(options);
  return (ops, key): KeyModel<LockState, Operation> => {
    const model = inner(ops, key);
    // Tokens a hidden release/renew may pin; the candidates a free state's exact lastToken can take.
    const namedTokens = new Set<number>();
    for (const op of ops) if (op.f === 'release' || op.f === 'renew') namedTokens.add(op.input.token);
    const withLastToken = (op: ReadOp & { status: 'ok' }, lastToken: number): Operation => ({ ...op, output: { holders: [], lastToken } });
    return {
      ...model,
      step: (s, op) => {
        if (isRefusedRenew(op)) {
          const out = new Map<string, LockState>();
          for (const next of model.step(s, op)) out.set(model.key(next), next);
          // The same renew as a refusal that says nothing, kept only where the holder
          // is this (owner, token) and its lease may have passed its deadline.
          const completeMs = effectiveCompleteMs(op);
          const noInfo: Operation = { ...op, output: { error: 'dead_lease' } };
          for (const next of model.step(s, noInfo)) {
            const h = next.holder;
            if (h !== null && h.owner === op.input.owner && h.token === op.input.token && h.expiresNotBeforeMs <= completeMs) out.set(model.key(next), next);
          }
          return [...out.values()];
        }
        if (!isFreeReadWithoutToken(op)) return model.step(s, op);
        const candidates = new Set<number>([s.lastToken, s.lastToken + 1]);
        for (const t of namedTokens) if (t > s.lastToken) candidates.add(t);
        const out = new Map<string, LockState>();
        for (const t of candidates) for (const next of model.step(s, withLastToken(op, t))) out.set(model.key(next), next);
        return [...out.values()];
      },
    };
  };
}

/** checkLockHistoryAdapted is checkLockHistory with harnessLockModel. */
export function checkLockHistoryAdapted(history: History, options: LockCheckOptions): LinearizabilityReport<Operation> {
  return checkLinearizability(validateHistory(history), harnessLockModel(options), options);
}

/**
 * fillFreeFinalReads gives each free final read the largest token acknowledged
 * (by an ok acquire of its key) before the read was invoked, for checkNoLostAck.
 */
export function fillFreeFinalReads(history: History, finalReads: readonly ReadOp[]): ReadOp[] {
  return finalReads.map((r) => {
    if (!isFreeReadWithoutToken(r)) return r;
    let max = 0;
    for (const op of history) {
      if (op.key === r.key && op.f === 'acquire' && op.status === 'ok' && effectiveCompleteMs(op) < r.invokeMs && op.output.token > max) max = op.output.token;
    }
    return { ...r, output: { holders: [], lastToken: max } };
  });
}
