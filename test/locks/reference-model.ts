/**
 * ReferenceLockTable is the obviously-correct model of the lease table used by
 * the property tests: plain arrays, linear scans, sort-on-demand, no heap, no
 * inline-holder tricks, no lazy deletion. It implements the same documented
 * semantics (see src/locks/lease-table.ts) so results, events and views can be
 * compared exactly.
 */
import {
  DEFAULT_LEASE_TABLE_LIMITS,
  MAX_HOLDERS_IN_RESULT,
  MAX_HOLD_COUNT,
  validateCommand,
  type ApplyOutcome,
  type CommandResult,
  type HolderView,
  type LeaseTableLimits,
  type LockCommand,
  type LockEvent,
  type LockMode,
  type LockStats,
  type LockView,
  type SessionView,
  type TokenCheck,
  type WaitEndReason,
} from '../../src/locks/index.js';

interface MHold {
  owner: string;
  token: number;
  expiresAtMs: number; // TTL holds only
  ttlMs: number; // 0 for session holds
  holdCount: number;
  sessionId: string | null;
  lockDelayMs: number;
  seq: number;
}

interface MWaiter {
  id: string;
  owner: string;
  mode: LockMode;
  limit: number;
  ttlMs: number;
  sessionId: string | null;
  deadlineMs: number;
  lockDelayMs: number;
  seq: number;
  deduped: boolean;
}

interface MLock {
  name: string;
  mode: LockMode;
  limit: number;
  lastToken: number;
  holders: MHold[];
  waiters: MWaiter[];
  delayUntilMs: number;
  delaySeq: number;
}

interface MSession {
  id: string;
  owner: string | null;
  ttlMs: number;
  expiresAtMs: number;
  seq: number;
}

type Acquire = Extract<LockCommand, { type: 'acquire' }>;

export class ReferenceLockTable {
  nowMs = 0;
  private index = 0;
  private floor = 0;
  private seq = 0;
  private expiriesTotal = 0;
  private locks: MLock[] = [];
  private sessions: MSession[] = [];
  private dedupe: { id: string; result: CommandResult; atMs: number; answers: number }[] = [];
  private events: LockEvent[] = [];
  private touched: MLock[] = [];
  readonly limits: LeaseTableLimits;

  constructor(limits: Partial<LeaseTableLimits> = {}) {
    this.limits = { ...DEFAULT_LEASE_TABLE_LIMITS, ...limits };
  }

  apply(cmd: LockCommand, ctx: { index: number; timeMs: number }): Omit<ApplyOutcome, 'touched'> {
    this.index = ctx.index;
    this.nowMs = Math.max(this.nowMs, ctx.timeMs);
    this.dedupe = this.dedupe.filter((e) => e.atMs + this.limits.dedupeTtlMs > this.nowMs);
    const bad = validateCommand(cmd, this.limits);
    if (bad !== null) return { result: { ok: false, error: 'bad_request', message: bad }, events: [] };
    const deduped = ['acquire', 'release', 'renew', 'forceRelease', 'createSession', 'keepalive', 'deleteSession'];
    const rid = deduped.includes(cmd.type) ? ((cmd as { requestId?: string }).requestId ?? null) : null;
    if (rid !== null) {
      const hit = this.dedupe.find((e) => e.id === rid);
      if (hit) {
        // A retry of a waiting acquire: one more attempt waits for a queued one; a grant answered is delivered.
        const r = hit.result as { ok: boolean; queued?: boolean };
        if (cmd.type === 'acquire' && cmd.waitMs > 0 && hit.answers > 0 && r.ok && r.queued !== undefined) hit.answers = r.queued ? hit.answers + 1 : 0;
        return { result: hit.result, events: [] };
      }
      if (this.dedupe.length >= this.limits.dedupeEntriesMax) {
        return { result: { ok: false, error: 'dedupe_full', retryAfterMs: Math.max(1, this.dedupe[0]!.atMs + this.limits.dedupeTtlMs - this.nowMs) }, events: [] };
      }
    }
    this.events = [];
    this.touched = [];
    const result = this.run(cmd);
    if (rid !== null) {
      const answers = cmd.type === 'acquire' && cmd.waitMs > 0 && result.ok ? 1 : 0;
      this.dedupe.push({ id: rid, result, atMs: this.nowMs, answers });
    }
    for (const lock of this.touched) this.settle(lock);
    this.locks = this.locks.filter((l) => {
      const free = l.holders.length === 0 && l.waiters.length === 0 && l.delayUntilMs === 0;
      if (free) this.floor = Math.max(this.floor, l.lastToken);
      return !free;
    });
    return { result, events: this.events };
  }

  // ---- queries -------------------------------------------------------------------

  get(name: string): LockView | null {
    const l = this.lock(name);
    if (!l) return null;
    const v: Record<string, unknown> = {
      name,
      holders: l.holders.map((h) => this.holderView(l, h)),
      waiters: l.waiters.length,
      lastToken: l.lastToken,
    };
    if (l.limit > 0) v['limit'] = l.limit;
    if (l.delayUntilMs > this.nowMs) v['lockDelayUntilMs'] = l.delayUntilMs;
    return v as unknown as LockView;
  }

  list(prefix: string, limit: number, after?: string): LockView[] {
    return this.locks
      .map((l) => l.name)
      .filter((n) => n.startsWith(prefix) && (after === undefined || n > after))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, Math.max(0, Math.min(1000, limit)))
      .map((n) => this.get(n)!);
  }

  checkToken(name: string, token: number): TokenCheck {
    const l = this.lock(name);
    if (!l || l.holders.length === 0) return { valid: false, currentToken: null };
    return {
      valid: l.holders.some((h) => h.token === token && this.holdLive(h)),
      currentToken: Math.max(...l.holders.map((h) => h.token)),
    };
  }

  session(id: string): SessionView | null {
    const s = this.sessions.find((x) => x.id === id);
    if (!s) return null;
    const held: { seq: number; name: string }[] = [];
    for (const l of this.locks) for (const h of l.holders) if (h.sessionId === id) held.push({ seq: h.seq, name: l.name });
    held.sort((a, b) => a.seq - b.seq);
    const v: Record<string, unknown> = { sessionId: s.id, ttlMs: s.ttlMs, expiresAtMs: s.expiresAtMs, locks: held.map((x) => x.name) };
    if (s.owner !== null) v['owner'] = s.owner;
    return v as unknown as SessionView;
  }

  nextDeadlineMs(): number | null {
    const all: number[] = [];
    for (const l of this.locks) {
      for (const h of l.holders) if (h.sessionId === null) all.push(h.expiresAtMs);
      for (const w of l.waiters) all.push(w.deadlineMs);
      if (l.delayUntilMs !== 0) all.push(l.delayUntilMs);
    }
    for (const s of this.sessions) all.push(s.expiresAtMs);
    return all.length === 0 ? null : Math.min(...all);
  }

  stats(): LockStats {
    return {
      locksHeld: this.locks.filter((l) => l.holders.length > 0).length,
      waiters: this.locks.reduce((n, l) => n + l.waiters.length, 0),
      sessions: this.sessions.length,
      expiriesTotal: this.expiriesTotal,
    };
  }

  /** hasRequest: would an entry stamped `timeMs` carrying requestId `id` be answered from the dedupe table? */
  hasRequest(id: string, timeMs: number): boolean {
    const now = Math.max(this.nowMs, timeMs);
    return this.dedupe.some((e) => e.id === id && e.atMs + this.limits.dedupeTtlMs > now);
  }

  /** countedRequestIds are the remembered requests whose answering attempts are counted (undelivered-grants.ts). */
  countedRequestIds(): string[] {
    return this.dedupe.filter((e) => e.answers > 0).map((e) => e.id);
  }

  /** requestOf is the lock and owner a remembered acquire (or a queued waiter) `id` asked for, or null. */
  requestOf(id: string): { name: string; owner: string } | null {
    for (const l of this.locks) for (const w of l.waiters) if (w.id === id) return { name: l.name, owner: w.owner };
    const r = this.dedupe.find((e) => e.id === id)?.result as { name?: unknown; owner?: unknown } | undefined;
    return typeof r?.name === 'string' && typeof r.owner === 'string' ? { name: r.name, owner: r.owner } : null;
  }

  names(): string[] {
    return this.locks.map((l) => l.name);
  }

  sessionIds(): string[] {
    return this.sessions.map((s) => s.id);
  }

  /** holdsOf lists (owner, token) of a lock's holds, for generating release/renew commands. */
  holdsOf(name: string): { owner: string; token: number }[] {
    return (this.lock(name)?.holders ?? []).map((h) => ({ owner: h.owner, token: h.token }));
  }

  waiterIdsOf(name: string): string[] {
    return (this.lock(name)?.waiters ?? []).map((w) => w.id);
  }

  // ---- commands ------------------------------------------------------------------

  private run(cmd: LockCommand): CommandResult {
    switch (cmd.type) {
      case 'proclaim':
        // Election values are covered by the scripted tests (testdata/elections.txt) and test/locks/election-values.test.ts.
        throw new Error('the reference model does not model proclaim');
      case 'acquire':
        return this.acquire(cmd);
      case 'release': {
        const l = this.lock(cmd.name);
        const h = l?.holders.find((x) => x.token === cmd.token);
        if (!l || !h || h.owner !== cmd.owner) return { ok: false, error: 'not_holder', name: cmd.name };
        this.touch(l);
        h.holdCount -= 1;
        if (h.holdCount === 0) this.removeHold(l, h, null);
        return { ok: true, name: cmd.name, holdCount: h.holdCount };
      }
      case 'renew': {
        const l = this.lock(cmd.name);
        const h = l?.holders.find((x) => x.token === cmd.token);
        if (!l || !h || h.owner !== cmd.owner || !this.holdLive(h)) return { ok: false, error: 'not_holder', name: cmd.name };
        if (h.sessionId !== null) {
          return { ok: false, error: 'bad_request', message: `${cmd.name} is held under session ${h.sessionId}; keep the session alive instead` };
        }
        this.touch(l);
        h.ttlMs = cmd.ttlMs ?? h.ttlMs;
        h.expiresAtMs = this.nowMs + h.ttlMs;
        return { ok: true, name: cmd.name, token: h.token, expiresAtMs: h.expiresAtMs };
      }
      case 'forceRelease': {
        const l = this.lock(cmd.name);
        if (!l) return { ok: true, name: cmd.name, holdersRemoved: 0, waitersRemoved: 0 };
        this.touch(l);
        const holdersRemoved = l.holders.length;
        for (const h of [...l.holders]) this.removeHold(l, h, null);
        const waitersRemoved = l.waiters.length;
        for (const w of [...l.waiters]) this.endWaiter(l, w, 'force_released');
        l.delayUntilMs = 0;
        return { ok: true, name: cmd.name, holdersRemoved, waitersRemoved };
      }
      case 'createSession': {
        if (this.sessions.some((s) => s.id === cmd.sessionId)) {
          return { ok: false, error: 'bad_request', message: `session ${cmd.sessionId} already exists` };
        }
        const s: MSession = { id: cmd.sessionId, owner: cmd.owner ?? null, ttlMs: cmd.ttlMs, expiresAtMs: this.nowMs + cmd.ttlMs, seq: ++this.seq };
        this.sessions.push(s);
        return { ok: true, sessionId: s.id, ttlMs: s.ttlMs, expiresAtMs: s.expiresAtMs };
      }
      case 'keepalive': {
        const s = this.sessions.find((x) => x.id === cmd.sessionId);
        if (!s || s.expiresAtMs <= this.nowMs) return { ok: false, error: 'session_not_found', sessionId: cmd.sessionId };
        s.expiresAtMs = this.nowMs + s.ttlMs;
        return { ok: true, sessionId: s.id, ttlMs: s.ttlMs, expiresAtMs: s.expiresAtMs };
      }
      case 'deleteSession': {
        const s = this.sessions.find((x) => x.id === cmd.sessionId);
        if (!s) return { ok: false, error: 'session_not_found', sessionId: cmd.sessionId };
        const { holds, waiters } = this.endSession(s, false);
        return { ok: true, sessionId: s.id, locksReleased: holds, waitersRemoved: waiters };
      }
      case 'cancelWait':
        return this.cancelWait(cmd);
      case 'expire':
        return this.expireDue();
      case 'extendLeases': {
        for (const l of this.locks) {
          for (const h of l.holders) if (h.sessionId === null && h.expiresAtMs > this.nowMs) h.expiresAtMs += cmd.byMs;
          if (l.delayUntilMs !== 0) {
            if (l.delayUntilMs <= this.nowMs) {
              l.delayUntilMs = 0;
              this.touch(l);
            } else {
              l.delayUntilMs += cmd.byMs;
            }
          }
        }
        for (const s of this.sessions) if (s.expiresAtMs > this.nowMs) s.expiresAtMs += cmd.byMs;
        return this.expireDue();
      }
      case 'checkpointSessions': {
        let moved = 0;
        for (const [id, atMs] of cmd.sessions) {
          const s = this.sessions.find((x) => x.id === id);
          if (s !== undefined && atMs > s.expiresAtMs) {
            s.expiresAtMs = atMs;
            moved++;
          }
        }
        return { ok: true, sessionsExtended: moved };
      }
      case 'restartSessionLeases': {
        let moved = 0;
        for (const s of this.sessions) {
          if (s.expiresAtMs < this.nowMs + s.ttlMs) {
            s.expiresAtMs = this.nowMs + s.ttlMs;
            moved++;
          }
        }
        return { ok: true, sessionsExtended: moved };
      }
    }
  }

  /** cancelWait: the undelivered-grants rule, spelled out case by case. */
  private cancelWait(cmd: Extract<LockCommand, { type: 'cancelWait' }>): CommandResult {
    const no = { ok: true as const, cancelled: false };
    const l = this.lock(cmd.name);
    const entry = this.dedupe.find((x) => x.id === cmd.waiterId);
    const w = l?.waiters.find((x) => x.id === cmd.waiterId);
    if (l && w) {
      if (cmd.owner !== undefined && w.owner !== cmd.owner) return no;
      if (cmd.owner !== undefined && w.deduped && entry && entry.answers > 1) {
        entry.answers--;
        return no;
      }
      this.touch(l);
      this.endWaiter(l, w, 'cancelled');
      return { ok: true, cancelled: true };
    }
    const g = entry?.result as { ok: boolean; queued?: boolean; name?: string; owner?: string; token?: number } | undefined;
    if (!entry || entry.answers === 0 || !g?.ok || g.queued !== false || g.name !== cmd.name) return no;
    if (cmd.owner === undefined) {
      entry.answers = 0;
      return no;
    }
    if (g.owner !== cmd.owner) return no;
    entry.answers--;
    if (entry.answers > 0) return no;
    const h = l?.holders.find((x) => x.token === g.token && x.owner === cmd.owner);
    if (!l || !h) return no;
    this.touch(l);
    h.holdCount -= 1;
    if (h.holdCount === 0) this.removeHold(l, h, null);
    this.replaceDedupe(cmd.waiterId, { ok: false, error: 'wait_ended', name: cmd.name, reason: 'cancelled' });
    return { ok: true, cancelled: true, released: true };
  }

  private acquire(cmd: Acquire): CommandResult {
    const now = this.nowMs;
    const sid = cmd.sessionId ?? null;
    if (sid !== null) {
      const s = this.sessions.find((x) => x.id === sid);
      if (!s || s.expiresAtMs <= now) return { ok: false, error: 'session_not_found', sessionId: sid };
      if (s.owner !== null && s.owner !== cmd.owner) return { ok: false, error: 'bad_request', message: `session ${sid} belongs to another owner` };
    }
    const limit = cmd.limit ?? 0;
    let l = this.lock(cmd.name);
    if (l) {
      this.touch(l);
      this.settle(l);
      if (l.holders.length > 0) {
        if (cmd.mode === 'shared' && l.mode === 'shared' && l.limit !== limit) {
          return { ok: false, error: 'limit_mismatch', name: l.name, limit: l.limit };
        }
        const mine = l.holders.find((h) => this.sameIdentity(h, cmd.owner, sid));
        if (mine && this.holdLive(mine)) {
          if (mine.owner !== cmd.owner) return { ok: false, error: 'bad_request', message: `session ${sid} already holds ${l.name} under another owner` };
          if (l.mode !== cmd.mode) return { ok: false, error: 'bad_request', message: `${cmd.owner} already holds ${l.name} in ${l.mode} mode` };
          if (mine.holdCount >= MAX_HOLD_COUNT) return { ok: false, error: 'bad_request', message: 'too many reentrant holds' };
          mine.holdCount += 1;
          mine.lockDelayMs = cmd.lockDelayMs ?? 0;
          if (sid === null) {
            mine.ttlMs = cmd.ttlMs!;
            mine.expiresAtMs = now + mine.ttlMs;
          }
          return this.grantedResult(l, mine);
        }
      }
      const waiting = l.waiters.some((w) => (sid === null ? w.sessionId === null && w.owner === cmd.owner : w.sessionId === sid) && this.waiterLive(w));
      if (waiting) return { ok: false, error: 'already_waiting', name: l.name };
    }
    if (!l || (l.waiters.length === 0 && !(l.delayUntilMs > now) && this.grantable(l, cmd.mode, limit, cmd.owner, sid))) {
      if (!l) {
        l = { name: cmd.name, mode: 'exclusive', limit: 0, lastToken: this.floor, holders: [], waiters: [], delayUntilMs: 0, delaySeq: 0 };
        this.locks.push(l);
        this.touch(l);
      }
      const h = this.grant(l, { owner: cmd.owner, mode: cmd.mode, limit, ttlMs: cmd.ttlMs ?? 0, sessionId: sid, lockDelayMs: cmd.lockDelayMs ?? 0 });
      return this.grantedResult(l, h);
    }
    if (cmd.waitMs === 0) return this.lockHeld(l);
    if (l.waiters.length >= this.limits.waitersPerLockMax) return { ok: false, error: 'too_many_waiters', name: l.name };
    const id = cmd.requestId ?? String(this.index);
    if (l.waiters.some((w) => w.id === id)) return { ok: false, error: 'bad_request', message: `waiter id ${id} is already queued on ${l.name}` };
    // Same id queued again in the entry that ended its earlier wait: that end is not reported (the new request would hear it).
    this.events = this.events.filter((e) => e.kind !== 'waitEnded' || e.name !== l!.name || e.waiterId !== id);
    l.waiters.push({
      id,
      owner: cmd.owner,
      mode: cmd.mode,
      limit,
      ttlMs: cmd.ttlMs ?? 0,
      sessionId: sid,
      deadlineMs: now + cmd.waitMs,
      lockDelayMs: cmd.lockDelayMs ?? 0,
      seq: ++this.seq,
      deduped: cmd.requestId !== undefined,
    });
    return { ok: true, queued: true, name: l.name, waiterId: id };
  }

  /** expireDue: every due deadline, in (deadline, seq) order; each is re-checked when its turn comes. */
  private expireDue(): CommandResult {
    const now = this.nowMs;
    type Due = { d: number; seq: number; run: () => void };
    const due: Due[] = [];
    let holdsExpired = 0;
    let sessionsExpired = 0;
    let waitersTimedOut = 0;
    for (const l of this.locks) {
      for (const h of l.holders) {
        if (h.sessionId === null && h.expiresAtMs <= now) {
          due.push({
            d: h.expiresAtMs,
            seq: h.seq,
            run: () => {
              if (!l.holders.includes(h)) return;
              this.removeHold(l, h, h.expiresAtMs);
              this.expiriesTotal++;
              holdsExpired++;
            },
          });
        }
      }
      for (const w of l.waiters) {
        if (w.deadlineMs <= now) {
          due.push({
            d: w.deadlineMs,
            seq: w.seq,
            run: () => {
              if (!l.waiters.includes(w)) return;
              this.endWaiter(l, w, 'timeout');
              waitersTimedOut++;
            },
          });
        }
      }
      if (l.delayUntilMs !== 0 && l.delayUntilMs <= now) {
        const seq = l.delaySeq;
        due.push({
          d: l.delayUntilMs,
          seq,
          run: () => {
            if (l.delaySeq !== seq || l.delayUntilMs === 0) return;
            l.delayUntilMs = 0;
            this.touch(l);
          },
        });
      }
    }
    for (const s of this.sessions) {
      if (s.expiresAtMs <= now) {
        due.push({
          d: s.expiresAtMs,
          seq: s.seq,
          run: () => {
            if (!this.sessions.includes(s)) return;
            const { holds } = this.endSession(s, true);
            this.expiriesTotal += holds;
            holdsExpired += holds;
            sessionsExpired++;
          },
        });
      }
    }
    due.sort((a, b) => a.d - b.d || a.seq - b.seq);
    for (const x of due) x.run();
    return { ok: true, holdsExpired, sessionsExpired, waitersTimedOut };
  }

  // ---- mechanics -----------------------------------------------------------------

  private settle(l: MLock): void {
    if (l.delayUntilMs !== 0) {
      if (l.delayUntilMs > this.nowMs) return;
      l.delayUntilMs = 0;
    }
    while (l.waiters.length > 0) {
      const w = l.waiters[0]!;
      if (w.deadlineMs <= this.nowMs) {
        this.endWaiter(l, w, 'timeout');
      } else if (w.sessionId !== null && !this.sessionLive(w.sessionId)) {
        this.endWaiter(l, w, 'session_expired');
      } else if (this.grantable(l, w.mode, w.limit, w.owner, w.sessionId)) {
        l.waiters.shift();
        const h = this.grant(l, w);
        const r = this.grantedResult(l, h);
        const ev: Record<string, unknown> = {
          kind: 'granted',
          waiterId: w.id,
          name: l.name,
          owner: r.owner,
          token: r.token,
          mode: r.mode,
          expiresAtMs: r.expiresAtMs,
          holdCount: r.holdCount,
        };
        if (r.sessionId !== undefined) ev['sessionId'] = r.sessionId;
        this.events.push(ev as unknown as LockEvent);
        if (w.deduped) this.replaceDedupe(w.id, r);
      } else {
        return;
      }
    }
  }

  private grantable(l: MLock, mode: LockMode, limit: number, owner: string, sid: string | null): boolean {
    if (l.holders.length === 0) return true;
    if (mode === 'exclusive' || l.mode === 'exclusive') return false;
    if (l.limit !== limit) return false;
    if (l.holders.length >= (limit > 0 ? limit : this.limits.holdersPerLockMax)) return false;
    return !l.holders.some((h) => this.sameIdentity(h, owner, sid));
  }

  private grant(
    l: MLock,
    p: { owner: string; mode: LockMode; limit: number; ttlMs: number; sessionId: string | null; lockDelayMs: number },
  ): MHold {
    const token = Math.max(this.index, l.lastToken + 1);
    l.lastToken = token;
    if (l.holders.length === 0) {
      l.mode = p.mode;
      l.limit = p.limit;
    }
    const h: MHold = {
      owner: p.owner,
      token,
      expiresAtMs: p.sessionId === null ? this.nowMs + p.ttlMs : 0,
      ttlMs: p.ttlMs,
      holdCount: 1,
      sessionId: p.sessionId,
      lockDelayMs: p.lockDelayMs,
      seq: ++this.seq,
    };
    l.holders.push(h);
    this.touch(l);
    return h;
  }

  private removeHold(l: MLock, h: MHold, expiredAtMs: number | null): void {
    if (expiredAtMs !== null && h.lockDelayMs > 0) {
      const until = expiredAtMs + h.lockDelayMs;
      if (until > this.nowMs && until > l.delayUntilMs) {
        l.delayUntilMs = until;
        l.delaySeq = ++this.seq;
      }
    }
    l.holders = l.holders.filter((x) => x !== h);
    if (l.holders.length === 0) {
      l.mode = 'exclusive';
      l.limit = 0;
    }
    this.touch(l);
  }

  private endWaiter(l: MLock, w: MWaiter, reason: WaitEndReason): void {
    l.waiters = l.waiters.filter((x) => x !== w);
    this.events.push({ kind: 'waitEnded', waiterId: w.id, name: l.name, reason });
    if (w.deduped) this.replaceDedupe(w.id, { ok: false, error: 'wait_ended', name: l.name, reason });
    this.touch(l);
  }

  private endSession(s: MSession, expired: boolean): { holds: number; waiters: number } {
    let holds = 0;
    let waiters = 0;
    const held: { seq: number; l: MLock; h: MHold }[] = [];
    const queued: { seq: number; l: MLock; w: MWaiter }[] = [];
    for (const l of this.locks) {
      for (const h of l.holders) if (h.sessionId === s.id) held.push({ seq: h.seq, l, h });
      for (const w of l.waiters) if (w.sessionId === s.id) queued.push({ seq: w.seq, l, w });
    }
    held.sort((a, b) => a.seq - b.seq);
    queued.sort((a, b) => a.seq - b.seq);
    for (const { l, h } of held) {
      this.removeHold(l, h, expired ? s.expiresAtMs : null);
      holds++;
    }
    for (const { l, w } of queued) {
      this.endWaiter(l, w, 'session_expired');
      waiters++;
    }
    this.sessions = this.sessions.filter((x) => x !== s);
    return { holds, waiters };
  }

  private replaceDedupe(id: string, result: CommandResult): void {
    const e = this.dedupe.find((x) => x.id === id);
    if (!e) return;
    e.result = result;
    if (!result.ok) e.answers = 0;
  }

  private touch(l: MLock): void {
    if (!this.touched.includes(l)) this.touched.push(l);
  }

  private lock(name: string): MLock | undefined {
    return this.locks.find((l) => l.name === name);
  }

  private sameIdentity(h: MHold, owner: string, sid: string | null): boolean {
    return sid === null ? h.sessionId === null && h.owner === owner : h.sessionId === sid;
  }

  private sessionLive(id: string): boolean {
    const s = this.sessions.find((x) => x.id === id);
    return s !== undefined && s.expiresAtMs > this.nowMs;
  }

  private holdLive(h: MHold): boolean {
    return h.sessionId === null ? h.expiresAtMs > this.nowMs : this.sessionLive(h.sessionId);
  }

  private waiterLive(w: MWaiter): boolean {
    return w.deadlineMs > this.nowMs && (w.sessionId === null || this.sessionLive(w.sessionId));
  }

  private holdExpiry(h: MHold): number {
    return h.sessionId === null ? h.expiresAtMs : this.sessions.find((s) => s.id === h.sessionId)!.expiresAtMs;
  }

  private holderView(l: MLock, h: MHold): HolderView {
    const v: Record<string, unknown> = { owner: h.owner, token: h.token, mode: l.mode, expiresAtMs: this.holdExpiry(h), holdCount: h.holdCount };
    if (h.sessionId !== null) v['sessionId'] = h.sessionId;
    return v as unknown as HolderView;
  }

  private grantedResult(l: MLock, h: MHold) {
    const v: Record<string, unknown> = {
      ok: true,
      queued: false,
      name: l.name,
      owner: h.owner,
      token: h.token,
      mode: l.mode,
      expiresAtMs: this.holdExpiry(h),
      holdCount: h.holdCount,
    };
    if (h.sessionId !== null) v['sessionId'] = h.sessionId;
    return v as unknown as { ok: true; owner: string; token: number; mode: LockMode; expiresAtMs: number; holdCount: number; sessionId?: string } & CommandResult;
  }

  private lockHeld(l: MLock): CommandResult {
    const v: Record<string, unknown> = {
      ok: false,
      error: 'lock_held',
      name: l.name,
      holders: l.holders.slice(0, MAX_HOLDERS_IN_RESULT).map((h) => this.holderView(l, h)),
    };
    if (l.delayUntilMs > this.nowMs) v['lockDelayUntilMs'] = l.delayUntilMs;
    return v as unknown as CommandResult;
  }
}
