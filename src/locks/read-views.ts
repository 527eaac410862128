/**
 * Read views: the plain-data pictures of locks and sessions that the GET
 * routes, the CLI and the tests read. They copy; nothing here changes state.
 */
import { API_BOUNDS } from '../api/contract.js';
import { modeName, type HoldFields, type LockRecord } from './lock-records.js';
import type { ReplicatedState } from './replicated-state.js';
import type { HolderView, LockView, SessionView, WaiterView } from './types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** MAX_LIST_LIMIT bounds list(): the API's most locks per list call. */
export const MAX_LIST_LIMIT = API_BOUNDS.listLimitMax;

/** holderView describes one hold of `rec`. */
export function holderView(state: ReplicatedState, rec: LockRecord, hold: HoldFields): HolderView {
  return describeHold({}, state, rec, hold);
}

/**
 * describeHold adds a holder view's fields to `into`, in the view's order, and
 * returns it. Results that carry a hold (a grant) start from their own fields:
 * building them in place costs less than copying a view, on every grant.
 */
export function describeHold<T extends object>(into: T, state: ReplicatedState, rec: LockRecord, hold: HoldFields): T & HolderView {
  const v = into as T & Mutable<HolderView>;
  v.owner = hold.owner!;
  v.token = hold.token;
  v.mode = modeName(rec.mode);
  v.expiresAtMs = state.holdExpiresAtMs(hold);
  v.holdCount = hold.holdCount;
  if (hold.sessionId !== null) v.sessionId = hold.sessionId;
  const value = rec.holdValue(hold);
  if (value !== null) v.value = value;
  return v;
}

/** lockView describes one lock: its holders in grant order, its queue length, tokens, limit and lock-delay. */
export function lockView(state: ReplicatedState, rec: LockRecord): LockView {
  const holders: HolderView[] = [];
  rec.forEachHold((hold) => holders.push(holderView(state, rec, hold)));
  const v: Mutable<LockView> = {
    name: rec.name,
    holders,
    waiters: rec.queueLength(),
    lastToken: rec.lastToken,
  };
  const limit = rec.semaphoreLimit();
  if (limit > 0) v.limit = limit;
  if (rec.isLockDelayed(state.nowMs)) v.lockDelayUntilMs = rec.ext!.delayUntilMs;
  return v;
}

/**
 * listLocks returns up to `limit` (capped at MAX_LIST_LIMIT) locks whose names
 * start with `prefix` and sort after `after`, in name order (UTF-16 code unit
 * order). Scans every lock: O(n log limit).
 */
export function listLocks(state: ReplicatedState, prefix: string, limit: number, after?: string): LockView[] {
  const cap = Math.max(0, Math.min(MAX_LIST_LIMIT, Math.floor(limit)));
  if (cap === 0) return [];
  const picked: LockRecord[] = [];
  for (const rec of state.locks.values()) {
    const name = rec.name;
    if (!name.startsWith(prefix)) continue;
    // Stryker disable next-line ConditionalExpression: `name <= undefined` is false, so the undefined test only narrows the type
    if (after !== undefined && name <= after) continue;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: this skip only saves the search: a name after the last pick would be inserted last and popped again; names are unique, so > and >= agree
    if (picked.length === cap && name >= picked[cap - 1]!.name) continue;
    // Binary insertion into the sorted, bounded pick list.
    let lo = 0;
    let hi = picked.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      // Stryker disable next-line EqualityOperator: names are unique (map keys), so < and <= agree
      if (picked[mid]!.name < name) lo = mid + 1;
      else hi = mid;
    }
    picked.splice(lo, 0, rec);
    if (picked.length > cap) picked.pop();
  }
  return picked.map((rec) => lockView(state, rec));
}

/** sessionView describes one session (also a dead one that 'expire' has not removed yet), or null. */
export function sessionView(state: ReplicatedState, id: string): SessionView | null {
  const s = state.sessions.get(id);
  if (s === undefined) return null;
  const v: Mutable<SessionView> = {
    sessionId: s.id,
    ttlMs: s.ttlMs,
    expiresAtMs: s.expiresAtMs,
    locks: [...s.locks],
  };
  if (s.owner !== null) v.owner = s.owner;
  return v;
}

/**
 * waiterViews lists up to `limit` live waiters of lock `name` in queue order
 * (the order they will be granted in), or none when nobody waits for it.
 */
export function waiterViews(state: ReplicatedState, name: string, limit: number): WaiterView[] {
  const ext = state.locks.get(name)?.ext;
  const views: WaiterView[] = [];
  if (ext === null || ext === undefined) return views;
  for (const w of ext.waiters) {
    if (views.length >= limit) break;
    // Stryker disable next-line ConditionalExpression: no dead waiter is left between applies (finish() drops them, assertQueue checks it)
    if (!w.alive) continue;
    const v: Mutable<WaiterView> = { owner: w.owner, mode: modeName(w.mode), deadlineMs: w.deadlineMs };
    if (w.limit > 0) v.limit = w.limit;
    if (w.sessionId !== null) v.sessionId = w.sessionId;
    views.push(v);
  }
  return views;
}

/** listSessions describes up to `limit` (capped at MAX_LIST_LIMIT) sessions, oldest first (the table's insertion order). */
export function listSessions(state: ReplicatedState, limit: number): SessionView[] {
  const cap = Math.max(0, Math.min(MAX_LIST_LIMIT, Math.floor(limit)));
  const views: SessionView[] = [];
  for (const id of state.sessions.keys()) {
    if (views.length >= cap) break;
    views.push(sessionView(state, id)!);
  }
  return views;
}
