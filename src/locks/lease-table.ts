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
 */
import { assert } from '../raft/invariant.js';
import { DeadlineHeap } from './deadline-heap.js';
import { checkLimits, DEFAULT_LEASE_TABLE_LIMITS, type LeaseTableLimits } from './limits.js';
import {
  Holder,
  LockExt,
  LockRecord,
  MODE_EXCLUSIVE,
  MODE_SHARED,
  modeCode,
  modeName,
  Session,
  Waiter,
  type HoldFields,
  type ModeCode,
} from './lock-records.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec.js';
import { TableCore } from './table-core.js';
import type {
  AcquireCommand,
  AcquireGranted,
  AcquireResult,
  ApplyContext,
  ApplyOutcome,
  CommandResult,
  ExpireOk,
  GrantedEvent,
  HolderView,
  LockCommand,
  LockError,
  LockEvent,
  LockHeldError,
  LockStats,
  LockView,
  SessionView,
  TokenCheck,
  WaitEndReason,
} from './types.js';
import { dedupeKeyOf, validateCommand } from './validate-command.js';

// Kinds of deadline-heap entries.
const KIND_INLINE_HOLD = 1; // target: LockRecord (its inline first hold)
const KIND_MORE_HOLD = 2; // target: Holder
const KIND_SESSION = 3; // target: Session
const KIND_WAITER = 4; // target: Waiter
const KIND_LOCK_DELAY = 5; // target: LockRecord (its lock-delay end)
type HeapTarget = LockRecord | Holder | Session | Waiter;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** MAX_HOLDERS_IN_RESULT bounds the holder list inside a lock_held result (results are stored for dedupe). */
export const MAX_HOLDERS_IN_RESULT = 16;
/** MAX_HOLD_COUNT bounds reentrant holds of one hold. */
export const MAX_HOLD_COUNT = 1_000_000;
/** MAX_LIST_LIMIT bounds list(). */
export const MAX_LIST_LIMIT = 1_000;
/** Past this many touched records, markDirty switches from a scan to a Set. */
const DIRTY_SCAN_LIMIT = 8;
/** Rebuild the deadline heap when it holds more than 2x its live entries plus this slack. */
const HEAP_SLACK = 1_024;

interface GrantParams {
  readonly owner: string;
  readonly mode: ModeCode;
  readonly limit: number;
  /** 0 for a session hold. */
  readonly ttlMs: number;
  readonly sessionId: string | null;
  readonly lockDelayMs: number;
}

/**
 * LeaseTable applies LockCommands from the Raft log and answers read-only
 * queries. Semantics in brief (details on each method and in types.ts):
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
 * - Exactly-once: commands with a requestId are applied once; retries get the
 *   stored result (Raft thesis §6.3).
 * - Within one 'expire', due deadlines are processed in (deadline, creation
 *   seq) order; all removals happen before any grant.
 */
export class LeaseTable {
  private c: TableCore;
  private readonly heap = new DeadlineHeap<HeapTarget>();
  // Derived gauges (rebuilt on restore).
  private locksHeld = 0;
  private waiterCount = 0;
  private ttlHolds = 0;
  private delays = 0;
  // Per-apply scratch.
  private applying = false;
  private index = 0;
  private events: LockEvent[] = [];
  /** Records touched by this apply, in first-touch order (deterministic). */
  private readonly dirty: LockRecord[] = [];
  /** Membership index for `dirty`, used only once it grows past DIRTY_SCAN_LIMIT. */
  private dirtySet: Set<LockRecord> | null = null;

  /** LeaseTable creates an empty table. All replicas must use the same limits (they are stored in snapshots). */
  constructor(limits: Partial<LeaseTableLimits> = {}) {
    const merged: LeaseTableLimits = { ...DEFAULT_LEASE_TABLE_LIMITS, ...limits };
    const bad = checkLimits(merged);
    assert(bad === null, () => `bad lease table limits: ${bad}`);
    this.c = new TableCore(Object.freeze(merged));
  }

  /** restore rebuilds a table from `snapshot()` bytes; throws SnapshotCorruptError on foreign bytes. */
  static restore(bytes: Uint8Array): LeaseTable {
    const core = decodeSnapshot(bytes);
    const table = new LeaseTable(core.limits);
    table.adopt(core);
    return table;
  }

  /** nowMs is the table clock: the largest leader-stamped time applied so far. */
  get nowMs(): number {
    return this.c.nowMs;
  }

  /** appliedIndex is the Raft index of the last applied entry (0 for a new table). */
  get appliedIndex(): number {
    return this.c.appliedIndex;
  }

  /** limits are the bounds this table enforces. */
  get limits(): LeaseTableLimits {
    return this.c.limits;
  }

  /**
   * apply executes one committed command. Never throws for a bad command (it
   * answers 'bad_request'); throws InvariantError for a broken invariant or a
   * host bug (index not increasing, non-finite time), after which the table
   * must be discarded.
   */
  apply(cmd: LockCommand, ctx: ApplyContext): ApplyOutcome {
    assert(!this.applying, 'LeaseTable.apply is not reentrant');
    assert(
      Number.isSafeInteger(ctx.index) && ctx.index > this.c.appliedIndex,
      () => `apply index ${ctx.index} must exceed the applied index ${this.c.appliedIndex}`,
    );
    assert(Number.isFinite(ctx.timeMs), () => `apply timeMs ${ctx.timeMs} must be finite`);
    const c = this.c;
    c.appliedIndex = ctx.index;
    // The leader's clock may be behind its predecessor's: never let time go back.
    if (ctx.timeMs > c.nowMs) c.nowMs = ctx.timeMs;
    c.dedupe.evictExpired(c.nowMs);

    const bad = validateCommand(cmd, c.limits);
    if (bad !== null) return { result: badRequest(bad), events: [] };
    const requestId = dedupeKeyOf(cmd);
    if (requestId !== null) {
      const previous = c.dedupe.get(requestId);
      if (previous !== undefined) return { result: previous.result, events: [] };
    }

    this.applying = true;
    this.index = ctx.index;
    this.events = [];
    try {
      const result = this.dispatch(cmd);
      // Remember before finish(): a waiter granted in finish() updates its entry.
      if (requestId !== null) c.dedupe.remember(requestId, result, c.nowMs);
      this.finish();
      return { result, events: this.events };
    } finally {
      this.applying = false;
      this.events = [];
    }
  }

  // ---- queries ---------------------------------------------------------------

  /** get describes one lock, or null when nobody holds, waits for, or lock-delays it. */
  get(name: string): LockView | null {
    const rec = this.c.locks.get(name);
    return rec === undefined ? null : this.view(rec);
  }

  /**
   * list returns up to `limit` (capped at MAX_LIST_LIMIT) locks whose names start
   * with `prefix` and sort after `after`, in name order (UTF-16 code unit order).
   * Scans every lock: O(n log limit).
   */
  list(prefix: string, limit: number, after?: string): LockView[] {
    const cap = Math.max(0, Math.min(MAX_LIST_LIMIT, Math.floor(limit)));
    if (cap === 0) return [];
    const picked: LockRecord[] = [];
    for (const rec of this.c.locks.values()) {
      const name = rec.name;
      if (!name.startsWith(prefix) || (after !== undefined && name <= after)) continue;
      if (picked.length === cap && name >= picked[cap - 1]!.name) continue;
      // Binary insertion into the sorted, bounded pick list.
      let lo = 0;
      let hi = picked.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (picked[mid]!.name < name) lo = mid + 1;
        else hi = mid;
      }
      picked.splice(lo, 0, rec);
      if (picked.length > cap) picked.pop();
    }
    return picked.map((rec) => this.view(rec));
  }

  /**
   * checkToken answers Chubby's CheckSequencer: `valid` iff a hold with this
   * token exists and its lease/session is not dead; `currentToken` is the
   * largest token among the current holds (null when free).
   */
  checkToken(name: string, token: number): TokenCheck {
    const rec = this.c.locks.get(name);
    if (rec === undefined || rec.owner === null) return { valid: false, currentToken: null };
    let valid = false;
    let current = 0;
    this.forEachSlot(rec, (slot) => {
      if (slot.token > current) current = slot.token;
      if (slot.token === token && this.slotLive(slot)) valid = true;
    });
    return { valid, currentToken: current };
  }

  /** session describes one session (also a dead one that 'expire' has not removed yet), or null. */
  session(id: string): SessionView | null {
    const s = this.c.sessions.get(id);
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
   * nextDeadlineMs is the earliest lease, session, waiter or lock-delay
   * deadline, or null when there is none. The leader proposes 'expire' once its
   * clock reaches it. Drops stale heap entries on the way (no effect on state).
   */
  nextDeadlineMs(): number | null {
    // Bounded: each iteration pops one entry.
    while (this.heap.size > 0 && !this.topIsValid()) this.heap.pop();
    return this.heap.size === 0 ? null : this.heap.topDeadlineMs();
  }

  /** stats are gauges and counters for metrics. */
  stats(): LockStats {
    return {
      locksHeld: this.locksHeld,
      waiters: this.waiterCount,
      sessions: this.c.sessions.size,
      expiriesTotal: this.c.expiriesTotal,
    };
  }

  /** size is the number of lock records (held, waited for, or in lock-delay). */
  get size(): number {
    return this.c.locks.size;
  }

  /** dedupeSize is the number of remembered request ids. */
  get dedupeSize(): number {
    return this.c.dedupe.size;
  }

  /** snapshot serialises the replicated state (msgpack). Equal states give equal bytes. */
  snapshot(): Uint8Array {
    assert(!this.applying, 'snapshot during apply');
    return encodeSnapshot(this.c);
  }

  // ---- dispatch ----------------------------------------------------------------

  private dispatch(cmd: LockCommand): CommandResult {
    switch (cmd.type) {
      case 'acquire':
        return this.acquire(cmd);
      case 'release':
        return this.release(cmd.name, cmd.owner, cmd.token);
      case 'renew':
        return this.renew(cmd.name, cmd.owner, cmd.token, cmd.ttlMs);
      case 'forceRelease':
        return this.forceRelease(cmd.name);
      case 'createSession':
        return this.createSession(cmd.sessionId, cmd.ttlMs, cmd.owner ?? null);
      case 'keepalive':
        return this.keepalive(cmd.sessionId);
      case 'deleteSession':
        return this.deleteSession(cmd.sessionId);
      case 'cancelWait':
        return this.cancelWait(cmd.name, cmd.waiterId);
      case 'expire':
        return this.runDue();
      case 'extendLeases':
        return this.extendLeases(cmd.byMs);
    }
  }

  private acquire(cmd: AcquireCommand): AcquireResult {
    const c = this.c;
    const now = c.nowMs;
    const owner = cmd.owner;
    const sid = cmd.sessionId ?? null;
    if (sid !== null) {
      const s = c.sessions.get(sid);
      // A dead session must never get a grant (etcd issue 11456).
      if (s === undefined || s.expiresAtMs <= now) return { ok: false, error: 'session_not_found', sessionId: sid };
      if (s.owner !== null && s.owner !== owner) return badRequest(`session ${sid} belongs to another owner`);
    }
    const mode = modeCode(cmd.mode);
    const limit = cmd.limit ?? 0;
    const params: GrantParams = { owner, mode, limit, ttlMs: cmd.ttlMs ?? 0, sessionId: sid, lockDelayMs: cmd.lockDelayMs ?? 0 };
    let rec = c.locks.get(cmd.name);
    if (rec !== undefined) {
      this.markDirty(rec);
      this.settle(rec); // drop dead queue heads and grant what can be granted before judging this request
      if (rec.owner !== null) {
        if (mode === MODE_SHARED && rec.mode === MODE_SHARED && currentLimit(rec) !== limit) {
          return { ok: false, error: 'limit_mismatch', name: rec.name, limit: currentLimit(rec) };
        }
        const mine = this.findIdentity(rec, owner, sid);
        if (mine !== null && this.slotLive(mine)) {
          if (mine.owner !== owner) return badRequest(`session ${sid} already holds ${rec.name} under another owner`);
          if (rec.mode !== mode) return badRequest(`${owner} already holds ${rec.name} in ${modeName(rec.mode)} mode`);
          if (mine.holdCount >= MAX_HOLD_COUNT) return badRequest('too many reentrant holds');
          // Reentrant: same token, one more hold, fresh lease.
          mine.holdCount++;
          mine.lockDelayMs = params.lockDelayMs;
          if (sid === null) this.setLease(rec, mine, params.ttlMs);
          return this.grantedResult(rec, mine);
        }
      }
      const ext = rec.ext;
      if (ext !== null) {
        for (const w of ext.waiters) {
          // One waiter per (owner, session) and lock: a repeated acquire finds the first.
          if (w.alive && w.owner === owner && w.sessionId === sid && this.waiterLive(w)) {
            return { ok: true, queued: true, name: rec.name, waiterId: w.id };
          }
        }
      }
    }
    const queued = rec === undefined ? 0 : rec.queueLength();
    // FIFO: nobody overtakes a queued waiter; lock-delay blocks everyone.
    if (rec === undefined || (queued === 0 && !delayActive(rec, now) && this.grantable(rec, mode, limit, owner, sid))) {
      if (rec === undefined) rec = this.createRecord(cmd.name);
      const slot = this.grant(rec, params);
      return this.grantedResult(rec, slot);
    }
    if (cmd.waitMs === 0) return this.lockHeld(rec);
    if (queued >= c.limits.waitersPerLockMax) return { ok: false, error: 'too_many_waiters', name: rec.name };
    const waiterId = cmd.requestId ?? String(this.index);
    const ext = ensureExt(rec);
    for (const w of ext.waiters) {
      if (w.alive && w.id === waiterId) return badRequest(`waiter id ${waiterId} is already queued on ${rec.name}`);
    }
    const w = new Waiter(
      rec,
      waiterId,
      owner,
      mode,
      limit,
      params.ttlMs,
      sid,
      now + cmd.waitMs,
      params.lockDelayMs,
      ++c.seq,
      cmd.requestId !== undefined,
    );
    ext.waiters.push(w);
    this.waiterCount++;
    if (sid !== null) {
      const s = c.sessions.get(sid)!;
      (s.waiters ??= new Set()).add(w);
    }
    this.heap.push(w.deadlineMs, w.seq, KIND_WAITER, w);
    return { ok: true, queued: true, name: rec.name, waiterId };
  }

  private release(name: string, owner: string, token: number): CommandResult {
    const rec = this.c.locks.get(name);
    const slot = rec === undefined ? null : this.findByToken(rec, token);
    if (rec === undefined || slot === null || slot.owner !== owner) return { ok: false, error: 'not_holder', name };
    this.markDirty(rec);
    slot.holdCount--;
    const left = slot.holdCount;
    // A clean release (even of a dead lease) never starts a lock-delay.
    if (left === 0) this.removeSlot(rec, slot, null);
    return { ok: true, name, holdCount: left };
  }

  private renew(name: string, owner: string, token: number, ttlMs: number | undefined): CommandResult {
    const rec = this.c.locks.get(name);
    const slot = rec === undefined ? null : this.findByToken(rec, token);
    if (rec === undefined || slot === null || slot.owner !== owner || !this.slotLive(slot)) {
      return { ok: false, error: 'not_holder', name };
    }
    if (slot.sessionId !== null) return badRequest(`${name} is held under session ${slot.sessionId}; keep the session alive instead`);
    this.markDirty(rec);
    this.setLease(rec, slot, ttlMs ?? slot.ttlMs);
    return { ok: true, name, token, expiresAtMs: slot.expiresAtMs };
  }

  private forceRelease(name: string): CommandResult {
    const rec = this.c.locks.get(name);
    if (rec === undefined) return { ok: true, name, holdersRemoved: 0, waitersRemoved: 0 };
    this.markDirty(rec);
    const holdersRemoved = rec.holderCount();
    const ext = rec.ext;
    if (ext !== null) {
      // Extra holds from the back (no promotions), then the inline one.
      for (let i = ext.more.length - 1; i >= 0; i--) this.removeSlot(rec, ext.more[i]!, null);
    }
    if (rec.owner !== null) this.removeSlot(rec, rec, null);
    let waitersRemoved = 0;
    if (ext !== null) {
      for (const w of ext.waiters) {
        if (!w.alive) continue;
        this.endWaiter(w, 'force_released');
        waitersRemoved++;
      }
      if (ext.delayUntilMs !== 0) this.clearDelay(rec);
    }
    return { ok: true, name, holdersRemoved, waitersRemoved };
  }

  private createSession(sessionId: string, ttlMs: number, owner: string | null): CommandResult {
    const c = this.c;
    if (c.sessions.has(sessionId)) return badRequest(`session ${sessionId} already exists`);
    const s = new Session(sessionId, owner, ttlMs, c.nowMs + ttlMs, ++c.seq);
    c.sessions.set(sessionId, s);
    this.heap.push(s.expiresAtMs, s.seq, KIND_SESSION, s);
    return { ok: true, sessionId, ttlMs, expiresAtMs: s.expiresAtMs };
  }

  private keepalive(sessionId: string): CommandResult {
    const c = this.c;
    const s = c.sessions.get(sessionId);
    if (s === undefined || s.expiresAtMs <= c.nowMs) return { ok: false, error: 'session_not_found', sessionId };
    s.expiresAtMs = c.nowMs + s.ttlMs;
    this.heap.push(s.expiresAtMs, s.seq, KIND_SESSION, s);
    return { ok: true, sessionId, ttlMs: s.ttlMs, expiresAtMs: s.expiresAtMs };
  }

  private deleteSession(sessionId: string): CommandResult {
    const s = this.c.sessions.get(sessionId);
    if (s === undefined) return { ok: false, error: 'session_not_found', sessionId };
    // An explicit delete is a clean release, even of a dead session: no lock-delay.
    const { holds, waiters } = this.endSession(s, false);
    return { ok: true, sessionId, locksReleased: holds, waitersRemoved: waiters };
  }

  private cancelWait(name: string, waiterId: string): CommandResult {
    const rec = this.c.locks.get(name);
    if (rec === undefined || rec.ext === null) return { ok: true, cancelled: false };
    for (const w of rec.ext.waiters) {
      if (w.alive && w.id === waiterId) {
        this.markDirty(rec);
        this.endWaiter(w, 'cancelled');
        return { ok: true, cancelled: true };
      }
    }
    return { ok: true, cancelled: false };
  }

  /**
   * runDue removes everything whose deadline is <= nowMs, in (deadline, seq)
   * order: expired holds (starting their lock-delay), expired sessions (their
   * holds and waiters), timed-out waiters and ended lock-delays. Grants to the
   * freed locks' queues happen afterwards, in finish().
   */
  private runDue(): ExpireOk {
    const c = this.c;
    const now = c.nowMs;
    const heap = this.heap;
    let holdsExpired = 0;
    let sessionsExpired = 0;
    let waitersTimedOut = 0;
    // Bounded: every iteration pops one entry; pushes during the loop come only
    // from promoting a shared holder into the inline slot (at most one per hold).
    while (heap.size > 0 && heap.topDeadlineMs() <= now) {
      const valid = this.topIsValid();
      const kind = heap.topKind();
      const target = heap.topTarget();
      heap.pop();
      if (!valid) continue;
      switch (kind) {
        case KIND_INLINE_HOLD: {
          const rec = target as LockRecord;
          this.removeSlot(rec, rec, rec.expiresAtMs);
          c.expiriesTotal++;
          holdsExpired++;
          break;
        }
        case KIND_MORE_HOLD: {
          const h = target as Holder;
          this.removeSlot(h.rec, h, h.expiresAtMs);
          c.expiriesTotal++;
          holdsExpired++;
          break;
        }
        case KIND_SESSION: {
          const { holds } = this.endSession(target as Session, true);
          c.expiriesTotal += holds;
          holdsExpired += holds;
          sessionsExpired++;
          break;
        }
        case KIND_WAITER:
          this.endWaiter(target as Waiter, 'timeout');
          waitersTimedOut++;
          break;
        case KIND_LOCK_DELAY:
          this.clearDelay(target as LockRecord);
          break;
        default:
          assert(false, `unknown heap entry kind ${kind}`);
      }
    }
    return { ok: true, holdsExpired, sessionsExpired, waitersTimedOut };
  }

  /**
   * extendLeases adds `byMs` to every lease and session deadline and to every
   * lock-delay still in force (passed ones are cleared), then expires what is
   * still due. A new leader proposes it first so that time without a leader —
   * when nobody could renew — never shortens a lease.
   */
  private extendLeases(byMs: number): ExpireOk {
    const c = this.c;
    const now = c.nowMs;
    for (const rec of c.locks.values()) {
      this.forEachSlot(rec, (slot) => {
        if (slot.sessionId === null) slot.expiresAtMs += byMs;
      });
      const ext = rec.ext;
      if (ext !== null && ext.delayUntilMs !== 0) {
        if (ext.delayUntilMs <= now) {
          this.clearDelay(rec);
        } else {
          ext.delayUntilMs += byMs;
        }
      }
    }
    for (const s of c.sessions.values()) s.expiresAtMs += byMs;
    this.rebuildHeap();
    return this.runDue();
  }

  // ---- mechanics ---------------------------------------------------------------

  private createRecord(name: string): LockRecord {
    const rec = new LockRecord(name, this.c.tokenFloor);
    this.c.locks.set(name, rec);
    this.markDirty(rec);
    return rec;
  }

  private markDirty(rec: LockRecord): void {
    const dirty = this.dirty;
    const n = dirty.length;
    if (n > 0 && dirty[n - 1] === rec) return;
    if (this.dirtySet !== null) {
      if (this.dirtySet.has(rec)) return;
      this.dirtySet.add(rec);
    } else if (n < DIRTY_SCAN_LIMIT) {
      // Bounded scan: most applies touch one or two records.
      for (let i = 0; i < n; i++) if (dirty[i] === rec) return;
    } else {
      this.dirtySet = new Set(dirty);
      if (this.dirtySet.has(rec)) return;
      this.dirtySet.add(rec);
    }
    dirty.push(rec);
  }

  /** grant creates a new hold. The caller has checked grantability. */
  private grant(rec: LockRecord, p: GrantParams): HoldFields {
    const c = this.c;
    const now = c.nowMs;
    // Fencing token (Chubby sequencer): derived from the log, strictly increasing per name.
    const token = Math.max(this.index, rec.lastToken + 1);
    assert(token > rec.lastToken, 'fencing tokens must strictly increase');
    rec.lastToken = token;
    const seq = ++c.seq;
    const expiresAtMs = p.sessionId === null ? now + p.ttlMs : 0;
    assert((p.sessionId === null) === (p.ttlMs > 0), 'a hold has exactly one of ttl and session');
    let slot: HoldFields;
    if (rec.owner === null) {
      assert(rec.ext === null || (rec.ext.more.length === 0 && rec.ext.limit === 0), 'free lock with leftovers');
      rec.owner = p.owner;
      rec.token = token;
      rec.expiresAtMs = expiresAtMs;
      rec.ttlMs = p.ttlMs;
      rec.holdCount = 1;
      rec.sessionId = p.sessionId;
      rec.lockDelayMs = p.lockDelayMs;
      rec.seq = seq;
      rec.mode = p.mode;
      if (p.limit > 0) ensureExt(rec).limit = p.limit;
      this.locksHeld++;
      slot = rec;
      if (p.sessionId === null) this.heap.push(expiresAtMs, seq, KIND_INLINE_HOLD, rec);
    } else {
      assert(rec.mode === MODE_SHARED && p.mode === MODE_SHARED, 'exclusive locks have at most one holder');
      assert(currentLimit(rec) === p.limit, 'semaphore limit mismatch');
      assert(rec.holderCount() < this.effectiveLimit(p.limit), 'holders must not exceed the limit');
      const h = new Holder(rec, p.owner, token, expiresAtMs, p.ttlMs, 1, p.sessionId, p.lockDelayMs, seq);
      ensureExt(rec).more.push(h);
      slot = h;
      if (p.sessionId === null) this.heap.push(expiresAtMs, seq, KIND_MORE_HOLD, h);
    }
    if (p.sessionId === null) {
      this.ttlHolds++;
    } else {
      const s = c.sessions.get(p.sessionId);
      assert(s !== undefined && s.expiresAtMs > now, 'grant under a dead session');
      assert(!s.locks.has(rec.name), 'a session holds a lock at most once');
      s.locks.add(rec.name);
    }
    this.markDirty(rec);
    return slot;
  }

  private setLease(rec: LockRecord, slot: HoldFields, ttlMs: number): void {
    slot.ttlMs = ttlMs;
    slot.expiresAtMs = this.c.nowMs + ttlMs;
    this.heap.push(slot.expiresAtMs, slot.seq, slot === rec ? KIND_INLINE_HOLD : KIND_MORE_HOLD, slot as HeapTarget);
  }

  /**
   * removeSlot removes a hold entirely. `expiredAtMs` is the deadline that
   * passed when the hold is removed by expiry (starting its lock-delay), null
   * for a clean release.
   */
  private removeSlot(rec: LockRecord, slot: HoldFields, expiredAtMs: number | null): void {
    const c = this.c;
    if (expiredAtMs !== null && slot.lockDelayMs > 0) {
      const until = expiredAtMs + slot.lockDelayMs;
      if (until > c.nowMs) this.setDelay(rec, until);
    }
    if (slot.sessionId === null) {
      this.ttlHolds--;
    } else {
      const s = c.sessions.get(slot.sessionId);
      assert(s !== undefined && s.locks.has(rec.name), 'session hold without its session');
      s.locks.delete(rec.name);
    }
    const ext = rec.ext;
    if (slot === rec) {
      if (ext !== null && ext.more.length > 0) {
        // Promote the next holder into the inline slot; its heap entry moves too.
        const h = ext.more.shift()!;
        h.alive = false;
        rec.owner = h.owner;
        rec.token = h.token;
        rec.expiresAtMs = h.expiresAtMs;
        rec.ttlMs = h.ttlMs;
        rec.holdCount = h.holdCount;
        rec.sessionId = h.sessionId;
        rec.lockDelayMs = h.lockDelayMs;
        rec.seq = h.seq;
        if (h.sessionId === null) this.heap.push(h.expiresAtMs, h.seq, KIND_INLINE_HOLD, rec);
      } else {
        rec.owner = null;
        rec.token = 0;
        rec.expiresAtMs = 0;
        rec.ttlMs = 0;
        rec.holdCount = 0;
        rec.sessionId = null;
        rec.lockDelayMs = 0;
        rec.seq = 0;
        rec.mode = MODE_EXCLUSIVE;
        if (ext !== null) ext.limit = 0;
        this.locksHeld--;
      }
    } else {
      assert(ext !== null, 'extra holder without ext');
      const i = ext.more.indexOf(slot as Holder);
      assert(i >= 0, 'holder not found');
      ext.more.splice(i, 1);
      (slot as Holder).alive = false;
    }
    this.markDirty(rec);
  }

  private setDelay(rec: LockRecord, untilMs: number): void {
    const ext = ensureExt(rec);
    if (untilMs <= ext.delayUntilMs) return;
    if (ext.delayUntilMs === 0) this.delays++;
    ext.delayUntilMs = untilMs;
    ext.delaySeq = ++this.c.seq;
    this.heap.push(untilMs, ext.delaySeq, KIND_LOCK_DELAY, rec);
  }

  private clearDelay(rec: LockRecord): void {
    const ext = rec.ext;
    assert(ext !== null && ext.delayUntilMs !== 0, 'no lock-delay to clear');
    ext.delayUntilMs = 0;
    ext.delaySeq = 0;
    this.delays--;
    this.markDirty(rec);
  }

  /** endSession removes a session with its holds and waiters; `expired` starts lock-delays. */
  private endSession(s: Session, expired: boolean): { holds: number; waiters: number } {
    const c = this.c;
    let holds = 0;
    let waiters = 0;
    for (const name of [...s.locks]) {
      const rec = c.locks.get(name);
      assert(rec !== undefined, 'session lists a lock that does not exist');
      let slot: HoldFields | null = null;
      this.forEachSlot(rec, (h) => {
        if (h.sessionId === s.id) slot = h;
      });
      assert(slot !== null, 'session lists a lock it does not hold');
      this.removeSlot(rec, slot, expired ? s.expiresAtMs : null);
      holds++;
    }
    if (s.waiters !== null) {
      for (const w of [...s.waiters]) {
        this.endWaiter(w, 'session_expired');
        waiters++;
      }
    }
    assert(s.locks.size === 0 && (s.waiters === null || s.waiters.size === 0), 'session still has holds or waiters');
    c.sessions.delete(s.id);
    return { holds, waiters };
  }

  /** endWaiter removes a waiter without a grant and reports it. */
  private endWaiter(w: Waiter, reason: WaitEndReason): void {
    assert(w.alive, 'waiter ended twice');
    const rec = w.rec;
    w.alive = false;
    rec.ext!.deadWaiters++;
    this.waiterCount--;
    this.detachWaiterFromSession(w);
    this.events.push({ kind: 'waitEnded', waiterId: w.id, name: rec.name, reason });
    if (w.deduped) this.c.dedupe.replace(w.id, { ok: false, error: 'wait_ended', name: rec.name, reason });
    this.markDirty(rec);
  }

  private detachWaiterFromSession(w: Waiter): void {
    if (w.sessionId === null) return;
    const s = this.c.sessions.get(w.sessionId);
    assert(s !== undefined && s.waiters !== null && s.waiters.delete(w), 'session waiter without its session');
  }

  /**
   * settle is the only place queued waiters are granted: unless a lock-delay is
   * in force, it drops dead heads (deadline passed, session dead) and grants
   * heads while they are grantable, stopping at the first one that is not
   * (FIFO; consecutive shared heads may all be granted).
   */
  private settle(rec: LockRecord): void {
    const ext = rec.ext;
    if (ext === null) return;
    const now = this.c.nowMs;
    if (ext.delayUntilMs !== 0) {
      if (ext.delayUntilMs > now) return;
      this.clearDelay(rec);
    }
    const queue = ext.waiters;
    // Bounded by the queue length (grants and removals never add waiters).
    for (let i = 0; i < queue.length; i++) {
      const w = queue[i]!;
      if (!w.alive) continue;
      if (w.deadlineMs <= now) {
        this.endWaiter(w, 'timeout');
        continue;
      }
      if (w.sessionId !== null && !this.sessionLive(w.sessionId)) {
        this.endWaiter(w, 'session_expired');
        continue;
      }
      if (!this.grantable(rec, w.mode, w.limit, w.owner, w.sessionId)) break;
      this.grantWaiter(w);
    }
  }

  private grantWaiter(w: Waiter): void {
    const now = this.c.nowMs;
    // Never grant after the waiter's deadline or its session's end (etcd issue 11456).
    assert(w.alive && w.deadlineMs > now, 'grant to a waiter past its deadline');
    assert(w.sessionId === null || this.sessionLive(w.sessionId), 'grant to a waiter whose session is dead');
    const rec = w.rec;
    w.alive = false;
    rec.ext!.deadWaiters++;
    this.waiterCount--;
    this.detachWaiterFromSession(w);
    const slot = this.grant(rec, {
      owner: w.owner,
      mode: w.mode,
      limit: w.limit,
      ttlMs: w.ttlMs,
      sessionId: w.sessionId,
      lockDelayMs: w.lockDelayMs,
    });
    const r = this.grantedResult(rec, slot);
    const ev: Mutable<GrantedEvent> = {
      kind: 'granted',
      waiterId: w.id,
      name: r.name,
      owner: r.owner,
      token: r.token,
      mode: r.mode,
      expiresAtMs: r.expiresAtMs,
      holdCount: r.holdCount,
    };
    if (r.sessionId !== undefined) ev.sessionId = r.sessionId;
    this.events.push(ev);
    if (w.deduped) this.c.dedupe.replace(w.id, r);
  }

  /** grantable: could a new hold with these parameters join the current holders? (Queue and lock-delay are checked by callers.) */
  private grantable(rec: LockRecord, mode: ModeCode, limit: number, owner: string, sid: string | null): boolean {
    const n = rec.holderCount();
    if (n === 0) return true;
    if (mode === MODE_EXCLUSIVE || rec.mode === MODE_EXCLUSIVE) return false;
    if (currentLimit(rec) !== limit) return false;
    if (n >= this.effectiveLimit(limit)) return false;
    // The same identity must not hold twice (its old hold may be dead but not yet expired).
    return this.findIdentity(rec, owner, sid) === null;
  }

  private effectiveLimit(limit: number): number {
    return limit > 0 ? limit : this.c.limits.holdersPerLockMax;
  }

  /** finish settles every lock touched by this apply, drops dead waiters and free records, checks invariants. */
  private finish(): void {
    const c = this.c;
    // Set iteration visits records in first-touch order: deterministic.
    // Index loop: settle() may only re-mark the same record, never append another.
    for (let i = 0; i < this.dirty.length; i++) {
      const rec = this.dirty[i]!;
      this.settle(rec);
      const ext = rec.ext;
      if (ext !== null) {
        if (ext.deadWaiters > 0) {
          ext.waiters = ext.waiters.filter((w) => w.alive);
          ext.deadWaiters = 0;
        }
        if (ext.isEmpty()) rec.ext = null;
      }
      this.checkRecord(rec);
      if (rec.owner === null && rec.ext === null && c.locks.get(rec.name) === rec) {
        // Free: drop the record but keep its tokens' floor, so a later grant of
        // this name still gets a larger token.
        c.locks.delete(rec.name);
        if (rec.lastToken > c.tokenFloor) c.tokenFloor = rec.lastToken;
      }
    }
    this.dirty.length = 0;
    this.dirtySet = null;
    const live = this.ttlHolds + c.sessions.size + this.waiterCount + this.delays;
    if (this.heap.size > 2 * live + HEAP_SLACK) this.rebuildHeap();
  }

  private checkRecord(rec: LockRecord): void {
    const n = rec.holderCount();
    const ext = rec.ext;
    if (n === 0) {
      assert(ext === null || (ext.more.length === 0 && ext.limit === 0), 'free lock keeps holders or a limit');
    } else {
      assert(rec.mode === MODE_SHARED || n === 1, 'exclusive lock with more than one holder');
      assert(n <= this.effectiveLimit(currentLimit(rec)), 'more holders than the limit');
      checkSlot(rec, rec);
      if (ext !== null) for (const h of ext.more) checkSlot(rec, h);
    }
    if (ext !== null) {
      assert(ext.deadWaiters === 0, 'dead waiters left in the queue');
      assert(ext.waiters.length <= this.c.limits.waitersPerLockMax, 'queue over its bound');
    }
  }

  private rebuildHeap(): void {
    const heap = this.heap;
    heap.clear();
    for (const rec of this.c.locks.values()) {
      if (rec.owner !== null && rec.sessionId === null) heap.appendUnordered(rec.expiresAtMs, rec.seq, KIND_INLINE_HOLD, rec);
      const ext = rec.ext;
      if (ext === null) continue;
      for (const h of ext.more) if (h.sessionId === null) heap.appendUnordered(h.expiresAtMs, h.seq, KIND_MORE_HOLD, h);
      for (const w of ext.waiters) if (w.alive) heap.appendUnordered(w.deadlineMs, w.seq, KIND_WAITER, w);
      if (ext.delayUntilMs !== 0) heap.appendUnordered(ext.delayUntilMs, ext.delaySeq, KIND_LOCK_DELAY, rec);
    }
    for (const s of this.c.sessions.values()) heap.appendUnordered(s.expiresAtMs, s.seq, KIND_SESSION, s);
    heap.heapify();
  }

  /** topIsValid: does the heap's top entry still describe a live deadline? */
  private topIsValid(): boolean {
    const heap = this.heap;
    const d = heap.topDeadlineMs();
    const seq = heap.topSeq();
    const target = heap.topTarget();
    switch (heap.topKind()) {
      case KIND_INLINE_HOLD: {
        const rec = target as LockRecord;
        return (
          rec.owner !== null && rec.sessionId === null && rec.seq === seq && rec.expiresAtMs === d && this.c.locks.get(rec.name) === rec
        );
      }
      case KIND_MORE_HOLD: {
        const h = target as Holder;
        return h.alive && h.sessionId === null && h.expiresAtMs === d;
      }
      case KIND_SESSION: {
        const s = target as Session;
        return s.expiresAtMs === d && this.c.sessions.get(s.id) === s;
      }
      case KIND_WAITER: {
        const w = target as Waiter;
        return w.alive && w.deadlineMs === d;
      }
      case KIND_LOCK_DELAY: {
        const rec = target as LockRecord;
        const ext = rec.ext;
        return ext !== null && ext.delayUntilMs === d && ext.delaySeq === seq && this.c.locks.get(rec.name) === rec;
      }
      default:
        return false;
    }
  }

  private sessionLive(sessionId: string): boolean {
    const s = this.c.sessions.get(sessionId);
    return s !== undefined && s.expiresAtMs > this.c.nowMs;
  }

  private slotLive(slot: HoldFields): boolean {
    return slot.sessionId === null ? slot.expiresAtMs > this.c.nowMs : this.sessionLive(slot.sessionId);
  }

  private waiterLive(w: Waiter): boolean {
    return w.deadlineMs > this.c.nowMs && (w.sessionId === null || this.sessionLive(w.sessionId));
  }

  private forEachSlot(rec: LockRecord, visit: (slot: HoldFields) => void): void {
    if (rec.owner === null) return;
    visit(rec);
    if (rec.ext !== null) for (const h of rec.ext.more) visit(h);
  }

  private findByToken(rec: LockRecord, token: number): HoldFields | null {
    if (rec.owner === null) return null;
    if (rec.token === token) return rec;
    if (rec.ext !== null) for (const h of rec.ext.more) if (h.token === token) return h;
    return null;
  }

  /** findIdentity finds the hold of (owner, session): same owner without a session, or the same session. */
  private findIdentity(rec: LockRecord, owner: string, sid: string | null): HoldFields | null {
    let found: HoldFields | null = null;
    this.forEachSlot(rec, (slot) => {
      if (found === null && slot.sessionId === sid && (sid !== null || slot.owner === owner)) found = slot;
    });
    return found;
  }

  private grantedResult(rec: LockRecord, slot: HoldFields): AcquireGranted {
    const r: Mutable<AcquireGranted> = {
      ok: true,
      queued: false,
      name: rec.name,
      owner: slot.owner!,
      token: slot.token,
      mode: modeName(rec.mode),
      expiresAtMs: this.slotExpiry(slot),
      holdCount: slot.holdCount,
    };
    if (slot.sessionId !== null) r.sessionId = slot.sessionId;
    return r;
  }

  private slotExpiry(slot: HoldFields): number {
    if (slot.sessionId === null) return slot.expiresAtMs;
    const s = this.c.sessions.get(slot.sessionId);
    assert(s !== undefined, 'session hold without its session');
    return s.expiresAtMs;
  }

  private holderView(rec: LockRecord, slot: HoldFields): HolderView {
    const v: Mutable<HolderView> = {
      owner: slot.owner!,
      token: slot.token,
      mode: modeName(rec.mode),
      expiresAtMs: this.slotExpiry(slot),
      holdCount: slot.holdCount,
    };
    if (slot.sessionId !== null) v.sessionId = slot.sessionId;
    return v;
  }

  private lockHeld(rec: LockRecord): LockError {
    const holders: HolderView[] = [];
    this.forEachSlot(rec, (slot) => {
      if (holders.length < MAX_HOLDERS_IN_RESULT) holders.push(this.holderView(rec, slot));
    });
    const r: Mutable<LockHeldError> = {
      ok: false,
      error: 'lock_held',
      name: rec.name,
      holders,
    };
    if (delayActive(rec, this.c.nowMs)) r.lockDelayUntilMs = rec.ext!.delayUntilMs;
    return r;
  }

  private view(rec: LockRecord): LockView {
    const holders: HolderView[] = [];
    this.forEachSlot(rec, (slot) => holders.push(this.holderView(rec, slot)));
    const v: Mutable<LockView> = {
      name: rec.name,
      holders,
      waiters: rec.queueLength(),
      lastToken: rec.lastToken,
    };
    const limit = currentLimit(rec);
    if (limit > 0) v.limit = limit;
    if (delayActive(rec, this.c.nowMs)) v.lockDelayUntilMs = rec.ext!.delayUntilMs;
    return v;
  }

  /** adopt takes over a decoded core and rebuilds everything derived from it. */
  private adopt(core: TableCore): void {
    this.c = core;
    this.locksHeld = 0;
    this.waiterCount = 0;
    this.ttlHolds = 0;
    this.delays = 0;
    for (const rec of core.locks.values()) {
      if (rec.owner !== null) this.locksHeld++;
      this.forEachSlot(rec, (slot) => {
        if (slot.sessionId === null) this.ttlHolds++;
      });
      if (rec.ext !== null) {
        this.waiterCount += rec.ext.waiters.length;
        if (rec.ext.delayUntilMs !== 0) this.delays++;
      }
      this.checkRecord(rec);
    }
    this.rebuildHeap();
  }
}

function checkSlot(rec: LockRecord, slot: HoldFields): void {
  assert(slot.token >= 1 && slot.token <= rec.lastToken, 'hold token above lastToken');
  assert(slot.holdCount >= 1, 'hold with zero count');
  assert((slot.sessionId === null) === (slot.ttlMs > 0), 'hold needs exactly one of ttl and session');
}

function badRequest(message: string): LockError {
  return { ok: false, error: 'bad_request', message };
}

function ensureExt(rec: LockRecord): LockExt {
  return (rec.ext ??= new LockExt());
}

function currentLimit(rec: LockRecord): number {
  return rec.ext === null ? 0 : rec.ext.limit;
}

function delayActive(rec: LockRecord, nowMs: number): boolean {
  return rec.ext !== null && rec.ext.delayUntilMs > nowMs;
}
