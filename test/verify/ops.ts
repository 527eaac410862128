/**
 * Terse builders for hand-made histories. Times are [invokeMs, completeMs]; a
 * completion of null means the outcome is unknown.
 */
import type { AcquireOp, Operation, ReadOp, ReleaseOp, RenewOp } from '../../src/verify/history.js';

let nextId = 1;

/** Span is [invokeMs, completeMs]; completeMs null = unknown outcome. */
export type Span = readonly [number, number | null];

interface Opts {
  readonly key?: string;
  readonly process?: number | string;
}

function base(span: Span, opts: Opts): { id: number; process: number | string; key: string; invokeMs: number } {
  return { id: nextId++, process: opts.process ?? 0, key: opts.key ?? 'L', invokeMs: span[0] };
}

/** acq: result is a token (ok), 'held' (fail lock_held), an error string via {error}, or ignored when unknown. */
export function acq(owner: string, ttlMs: number, span: Span, result: number | 'held' | { error: string } | 'unknown', opts: Opts = {}): AcquireOp {
  const b = { ...base(span, opts), f: 'acquire' as const, input: { owner, ttlMs } };
  if (span[1] === null || result === 'unknown') return { ...b, status: 'unknown', output: null, completeMs: null };
  if (typeof result === 'number') return { ...b, status: 'ok', output: { token: result }, completeMs: span[1] };
  return { ...b, status: 'fail', output: { error: result === 'held' ? 'lock_held' : result.error }, completeMs: span[1] };
}

/** rel: result 'ok', 'not_holder', or 'unknown' (also implied by a null completion). */
export function rel(owner: string, token: number, span: Span, result: 'ok' | 'not_holder' | 'unknown', opts: Opts = {}): ReleaseOp {
  const b = { ...base(span, opts), f: 'release' as const, input: { owner, token } };
  if (span[1] === null || result === 'unknown') return { ...b, status: 'unknown', output: null, completeMs: null };
  if (result === 'ok') return { ...b, status: 'ok', output: {}, completeMs: span[1] };
  return { ...b, status: 'fail', output: { error: 'not_holder' }, completeMs: span[1] };
}

/** ren: like rel, with a ttl. */
export function ren(owner: string, token: number, ttlMs: number, span: Span, result: 'ok' | 'not_holder' | 'unknown', opts: Opts = {}): RenewOp {
  const b = { ...base(span, opts), f: 'renew' as const, input: { owner, token, ttlMs } };
  if (span[1] === null || result === 'unknown') return { ...b, status: 'unknown', output: null, completeMs: null };
  if (result === 'ok') return { ...b, status: 'ok', output: {}, completeMs: span[1] };
  return { ...b, status: 'fail', output: { error: 'not_holder' }, completeMs: span[1] };
}

/** rd: holders as [owner, token] pairs and lastToken; 'fail' / 'unknown' for those outcomes. */
export function rd(span: Span, holders: readonly (readonly [string, number])[] | 'fail' | 'unknown', lastToken = 0, opts: Opts = {}): ReadOp {
  const b = { ...base(span, opts), f: 'read' as const, input: {} };
  if (span[1] === null || holders === 'unknown') return { ...b, status: 'unknown', output: null, completeMs: null };
  if (holders === 'fail') return { ...b, status: 'fail', output: { error: 'not_leader' }, completeMs: span[1] };
  return {
    ...b,
    status: 'ok',
    output: { holders: holders.map(([owner, token]) => ({ owner, token })), lastToken },
    completeMs: span[1],
  };
}

/** withKey re-keys a list of operations (fresh ids), to combine hand-made partitions. */
export function withKey(key: string, ops: readonly Operation[]): Operation[] {
  return ops.map((op) => ({ ...op, key, id: nextId++ }) as Operation);
}
