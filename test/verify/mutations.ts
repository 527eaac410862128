/**
 * Mutations of a correct lock history. The "guaranteed" ones each come with a
 * precondition under which the mutated history is illegal for every possible
 * execution, so a checker must catch all of them; `randomMutation` makes arbitrary
 * local changes that are usually, not always, illegal.
 */
import type { AcquireOp, Operation, ReadOp } from '../../src/verify/history.js';

/** GuaranteedKind names a mutation that always yields an illegal history. */
export type GuaranteedKind =
  | 'duplicate_grant'
  | 'token_backwards'
  | 'release_ungranted_token'
  | 'stale_read'
  | 'read_holder_above_last'
  | 'grant_dropped_but_used';

/** GUARANTEED_KINDS lists every guaranteed mutation. */
export const GUARANTEED_KINDS: readonly GuaranteedKind[] = [
  'duplicate_grant',
  'token_backwards',
  'release_ungranted_token',
  'stale_read',
  'read_holder_above_last',
  'grant_dropped_but_used',
];

type OkAcquire = AcquireOp & { status: 'ok' };
type OkRead = ReadOp & { status: 'ok' };

const isOkAcquire = (o: Operation): o is OkAcquire => o.f === 'acquire' && o.status === 'ok';
const isOkRead = (o: Operation): o is OkRead => o.f === 'read' && o.status === 'ok';
const definite = (o: Operation): boolean => o.status !== 'unknown';

function replace(history: readonly Operation[], id: number, next: Operation): Operation[] {
  return history.map((o) => (o.id === id ? next : o));
}

/**
 * guaranteedMutations returns every applicable mutation of `kind` (each a full
 * mutated history with a description), in a deterministic order.
 */
export function guaranteedMutations(history: readonly Operation[], kind: GuaranteedKind): { history: Operation[]; what: string }[] {
  const out: { history: Operation[]; what: string }[] = [];
  const oks = history.filter(isOkAcquire);
  switch (kind) {
    case 'duplicate_grant':
      // Two ok grants with one token to two owners: tokens strictly increase per grant.
      for (const a of oks) {
        for (const b of history) {
          if (b.f !== 'acquire' || !definite(b) || b.key !== a.key || b.input.owner === a.input.owner) continue;
          const mutated: Operation = { ...b, status: 'ok', output: { token: a.output.token }, completeMs: b.completeMs! };
          out.push({ history: replace(history, b.id, mutated), what: `#${b.id} also gets token ${a.output.token} of #${a.id}` });
          break;
        }
      }
      return out;
    case 'token_backwards':
      // A grant after another completed (real time) with a smaller token, to another owner.
      for (const p of oks) {
        for (const a of oks) {
          if (a.key !== p.key || a.input.owner === p.input.owner || !(p.completeMs < a.invokeMs)) continue;
          const mutated: Operation = { ...a, output: { token: p.output.token - 1 } };
          out.push({ history: replace(history, a.id, mutated), what: `#${a.id} gets ${p.output.token - 1} after #${p.id}` });
          break;
        }
      }
      return out;
    case 'release_ungranted_token':
      // A release ok of a token nobody was given, by an owner with no unknown acquire on that key.
      for (const r of history) {
        if (r.f !== 'release' || !definite(r)) continue;
        const hasUnknown = history.some(
          (o) => o.f === 'acquire' && o.status === 'unknown' && o.key === r.key && o.input.owner === r.input.owner,
        );
        if (hasUnknown) continue;
        const mutated: Operation = { ...r, status: 'ok', output: {}, input: { ...r.input, token: 1e9 }, completeMs: r.completeMs! };
        out.push({ history: replace(history, r.id, mutated), what: `#${r.id} releases token 1e9` });
      }
      return out;
    case 'stale_read':
      // A read after a grant completed, showing a lastToken below it.
      for (const r of history.filter(isOkRead)) {
        const p = oks.find((g) => g.key === r.key && g.completeMs < r.invokeMs);
        if (p === undefined) continue;
        const mutated: Operation = { ...r, output: { ...r.output, lastToken: p.output.token - 1 } };
        out.push({ history: replace(history, r.id, mutated), what: `#${r.id} shows lastToken ${p.output.token - 1} after #${p.id}` });
      }
      return out;
    case 'read_holder_above_last':
      // The holder's token is always the last granted one.
      for (const r of history.filter(isOkRead)) {
        const mutated: Operation = {
          ...r,
          output: { holders: [{ owner: 'c0', token: r.output.lastToken + 1000 }], lastToken: r.output.lastToken },
        };
        out.push({ history: replace(history, r.id, mutated), what: `#${r.id} shows a holder above lastToken` });
      }
      return out;
    case 'grant_dropped_but_used':
      // A grant turned into a refusal while a later op proves (owner, token) held, and
      // nothing else could have granted that token to that owner.
      for (const a of oks) {
        const owner = a.input.owner;
        const token = a.output.token;
        const otherSource = history.some(
          (o) =>
            o.id !== a.id &&
            o.key === a.key &&
            o.f === 'acquire' &&
            o.input.owner === owner &&
            (o.status === 'unknown' || (o.status === 'ok' && o.output.token === token)),
        );
        if (otherSource) continue;
        const evidence = history.find(
          (o) =>
            o.key === a.key &&
            o.status === 'ok' &&
            (((o.f === 'release' || o.f === 'renew') && o.input.owner === owner && o.input.token === token) ||
              (o.f === 'read' && o.output.holders.some((h) => h.owner === owner && h.token === token))),
        );
        if (evidence === undefined) continue;
        const mutated: Operation = { ...a, status: 'fail', output: { error: 'lock_held' } };
        out.push({ history: replace(history, a.id, mutated), what: `#${a.id} refused, but #${evidence.id} uses it` });
      }
      return out;
  }
}

/** randomMutation changes one definite operation's outcome in a plausible way; null if it has none to change. */
export function randomMutation(history: readonly Operation[], pick: (n: number) => number): Operation[] | null {
  const candidates = history.filter(definite);
  if (candidates.length === 0) return null;
  const o = candidates[pick(candidates.length)]!;
  const maxToken = Math.max(0, ...history.filter(isOkAcquire).map((g) => g.output.token));
  const choice = pick(3);
  let m: Operation;
  switch (o.f) {
    case 'acquire':
      if (o.status === 'ok') {
        m = choice === 0 ? { ...o, status: 'fail', output: { error: 'lock_held' } } : { ...o, output: { token: o.output.token + (choice === 1 ? 1 : -1) } };
      } else m = { ...o, status: 'ok', output: { token: choice === 0 ? maxToken + 1 : Math.max(1, maxToken - choice) }, completeMs: o.completeMs! };
      break;
    case 'release':
    case 'renew':
      m = o.status === 'ok' ? { ...o, status: 'fail', output: { error: 'not_holder' } } : { ...o, status: 'ok', output: {}, completeMs: o.completeMs! };
      break;
    case 'read':
      if (o.status !== 'ok') return null;
      if (choice === 0) m = { ...o, output: { ...o.output, lastToken: o.output.lastToken + 1 } };
      else if (choice === 1) m = { ...o, output: { ...o.output, holders: [] } };
      else m = { ...o, output: { ...o.output, lastToken: Math.max(0, o.output.lastToken - 1) } };
      break;
  }
  return replace(history, o.id, m);
}
