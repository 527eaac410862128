import { CHECKPOINT_SESSIONS_MAX, type CommandResult, type LeaseTable, type LockCommand } from '../locks/index.js';
import { assert } from '../raft/index.js';

/** How a keepalive's answer is delivered: (null, result) or the error (not leader, read timeout, overloaded). */
export type KeepaliveDone = (err: Error | null, result?: CommandResult) => void;

/** What SessionKeepalives needs of its lock service and host: all calls on the leader's one thread. */
export interface SessionKeepaliveDeps {
  /** The lease table as applied here (restore replaces it, so it is asked for each time). */
  table(): LeaseTable;
  /** proposes a command stamped with the leader's table time; `done` runs once it applied here, or failed. */
  propose(command: LockCommand, done: (err: Error | null, result?: CommandResult) => void): void;
  /**
   * confirmLeadership calls `done(null)` once a quorum confirmed, after this call, that this node still leads
   * (ReadIndex, thesis §6.4: one heartbeat round confirms a whole batch), or with the error.
   */
  confirmLeadership(done: (err: Error | null) => void): void;
}

/**
 * SessionKeepalives keeps session keepalives off the disk (issue 14, etcd's lessor): the leader answers a keepalive
 * from memory, holding the new expiry in an overlay beside the replicated table, and writes overlays into the log
 * (`checkpointSessions`, batched) only before a stored expiry would come due. Every replica's table stays a pure
 * function of the log; only the leader's decisions read the overlay.
 *
 * Why this is safe, for a client that believes its session from when it sent the keepalive for ttlMs (less the
 * drift margin):
 * - **This leader** never proposes `expire` while a session's stored expiry is due and its overlay is not
 *   (`mayExpire`), and writes the overlay when the keepalive arrives, before confirming leadership, so an expiry
 *   proposed meanwhile sees it.
 * - **A later leader** resets every session to at least its full ttl from that leader's base before it proposes any
 *   expiry (`restartSessionLeases`, a command). Its base is taken after it was elected, and it was elected after a
 *   quorum confirmed this leader's term after the keepalive arrived, because a keepalive is answered only after
 *   that confirmation (`confirmLeadership`). So the reset lasts past the client's belief. Without the confirmation a
 *   deposed leader could answer a keepalive after the new leader's reset: the test/sim broken variant
 *   `keepalive-without-confirm`; without the reset, the overlay's keepalives die with their leader:
 *   `no-session-restart`.
 * - **Before the reset applied** the new leader already knows what it will do (every session lives to at least
 *   base + ttl) and judges keepalives by that, so no session is refused across a leader change.
 *
 * Bounded: the overlay holds only sessions whose keepalive is not yet in the log (dirty, or in a checkpoint in
 * flight); each checkpoint names at most CHECKPOINT_SESSIONS_MAX sessions.
 */
export class SessionKeepalives {
  /** The overlay: sessions' in-memory expiries (table time) that the log may not have yet. */
  private readonly expiries = new Map<string, number>();
  /** Sessions of the overlay that no checkpoint has carried yet. */
  private readonly dirty = new Set<string>();
  /** A lower bound of the stored expiries of the dirty sessions: when it comes near, they are checkpointed. */
  private dirtyFloorMs = Number.POSITIVE_INFINITY;
  private checkpointsInFlight = 0;
  /** Table time of the last checkpoint this term. */
  private lastCheckpointMs = Number.NEGATIVE_INFINITY;
  private entriesInFlight = 0;
  /** The term this state belongs to; another term starts empty. */
  private term = 0;
  /** Bumped whenever the state is dropped, so late callbacks of an earlier term change nothing. */
  private epoch = 0;
  /** The table time of this term's base: until the reset applied, every session lives at least to it + its ttl. */
  private baseMs = 0;
  // Stryker disable next-line BooleanLiteral: startTerm() sets it through drop() before anything reads it
  private restarted = false;
  // Stryker disable next-line BooleanLiteral: startTerm() sets it through drop() before anything reads it
  private restartInFlight = false;
  readonly counters = { inMemory: 0, checkpoints: 0, checkpointedSessions: 0, restarts: 0 };

  constructor(
    private readonly deps: SessionKeepaliveDeps,
    /** Checkpoint once a dirty session's stored expiry is this close to table time. */
    private readonly lookaheadMs: number,
  ) {}

  /** startTerm: this node leads `term` and took its lease time base (table time `baseMs`); proposes the reset. */
  startTerm(term: number, baseMs: number): void {
    this.drop();
    this.term = term;
    this.baseMs = baseMs;
  }

  /** drop forgets everything: this node stopped leading (the next leader resets every session anyway). */
  drop(): void {
    this.expiries.clear();
    this.dirty.clear();
    this.dirtyFloorMs = Number.POSITIVE_INFINITY;
    this.checkpointsInFlight = 0;
    this.lastCheckpointMs = Number.NEGATIVE_INFINITY;
    this.entriesInFlight = 0;
    this.restarted = false;
    this.restartInFlight = false;
    this.term = 0;
    // Stryker disable next-line UpdateOperator: counting down changes the epoch as well, and never back to an earlier value
    this.epoch++;
  }

  /** leads says whether this state belongs to `term` (its base is known). */
  leads(term: number): boolean {
    return this.term !== 0 && this.term === term;
  }

  /**
   * keepalive answers a keepalive of `sessionId` at table time `nowMs` from memory. The leader must lead `term`
   * with a base (`leads`). The answer waits for a quorum's confirmation that this node still leads.
   */
  keepalive(sessionId: string, nowMs: number, done: KeepaliveDone): void {
    assert(this.term !== 0, 'in-memory keepalive without a term');
    const lease = this.deps.table().sessionLease(sessionId);
    if (lease === null || this.expiryOf(sessionId, lease) <= nowMs) {
      this.deps.confirmLeadership(() => done(null, { ok: false, error: 'session_not_found', sessionId }));
      return;
    }
    const ttlMs = lease.ttlMs;
    const expiresAtMs = nowMs + ttlMs;
    // Written before the confirmation: an expiry proposed meanwhile must already see it (mayExpire).
    this.raise(sessionId, expiresAtMs, lease.expiresAtMs);
    this.counters.inMemory++;
    this.deps.confirmLeadership((err) => {
      if (err !== null) return done(err);
      if (this.deps.table().sessionLease(sessionId) === null) return done(null, { ok: false, error: 'session_not_found', sessionId });
      done(null, { ok: true, sessionId, ttlMs, expiresAtMs });
    });
  }

  /** expiresAtMs is a session's expiry as this leader knows it (overlay, pending reset), or null when it is unknown. */
  expiresAtMs(sessionId: string): number | null {
    const lease = this.deps.table().sessionLease(sessionId);
    return lease === null ? null : this.term === 0 ? lease.expiresAtMs : this.expiryOf(sessionId, lease);
  }

  /**
   * prepareExpiry runs before the leader proposes `expire` at table time `nowMs`: it proposes the reset or a
   * checkpoint when one is due, and says whether an expiry may be proposed now. It may not while the reset has not
   * applied, while a checkpoint is in flight, or while a dirty session's stored expiry may be due.
   */
  prepareExpiry(nowMs: number): boolean {
    if (!this.restarted) {
      this.proposeRestart();
      return false;
    }
    // Every dirty session goes into the checkpoint, not only the due ones, and checkpoints are at least a quarter
    // lookahead apart: a few large entries a second rather than one small entry per expiry check.
    const due =
      this.dirtyFloorMs <= nowMs + this.lookaheadMs &&
      this.checkpointsInFlight === 0 &&
      // Stryker disable next-line ConditionalExpression,EqualityOperator: the dirty set is empty exactly when dirtyFloorMs is +Infinity (raise, redirty, checkpoint, drop), which the first check rejects
      this.dirty.size > 0;
    if (due && nowMs - this.lastCheckpointMs >= this.lookaheadMs / 4) {
      this.lastCheckpointMs = nowMs;
      this.checkpoint();
    }
    return this.checkpointsInFlight === 0 && this.dirtyFloorMs > nowMs;
  }

  private expiryOf(sessionId: string, lease: { readonly ttlMs: number; readonly expiresAtMs: number }): number {
    const overlay = this.expiries.get(sessionId) ?? 0;
    const restartFloor = this.restarted ? 0 : this.baseMs + lease.ttlMs;
    return Math.max(lease.expiresAtMs, overlay, restartFloor);
  }

  private raise(sessionId: string, expiresAtMs: number, storedMs: number): void {
    if (expiresAtMs <= storedMs || expiresAtMs <= (this.expiries.get(sessionId) ?? 0)) return;
    this.expiries.set(sessionId, expiresAtMs);
    this.dirty.add(sessionId);
    // Stryker disable next-line EqualityOperator: with <= an equal floor is set to the same value
    if (storedMs < this.dirtyFloorMs) this.dirtyFloorMs = storedMs;
    assert(this.expiries.size <= this.dirty.size + this.entriesInFlight, 'an overlay entry neither dirty nor in a checkpoint');
  }

  private proposeRestart(): void {
    if (this.restartInFlight) return;
    this.restartInFlight = true;
    const epoch = this.epoch;
    this.deps.propose({ type: 'restartSessionLeases' }, (err) => {
      if (epoch !== this.epoch) return;
      this.restartInFlight = false;
      if (err !== null) return; // proposed again on the next expiry check
      this.restarted = true;
      this.counters.restarts++;
    });
  }

  /** checkpoint writes every dirty session's overlay into the log, CHECKPOINT_SESSIONS_MAX a command. */
  private checkpoint(): void {
    const epoch = this.epoch;
    let batch: [string, number][] = [];
    const send = (): void => {
      const sent = batch;
      batch = [];
      this.checkpointsInFlight++;
      this.entriesInFlight += sent.length;
      this.counters.checkpoints++;
      this.deps.propose({ type: 'checkpointSessions', sessions: sent }, (err) => {
        if (epoch !== this.epoch) return;
        this.checkpointsInFlight--;
        // Stryker disable next-line AssignmentOperator: entriesInFlight feeds only the invariant assertion in raise(), which a larger count cannot fail
        this.entriesInFlight -= sent.length;
        for (const [id, atMs] of sent) {
          // A newer keepalive: still dirty. Either half implies the other (only raise() changes an overlay in flight, and
          // it marks the session dirty), so the halves' own mutants are equivalent; the whole condition's are killed by
          // test/node/session-keepalives.test.ts (checked by hand: they share this line).
          // Stryker disable next-line ConditionalExpression,LogicalOperator: see above
          if (this.expiries.get(id) !== atMs || this.dirty.has(id)) continue;
          if (err === null) this.expiries.delete(id);
          else this.redirty(id);
        }
        if (err === null) this.counters.checkpointedSessions += sent.length;
      });
    };
    for (const id of this.dirty) {
      const atMs = this.expiries.get(id);
      // Stryker disable next-line ConditionalExpression: raise() gives every dirty session an overlay, and an overlay goes only when its session is not dirty (a checkpoint applied) or with the dirty set (drop); kept for the type
      if (atMs === undefined) continue;
      batch.push([id, atMs]);
      if (batch.length === CHECKPOINT_SESSIONS_MAX) send();
    }
    if (batch.length > 0) send();
    this.dirty.clear();
    this.dirtyFloorMs = Number.POSITIVE_INFINITY;
  }

  /** redirty: a failed checkpoint's session is dirty again, due at once (its stored expiry is unknown here). */
  private redirty(sessionId: string): void {
    this.dirty.add(sessionId);
    this.dirtyFloorMs = 0;
  }
}
