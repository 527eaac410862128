/**
 * The sequential specification of one exclusive lock with leases and fencing tokens.
 *
 * State: the holder (owner, token, and the earliest time its lease may expire) and
 * the last token granted. Lease expiry is a hidden event: before each operation the
 * model branches on "the lease already expired" whenever that is possible by the
 * operation's completion time, i.e. when
 *   completeMs >= (invokeMs of the grant or last renew) + ttlMs - marginMs.
 * The server starts counting a lease after the request was sent, so it cannot expire
 * earlier; it may expire any time later. Once a branch assumes such a hidden event at
 * some time, it records that real time has reached it (`minNowMs`): every operation
 * linearized afterwards must complete no earlier.
 *
 * Tokens nobody was told: a grant by an acquire of unknown outcome has a token the
 * client never saw. The model keeps it symbolic: holder token null and lastToken a
 * strict lower bound (`lastTokenExact` false). The first operation that reveals it
 * (a read, or a reentrant acquire ok by the same owner, which returns the holder's
 * token, or a release/renew ok by the holder naming it) pins it to that value if it is
 * above the bound.
 *
 * Operations of unknown outcome, two modes:
 * - 'ambient' (default): they leave the search and become hidden events the model
 *   may fire before any later operation whose completion is after their invocation
 *   (a grant if free, a release or renew if the tokens match). This keeps the search
 *   linear in the real concurrency however many requests timed out. It is slightly
 *   permissive: one unknown request may be assumed to take effect more than once.
 * - 'exact': they stay in the search with completion +∞ (Porcupine's treatment),
 *   each taking effect at most once. Exponential in the number of pending unknown
 *   operations; for small histories and for cross-checking the ambient mode.
 */
import { effectiveCompleteMs, isMeaningfulFail, LOCK_HELD, NOT_HOLDER, validateHistory, type History, type Operation } from './history.js';
import { checkLinearizability, type LinearizabilityOptions, type LinearizabilityReport } from './linearizability.js';
import { ModelBudgetError, type KeyModel, type ModelFactory } from './model.js';

/** ReentrantLeasePolicy says what a reentrant acquire does to the lease. */
export type ReentrantLeasePolicy = 'yes' | 'no' | 'maybe';

/** UnknownOpMode selects how operations of unknown outcome are checked (see the file comment). */
export type UnknownOpMode = 'ambient' | 'exact';

/** LockModelOptions tunes the lock specification to the harness and server. */
export interface LockModelOptions {
  /** marginMs is subtracted from every lease bound to absorb clock differences between harness and servers. */
  readonly marginMs: number;
  /** initialLastToken is the lastToken of a never-granted lock (default 0: the first grant is > 0). */
  readonly initialLastToken?: number;
  /**
   * reentrantRenewsLease: whether a reentrant acquire restarts the lease ('yes'),
   * leaves it alone ('no'), or either ('maybe', the default: the permissive choice,
   * since a restart with a shorter ttl can also shorten the lease).
   */
  readonly reentrantRenewsLease?: ReentrantLeasePolicy;
  /** unknownOps: 'ambient' (default) or 'exact'. */
  readonly unknownOps?: UnknownOpMode;
}

/** LeaseHolder is the current holder; `token` is null while it is an unrevealed token of an unknown grant. */
export interface LeaseHolder {
  readonly owner: string;
  readonly token: number | null;
  /** The lease cannot expire before this harness time. */
  readonly expiresNotBeforeMs: number;
}

/**
 * LockState is one possible state of one lock. Invariant: a holder with a null token
 * implies lastTokenExact false, and a holder with a token implies lastTokenExact true.
 */
export interface LockState {
  readonly holder: LeaseHolder | null;
  /** The last granted token; when lastTokenExact is false, a strict lower bound of it. */
  readonly lastToken: number;
  readonly lastTokenExact: boolean;
  /** Real time is known to be at least this (a hidden event was assumed); later ops must complete no earlier. */
  readonly minNowMs: number;
}

/** lockStateKey is the canonical memoization key of a state. */
export function lockStateKey(s: LockState): string {
  const h = s.holder === null ? '-' : `${JSON.stringify(s.holder.owner)}:${s.holder.token ?? '?'}:${s.holder.expiresNotBeforeMs}`;
  return `${h}|${s.lastTokenExact ? '' : '>'}${s.lastToken}|${s.minNowMs}`;
}

/** describeLockState renders a state for humans. */
export function describeLockState(s: LockState): string {
  const holder =
    s.holder === null
      ? 'free'
      : `held by ${s.holder.owner} token ${s.holder.token ?? '(unrevealed)'} lease ≥ ${s.holder.expiresNotBeforeMs}ms`;
  const last = s.lastTokenExact ? `lastToken ${s.lastToken}` : `lastToken > ${s.lastToken} (unrevealed)`;
  const now = s.minNowMs === -Infinity ? '' : `, now ≥ ${s.minNowMs}ms`;
  return `${holder}, ${last}${now}`;
}

/** A lease-setting hidden event: its request was sent at invokeMs with ttlMs. */
interface LeaseEvent {
  readonly invokeMs: number;
  readonly ttlMs: number;
}

/**
 * Ambient events of one partition. Each list is sorted by invokeMs and filtered to its
 * Pareto front on (invokeMs, lease bound): an event sent later with a later-or-equal
 * lease bound is subsumed by an earlier one, so only the front can matter.
 */
interface Ambient {
  readonly acquiresByOwner: ReadonlyMap<string, readonly LeaseEvent[]>;
  readonly releases: ReadonlyMap<string, number>; // "owner\0token" → earliest invokeMs
  readonly renews: ReadonlyMap<string, readonly LeaseEvent[]>; // "owner\0token" → front
  /** Every unknown release/renew of an owner, for an unrevealed holder token they may name. */
  readonly byOwner: ReadonlyMap<string, readonly (LeaseEvent & { readonly f: 'release' | 'renew'; readonly token: number })[]>;
}

interface Ctx {
  readonly marginMs: number;
  readonly reentrant: ReentrantLeasePolicy;
  readonly ambient: Ambient | null;
}

const MAX_CLOSURE_STATES = 2_048;

function assertInvariant(s: LockState): void {
  if (s.holder !== null && (s.holder.token === null) === s.lastTokenExact) {
    throw new Error(`invariant: holder token and lastToken exactness disagree in ${lockStateKey(s)}`);
  }
}

function leaseBound(ctx: Ctx, invokeMs: number, ttlMs: number): number {
  return invokeMs + ttlMs - ctx.marginMs;
}

function holdsExactly(s: LockState, owner: string, token: number): boolean {
  return s.holder !== null && s.holder.owner === owner && s.holder.token === token;
}

/**
 * matchHolder returns `s` with (owner, token) as its holder if that is possible:
 * the same token, or an unrevealed one pinned to `token` (above the bound). Else null.
 */
function matchHolder(s: LockState, owner: string, token: number): LockState | null {
  const h = s.holder;
  if (h === null || h.owner !== owner) return null;
  if (h.token === token) return s;
  if (h.token === null && token > s.lastToken) {
    return { holder: { ...h, token }, lastToken: token, lastTokenExact: true, minNowMs: s.minNowMs };
  }
  return null;
}

function grantExact(ctx: Ctx, s: LockState, owner: string, token: number, invokeMs: number, ttlMs: number): LockState {
  return {
    holder: { owner, token, expiresNotBeforeMs: leaseBound(ctx, invokeMs, ttlMs) },
    lastToken: token,
    lastTokenExact: true,
    minNowMs: s.minNowMs,
  };
}

/** grantHidden grants an unrevealed token: it is above the current (bound of) lastToken. */
function grantHidden(ctx: Ctx, s: LockState, owner: string, invokeMs: number, ttlMs: number, minNowMs: number): LockState {
  return {
    holder: { owner, token: null, expiresNotBeforeMs: leaseBound(ctx, invokeMs, ttlMs) },
    lastToken: s.lastToken,
    lastTokenExact: false,
    minNowMs,
  };
}

function withLease(ctx: Ctx, s: LockState, invokeMs: number, ttlMs: number, minNowMs: number = s.minNowMs): LockState {
  const h = s.holder!;
  return { ...s, holder: { ...h, expiresNotBeforeMs: leaseBound(ctx, invokeMs, ttlMs) }, minNowMs };
}

function freed(s: LockState, minNowMs: number = s.minNowMs): LockState {
  return { holder: null, lastToken: s.lastToken, lastTokenExact: s.lastTokenExact, minNowMs };
}

/** applyAcquire appends the legal successors of an acquire in a state where no hidden event happens first. */
function applyAcquire(ctx: Ctx, s: LockState, op: Operation & { f: 'acquire' }, out: LockState[]): void {
  const { owner, ttlMs } = op.input;
  const h = s.holder;
  switch (op.status) {
    case 'ok': {
      const t = op.output.token;
      if (h === null) {
        // Fencing: tokens strictly increase with every grant. Against a bound this is
        // t > bound, permissive by one integer step.
        if (t > s.lastToken) out.push(grantExact(ctx, s, owner, t, op.invokeMs, ttlMs));
      } else if (h.owner === owner) {
        // Reentrant: the same token comes back; an unrevealed one is pinned here.
        const same = h.token === t || (h.token === null && t > s.lastToken);
        if (!same) return;
        const pinned: LockState =
          h.token === null ? { ...s, holder: { ...h, token: t }, lastToken: t, lastTokenExact: true } : s;
        if (ctx.reentrant !== 'yes') out.push(pinned);
        if (ctx.reentrant !== 'no') out.push(withLease(ctx, pinned, op.invokeMs, ttlMs));
      }
      return;
    }
    case 'fail':
      if (op.output.error !== LOCK_HELD) out.push(s); // not applied: no information
      else if (h !== null && h.owner !== owner) out.push(s); // held by someone else
      return;
    case 'unknown':
      out.push(s); // never took effect, or failed with lock_held
      if (h === null) out.push(grantHidden(ctx, s, owner, op.invokeMs, ttlMs, s.minNowMs));
      else if (h.owner === owner && ctx.reentrant !== 'no') out.push(withLease(ctx, s, op.invokeMs, ttlMs));
      return;
  }
}

/**
 * applyHolderOp is a release or renew by (owner, token): on success the holder's state becomes `after(match)`; a
 * failure leaves the state alone unless it was not_holder while that exact holder held; an unknown outcome may be
 * either.
 */
function applyHolderOp(
  s: LockState,
  op: Operation & { f: 'release' | 'renew' },
  out: LockState[],
  after: (match: NonNullable<ReturnType<typeof matchHolder>>) => LockState,
): void {
  const match = matchHolder(s, op.input.owner, op.input.token);
  switch (op.status) {
    case 'ok':
      if (match !== null) out.push(after(match));
      return;
    case 'fail':
      // An unrevealed token may differ from the one named, so only an exact match forbids not_holder.
      if (op.output.error !== NOT_HOLDER || !holdsExactly(s, op.input.owner, op.input.token)) out.push(s);
      return;
    case 'unknown':
      out.push(s);
      if (match !== null) out.push(after(match));
      return;
  }
}

function applyRelease(s: LockState, op: Operation & { f: 'release' }, out: LockState[]): void {
  applyHolderOp(s, op, out, freed);
}

function applyRenew(ctx: Ctx, s: LockState, op: Operation & { f: 'renew' }, out: LockState[]): void {
  // The new lease runs from when the server applies the renew, which is after invokeMs;
  // it replaces the old one even if shorter.
  applyHolderOp(s, op, out, (match) => withLease(ctx, match, op.invokeMs, op.input.ttlMs));
}

function applyRead(s: LockState, op: Operation & { f: 'read' }, out: LockState[]): void {
  if (op.status !== 'ok') {
    out.push(s);
    return;
  }
  const { holders, lastToken } = op.output;
  const h = s.holder;
  if (s.lastTokenExact) {
    if (lastToken !== s.lastToken) return;
    if (h === null ? holders.length === 0 : holders.length === 1 && holders[0]!.owner === h.owner && holders[0]!.token === h.token) {
      out.push(s);
    }
    return;
  }
  // An unrevealed token: this read reveals it, if it is above the bound.
  if (!(lastToken > s.lastToken)) return;
  if (h === null) {
    if (holders.length === 0) out.push({ ...s, lastToken, lastTokenExact: true });
    return;
  }
  if (holders.length === 1 && holders[0]!.owner === h.owner && holders[0]!.token === lastToken) {
    out.push({ holder: { ...h, token: lastToken }, lastToken, lastTokenExact: true, minNowMs: s.minNowMs });
  }
}

function applyOp(ctx: Ctx, s: LockState, op: Operation, out: LockState[]): void {
  switch (op.f) {
    case 'acquire':
      return applyAcquire(ctx, s, op, out);
    case 'release':
      return applyRelease(s, op, out);
    case 'renew':
      return applyRenew(ctx, s, op, out);
    case 'read':
      return applyRead(s, op, out);
  }
}

/**
 * hiddenSuccessors lists the states one hidden event away from `s`, for an operation
 * that completes at `completeMs`: the lease expiring, and (ambient mode) an unknown
 * request sent no later than `completeMs` taking effect.
 */
function hiddenSuccessors(ctx: Ctx, s: LockState, completeMs: number, out: LockState[]): void {
  const h = s.holder;
  if (h !== null && completeMs >= h.expiresNotBeforeMs) out.push(freed(s, Math.max(s.minNowMs, h.expiresNotBeforeMs)));
  const amb = ctx.ambient;
  if (amb === null) return;
  if (h === null) {
    for (const [owner, front] of amb.acquiresByOwner) {
      for (const e of front) {
        if (e.invokeMs > completeMs) break;
        out.push(grantHidden(ctx, s, owner, e.invokeMs, e.ttlMs, Math.max(s.minNowMs, e.invokeMs)));
      }
    }
    return;
  }
  if (h.token === null) {
    for (const e of amb.byOwner.get(h.owner) ?? []) {
      if (e.invokeMs > completeMs) break;
      const pinned = matchHolder(s, h.owner, e.token);
      if (pinned === null) continue;
      const minNowMs = Math.max(s.minNowMs, e.invokeMs);
      out.push(e.f === 'release' ? freed(pinned, minNowMs) : withLease(ctx, pinned, e.invokeMs, e.ttlMs, minNowMs));
    }
  } else {
    const k = `${h.owner}\u0000${h.token}`;
    const rel = amb.releases.get(k);
    if (rel !== undefined && rel <= completeMs) out.push(freed(s, Math.max(s.minNowMs, rel)));
    for (const e of amb.renews.get(k) ?? []) {
      if (e.invokeMs > completeMs) break;
      out.push(withLease(ctx, s, e.invokeMs, e.ttlMs, Math.max(s.minNowMs, e.invokeMs)));
    }
  }
  if (ctx.reentrant !== 'no') {
    for (const e of amb.acquiresByOwner.get(h.owner) ?? []) {
      if (e.invokeMs > completeMs) break;
      out.push(withLease(ctx, s, e.invokeMs, e.ttlMs, Math.max(s.minNowMs, e.invokeMs)));
    }
  }
}

/**
 * closure returns every state reachable from `s` through hidden events before an
 * operation completing at `completeMs` (including `s`), pruned to the minimal ones.
 */
function closure(ctx: Ctx, s: LockState, completeMs: number): LockState[] {
  const seen = new Map<string, LockState>([[lockStateKey(s), s]]);
  const queue: LockState[] = [s];
  for (let i = 0; i < queue.length; i++) {
    if (seen.size > MAX_CLOSURE_STATES) throw new ModelBudgetError(`more than ${MAX_CLOSURE_STATES} hidden-event states`);
    const next: LockState[] = [];
    hiddenSuccessors(ctx, queue[i]!, completeMs, next);
    for (const t of next) {
      // A state the operation cannot follow is useless here; a later operation recomputes it.
      if (t.minNowMs > completeMs) continue;
      const k = lockStateKey(t);
      if (seen.has(k)) continue;
      seen.set(k, t);
      queue.push(t);
    }
  }
  return pruneLockStates([...seen.values()]);
}

function stepLockState(ctx: Ctx, s: LockState, op: Operation): LockState[] {
  assertInvariant(s);
  const completeMs = effectiveCompleteMs(op);
  if (completeMs < s.minNowMs) return [];
  const out: LockState[] = [];
  for (const pre of closure(ctx, s, completeMs)) applyOp(ctx, pre, op, out);
  return out;
}

function subsumes(a: LockState, b: LockState): boolean {
  // Earlier lease bounds, earlier "now" and lower token bounds only allow more futures.
  if (a.minNowMs > b.minNowMs) return false;
  if (!a.lastTokenExact && a.lastToken > b.lastToken) return false;
  return a.holder === null || a.holder.expiresNotBeforeMs <= b.holder!.expiresNotBeforeMs;
}

/**
 * pruneLockStates drops states subsumed by another: same holder (owner, token) and
 * same exact lastToken (or both bounds), with every bound no later/lower.
 */
export function pruneLockStates(states: readonly LockState[]): LockState[] {
  const groups = new Map<string, LockState[]>();
  for (const s of states) {
    const g = `${s.holder === null ? '-' : `${JSON.stringify(s.holder.owner)}:${s.holder.token ?? '?'}`}|${s.lastTokenExact ? s.lastToken : '>'}`;
    const list = groups.get(g);
    if (list === undefined) groups.set(g, [s]);
    else list.push(s);
  }
  const kept: LockState[] = [];
  for (const list of groups.values()) {
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!;
      let dominated = false;
      for (let j = 0; j < list.length && !dominated; j++) {
        if (i === j) continue;
        const a = list[j]!;
        // Ties are broken by index so that of two equal states exactly one survives.
        dominated = subsumes(a, b) && (!subsumes(b, a) || j < i);
      }
      if (!dominated) kept.push(b);
    }
  }
  return kept;
}

function paretoFront(events: LeaseEvent[], marginMs: number): LeaseEvent[] {
  events.sort((a, b) => a.invokeMs - b.invokeMs || a.ttlMs - b.ttlMs);
  const front: LeaseEvent[] = [];
  let best = Infinity;
  for (const e of events) {
    const bound = e.invokeMs + e.ttlMs - marginMs;
    if (bound < best) {
      front.push(e);
      best = bound;
    }
  }
  return front;
}

function buildAmbient(ops: readonly Operation[], marginMs: number): Ambient {
  const acquires = new Map<string, LeaseEvent[]>();
  const releases = new Map<string, number>();
  const renews = new Map<string, LeaseEvent[]>();
  const byOwner = new Map<string, (LeaseEvent & { f: 'release' | 'renew'; token: number })[]>();
  for (const op of ops) {
    if (op.status !== 'unknown') continue;
    if (op.f === 'release' || op.f === 'renew') {
      const list = byOwner.get(op.input.owner) ?? [];
      list.push({ f: op.f, token: op.input.token, invokeMs: op.invokeMs, ttlMs: op.f === 'renew' ? op.input.ttlMs : 0 });
      byOwner.set(op.input.owner, list);
    }
    if (op.f === 'acquire') {
      const list = acquires.get(op.input.owner) ?? [];
      list.push({ invokeMs: op.invokeMs, ttlMs: op.input.ttlMs });
      acquires.set(op.input.owner, list);
    } else if (op.f === 'release') {
      const k = `${op.input.owner}\u0000${op.input.token}`;
      releases.set(k, Math.min(releases.get(k) ?? Infinity, op.invokeMs));
    } else if (op.f === 'renew') {
      const k = `${op.input.owner}\u0000${op.input.token}`;
      const list = renews.get(k) ?? [];
      list.push({ invokeMs: op.invokeMs, ttlMs: op.input.ttlMs });
      renews.set(k, list);
    }
  }
  const front = (m: Map<string, LeaseEvent[]>): Map<string, LeaseEvent[]> =>
    new Map([...m.entries()].map(([k, v]) => [k, paretoFront(v, marginMs)]));
  for (const list of byOwner.values()) list.sort((a, b) => a.invokeMs - b.invokeMs);
  return { acquiresByOwner: front(acquires), releases, renews: front(renews), byOwner };
}

/** lockModel returns the model factory for exclusive leased locks, one model per lock name. */
export function lockModel(options: LockModelOptions): ModelFactory<LockState, Operation> {
  if (!(Number.isFinite(options.marginMs) && options.marginMs >= 0)) throw new Error('invariant: marginMs must be >= 0');
  const initialLastToken = options.initialLastToken ?? 0;
  const mode = options.unknownOps ?? 'ambient';
  return (ops): KeyModel<LockState, Operation> => {
    const ctx: Ctx = {
      marginMs: options.marginMs,
      reentrant: options.reentrantRenewsLease ?? 'maybe',
      ambient: mode === 'ambient' ? buildAmbient(ops, options.marginMs) : null,
    };
    return {
      init: () => [{ holder: null, lastToken: initialLastToken, lastTokenExact: true, minNowMs: -Infinity }],
      step: (s, op) => stepLockState(ctx, s, op),
      key: lockStateKey,
      prune: pruneLockStates,
      describe: describeLockState,
      // Failed reads, unknown reads and failures that were not applied constrain
      // nothing; in ambient mode every unknown op lives in the model instead.
      isNoOp: (op) => {
        if (op.status === 'unknown') return mode === 'ambient' || op.f === 'read';
        return op.f === 'read' ? op.status !== 'ok' : op.status === 'fail' && !isMeaningfulFail(op);
      },
    };
  };
}

/** LockCheckOptions combines the lock model's and the search's options. */
export type LockCheckOptions = LockModelOptions & LinearizabilityOptions;

/** checkLockHistory checks a lock history for linearizability against lockModel, key by key. */
export function checkLockHistory(history: History, options: LockCheckOptions): LinearizabilityReport<Operation> {
  return checkLinearizability(validateHistory(history), lockModel(options), options);
}
