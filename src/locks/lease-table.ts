/**
 * The lease table: raftlock's replicated state machine. Every replica applies
 * the same committed log entries in the same order (Raft §5.3, State Machine
 * Safety §5.4.3) and, because apply is a pure function of (state, command,
 * index, leader-stamped time), reaches byte-identical state.
 *
 * Purity rules: no clock (time is `ctx.timeMs`, clamped monotonic), no timers
 * (expiry happens only when the leader proposes an 'expire' entry after
 * `nextDeadlineMs()`), no randomness, no I/O, and Maps are iterated only in
 * insertion order.
 *
 * This file is the front: it applies a command, dispatches it to the part
 * that owns it (acquire.ts, holds.ts, waiter-queue.ts, sessions.ts,
 * expiry.ts), settles the locks the command touched, and answers queries
 * (read-views.ts).
 */
import { assert } from '../raft/invariant.js';
import { acquire } from './acquire.js';
import { expireDue, extendLeases } from './expiry.js';
import { assertHolds, checkToken, proclaim, release, removeHold, renew } from './holds.js';
import { LeaseState } from './lease-state.js';
import { checkLimits, DEFAULT_LEASE_TABLE_LIMITS, type LeaseTableLimits } from './limits.js';
import { clearLockDelay } from './lock-delay.js';
import { listLocks, listSessions, lockView, sessionView, waiterViews } from './read-views.js';
import { ReplicatedState } from './replicated-state.js';
import { checkpointSessions, createSession, deleteSession, keepalive, restartSessionLeases } from './sessions.js';
import { decodeSnapshot } from './snapshot-codec.js';
import { SnapshotEncoder, encodeSnapshot } from './snapshot-encoder.js';
import type { ApplyContext, ApplyOutcome, CommandResult, LockCommand, LockStats, LockView, SessionView, TokenCheck, WaiterView } from './types.js';
import { badRequest, dedupeKeyOf, validateCommand } from './validate-command.js';
import { cancelWait, firstAnswers, noteRetry } from './undelivered-grants.js';
import { assertQueue, dropDeadWaiters, endWaiter, settle } from './waiter-queue.js';

export { MAX_HOLD_COUNT, MAX_HOLDERS_IN_RESULT } from './acquire.js';
export { MAX_LIST_LIMIT } from './read-views.js';
export { CHECKPOINT_SESSIONS_MAX } from './validate-command.js';

/**
 * LeaseTable applies LockCommands from the Raft log and answers read-only
 * queries. Semantics in brief (details on each part and in types.ts):
 *
 * - A hold lives under its own TTL lease or under a session. A lease or
 *   session whose deadline is <= nowMs is *dead*: it cannot be renewed,
 *   kept alive, re-entered or used for new grants, but it keeps blocking others
 *   until an 'expire' entry removes it (so expiry never happens before the TTL
 *   and lock-delay starts from the deadline).
 * - Fencing tokens: every grant of a name gets max(index, lastToken + 1),
 *   strictly increasing per name for the life of the log (a floor survives
 *   removal of free records).
 * - FIFO waiters; grants to queued waiters happen inside the apply that frees
 *   the lock and are reported as events.
 * - A grant that no attempt of its waiting acquire can deliver (its clients
 *   gone) is undone when the last of them cancels (undelivered-grants.ts).
 * - Exactly-once: commands with a requestId are applied once; retries get the
 *   stored result (Raft thesis §6.3) for dedupeTtlMs of table time. A new
 *   requestId while the table holds dedupeEntriesMax live ids is refused
 *   with dedupe_full, without effect.
 * - Within one 'expire', due deadlines are processed in (deadline, creation
 *   seq) order; all removals happen before any grant.
 */
export class LeaseTable {
  private st: LeaseState;

  /** LeaseTable creates an empty table. All replicas must use the same limits (they are stored in snapshots). */
  constructor(limits: Partial<LeaseTableLimits> = {}) {
    const merged: LeaseTableLimits = { ...DEFAULT_LEASE_TABLE_LIMITS, ...limits };
    const bad = checkLimits(merged);
    assert(bad === null, () => `bad lease table limits: ${bad}`);
    this.st = new LeaseState(new ReplicatedState(Object.freeze(merged)));
  }

  /** restore rebuilds a table from `snapshot()` bytes; throws SnapshotCorruptError on foreign bytes. */
  static restore(bytes: Uint8Array): LeaseTable {
    const state = decodeSnapshot(bytes);
    const table = new LeaseTable(state.limits);
    table.adopt(state);
    return table;
  }

  /** nowMs is the table clock: the largest leader-stamped time applied so far. */
  get nowMs(): number {
    return this.st.replicated.nowMs;
  }

  /** appliedIndex is the Raft index of the last applied entry (0 for a new table). */
  get appliedIndex(): number {
    return this.st.replicated.appliedIndex;
  }

  /** limits are the bounds this table enforces. */
  get limits(): LeaseTableLimits {
    return this.st.replicated.limits;
  }

  /**
   * apply executes one committed command. Never throws for a bad command (it
   * answers 'bad_request'); throws InvariantError for a broken invariant or a
   * host bug (index not increasing, non-finite time), after which the table
   * must be discarded.
   */
  apply(cmd: LockCommand, ctx: ApplyContext): ApplyOutcome {
    const st = this.st;
    const state = st.replicated;
    assert(!st.scope.isActive(), 'LeaseTable.apply is not reentrant');
    assert(
      Number.isSafeInteger(ctx.index) && ctx.index > state.appliedIndex,
      () => `apply index ${ctx.index} must exceed the applied index ${state.appliedIndex}`,
    );
    assert(Number.isFinite(ctx.timeMs), () => `apply timeMs ${ctx.timeMs} must be finite`);
    state.appliedIndex = ctx.index;
    // The leader's clock may be behind its predecessor's: never let time go back.
    // Stryker disable next-line EqualityOperator: at equal times the assignment writes the value nowMs already has
    if (ctx.timeMs > state.nowMs) state.nowMs = ctx.timeMs;
    state.dedupe.evictExpired(state.nowMs);

    const bad = validateCommand(cmd, state.limits);
    if (bad !== null) return { result: badRequest(bad), events: [], touched: [] };
    const requestId = dedupeKeyOf(cmd);
    if (requestId !== null) {
      const previous = state.dedupe.get(requestId);
      if (previous !== undefined) {
        noteRetry(cmd, previous);
        return { result: previous.result, events: [], touched: [] };
      }
      // Exactly-once holds only while an id is remembered: when full, refuse a new id rather than forget a live one.
      if (state.dedupe.isFull()) return { result: { ok: false, error: 'dedupe_full', retryAfterMs: state.dedupe.retryAfterMs(state.nowMs) }, events: [], touched: [] };
    }

    st.scope.begin(ctx.index);
    try {
      const result = this.dispatch(cmd);
      // Remember before finish(): a waiter granted in finish() updates its entry.
      if (requestId !== null) state.dedupe.remember(requestId, result, state.nowMs, firstAnswers(cmd, result));
      const touched = this.finish();
      return { result, events: st.scope.events, touched };
    } finally {
      st.scope.end();
    }
  }

  // ---- queries ---------------------------------------------------------------

  /** get describes one lock, or null when nobody holds, waits for, or lock-delays it. */
  get(name: string): LockView | null {
    const rec = this.st.replicated.locks.get(name);
    return rec === undefined ? null : lockView(this.st.replicated, rec);
  }

  /**
   * list returns up to `limit` (capped at MAX_LIST_LIMIT) locks whose names start
   * with `prefix` and sort after `after`, in name order (UTF-16 code unit order).
   */
  list(prefix: string, limit: number, after?: string): LockView[] {
    return listLocks(this.st.replicated, prefix, limit, after);
  }

  /** checkToken answers Chubby's CheckSequencer for `token` on `name` (see holds.ts). */
  checkToken(name: string, token: number): TokenCheck {
    return checkToken(this.st.replicated, name, token);
  }

  /** session describes one session (also a dead one that 'expire' has not removed yet), or null. */
  session(id: string): SessionView | null {
    return sessionView(this.st.replicated, id);
  }

  /** sessionLease is a session's ttl and stored expiry (no copy: the leader reads it per keepalive), or null. */
  sessionLease(id: string): { readonly ttlMs: number; readonly expiresAtMs: number } | null {
    return this.st.replicated.sessions.get(id) ?? null;
  }

  /** waiters lists up to `limit` waiters of lock `name` in queue order (the order of their grants). */
  waiters(name: string, limit: number): WaiterView[] {
    return waiterViews(this.st.replicated, name, limit);
  }

  /** sessions describes up to `limit` (capped at MAX_LIST_LIMIT) sessions, oldest first. */
  sessions(limit: number): SessionView[] {
    return listSessions(this.st.replicated, limit);
  }

  /**
   * nextDeadlineMs is the earliest lease, session, waiter or lock-delay
   * deadline, or null when there is none. The leader proposes 'expire' once its
   * clock reaches it. Drops stale index entries on the way (no effect on state).
   */
  nextDeadlineMs(): number | null {
    return this.st.deadlines.nextMs(this.st.replicated);
  }

  /** stats are gauges and counters for metrics. */
  stats(): LockStats {
    const st = this.st;
    return {
      locksHeld: st.locksHeld,
      waiters: st.waiters,
      sessions: st.replicated.sessions.size,
      expiriesTotal: st.replicated.expiriesTotal,
    };
  }

  /** size is the number of lock records (held, waited for, or in lock-delay). */
  get size(): number {
    return this.st.replicated.locks.size;
  }

  /** dedupeSize is the number of remembered request ids. */
  get dedupeSize(): number {
    return this.st.replicated.dedupe.size;
  }

  /** snapshot serialises the replicated state (msgpack). Equal states give equal bytes. */
  snapshot(): Uint8Array {
    assert(!this.st.scope.isActive(), 'snapshot during apply');
    return encodeSnapshot(this.st.replicated);
  }

  /**
   * snapshotEncoder writes the same bytes as snapshot() a slice of records per step (SnapshotEncoder), so a host can
   * yield between slices. Nothing may be applied to the table until its last step has returned the bytes.
   */
  snapshotEncoder(): SnapshotEncoder {
    assert(!this.st.scope.isActive(), 'snapshot during apply');
    return new SnapshotEncoder(this.st.replicated);
  }

  // ---- applying ----------------------------------------------------------------

  private dispatch(cmd: LockCommand): CommandResult {
    const st = this.st;
    switch (cmd.type) {
      case 'acquire':
        return acquire(st, cmd);
      case 'release':
        return release(st, cmd.name, cmd.owner, cmd.token);
      case 'renew':
        return renew(st, cmd.name, cmd.owner, cmd.token, cmd.ttlMs);
      case 'proclaim':
        return proclaim(st, cmd.name, cmd.owner, cmd.token, cmd.value);
      case 'forceRelease':
        return this.forceRelease(cmd.name);
      case 'createSession':
        return createSession(st, cmd.sessionId, cmd.ttlMs, cmd.owner ?? null);
      case 'keepalive':
        return keepalive(st, cmd.sessionId);
      case 'deleteSession':
        return deleteSession(st, cmd.sessionId);
      case 'cancelWait':
        return cancelWait(st, cmd);
      case 'expire':
        return expireDue(st);
      case 'extendLeases':
        return extendLeases(st, cmd.byMs);
      case 'checkpointSessions':
        return checkpointSessions(st, cmd.sessions);
      case 'restartSessionLeases':
        return restartSessionLeases(st);
    }
  }

  /** forceRelease (operator action) removes every holder, waiter and lock-delay of `name`, starting no lock-delay. */
  private forceRelease(name: string): CommandResult {
    const st = this.st;
    const rec = st.replicated.locks.get(name);
    if (rec === undefined) return { ok: true, name, holdersRemoved: 0, waitersRemoved: 0 };
    st.scope.touch(rec);
    const holdersRemoved = rec.holderCount();
    const ext = rec.ext;
    if (ext !== null) {
      // Extra holds from the back (no promotions), then the inline one.
      for (let i = ext.more.length - 1; i >= 0; i--) removeHold(st, rec, ext.more[i]!, null);
    }
    if (rec.owner !== null) removeHold(st, rec, rec, null);
    let waitersRemoved = 0;
    if (ext !== null) {
      for (const w of ext.waiters) {
        // Stryker disable next-line ConditionalExpression: no dead waiter here: finish() drops them after every apply, and removeHold grants none
        if (!w.alive) continue;
        endWaiter(st, w, 'force_released');
        waitersRemoved++;
      }
      if (ext.delayUntilMs !== 0) clearLockDelay(st, rec);
    }
    return { ok: true, name, holdersRemoved, waitersRemoved };
  }

  /**
   * finish settles every lock the apply touched, drops dead waiters and free
   * records, and checks invariants. Returns the touched names, in first-touch order.
   */
  private finish(): string[] {
    const st = this.st;
    const state = st.replicated;
    const touched: string[] = [];
    st.scope.drainTouched((rec) => {
      touched.push(rec.name);
      settle(st, rec);
      dropDeadWaiters(rec);
      if (rec.ext !== null && rec.ext.isEmpty()) rec.ext = null;
      assertHolds(state, rec);
      assertQueue(state, rec);
      if (
        rec.owner === null &&
        rec.ext === null &&
        // Stryker disable next-line ConditionalExpression: a touched record is its name's record: one is created only for an absent name and removed only here, once per drain
        state.locks.get(rec.name) === rec
      ) {
        // Free: drop the record but keep its tokens' floor, so a later grant of
        // this name still gets a larger token.
        state.locks.delete(rec.name);
        // Stryker disable next-line EqualityOperator: at equal values the assignment changes nothing
        if (rec.lastToken > state.tokenFloor) state.tokenFloor = rec.lastToken;
      }
    });
    st.deadlines.maybeRebuild(state, st.liveDeadlines());
    return touched;
  }

  /** adopt takes over decoded replicated state and rebuilds everything derived from it. */
  private adopt(state: ReplicatedState): void {
    const st = new LeaseState(state);
    st.recount();
    for (const rec of state.locks.values()) {
      assertHolds(state, rec);
      assertQueue(state, rec);
    }
    this.st = st;
  }
}
