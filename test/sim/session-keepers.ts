import type { NodeId, SeededRandom } from '../../src/raft/index.js';
import type { CommandResult, LockCommand } from '../../src/locks/index.js';
import type { SimCluster } from './cluster.js';
import { believedUntilMs } from './lock-workload.js';

/** How many simulated processes keep a session alive. */
const KEEPER_COUNT = 5;
/** Shares of answered keepalives after which the keeper stalls (a GC pause, a busy loop) or ends its session. */
const STALL_AFTER_ACK = 0.3;
const DELETE_AFTER_ACK = 0.03;

interface Keeper {
  readonly name: string;
  session: { readonly id: string; readonly ttlMs: number } | null;
  /** The member it talks to: the one that answered last, as the client library follows the leader it knows. */
  target: NodeId;
  seq: number;
}

function between(r: SeededRandom, lo: number, hi: number): number {
  return lo + r.nextInt(hi - lo + 1);
}

/**
 * SessionKeepers are processes that live on a session the way the client library keeps one (issue 14): a keepalive
 * every third of the ttl to the member that answered last, a new member when that one fails; sometimes they stall
 * for up to two ttls right after an answer, relying only on what they were told. Their beliefs go to the lock
 * checker (noteSessionAcked), whose lost-session check then holds the cluster to every keepalive it acknowledged,
 * whether through the log or from a leader's memory. Stalls are what expose a keepalive a deposed leader answered,
 * or one a crashed leader held only in memory: with no later keepalive to rescue it, the session must still live
 * as long as its client was told.
 */
export class SessionKeepers {
  private readonly keepers: Keeper[];

  constructor(
    private readonly cluster: SimCluster,
    private readonly r: SeededRandom,
  ) {
    this.keepers = Array.from({ length: KEEPER_COUNT }, (_, i) => ({ name: `k${i}`, session: null, target: cluster.ids[i % cluster.ids.length]!, seq: 0 }));
  }

  /** start plants each keeper's first step; they reschedule themselves until `untilMs`. */
  start(untilMs: number): void {
    for (const k of this.keepers) this.later(k, between(this.r, 1, 200), untilMs);
  }

  private later(k: Keeper, delayMs: number, untilMs: number): void {
    const atMs = this.cluster.nowMs + delayMs;
    if (atMs >= untilMs) return;
    this.cluster.at(atMs, `${k.name} session step`, () => this.step(k, untilMs));
  }

  private step(k: Keeper, untilMs: number): void {
    const checker = this.cluster.locksChecker;
    const session = k.session;
    const sentMs = this.cluster.nowMs;
    const to = k.target;
    const requestId = `${k.name}.${++k.seq}`;
    if (session === null) {
      const created = { id: `${k.name}.s${k.seq}`, ttlMs: between(this.r, 1000, 2000) };
      this.call(k, to, { type: 'createSession', sessionId: created.id, ttlMs: created.ttlMs, requestId }, (result) => {
        if (!result.ok || !('expiresAtMs' in result)) return this.later(k, 50, untilMs);
        k.session = created;
        checker.noteSessionAcked(created.id, believedUntilMs(sentMs, created.ttlMs, result.expiresAtMs - this.cluster.tableNowMs(to)));
        this.later(k, Math.floor(created.ttlMs / 3), untilMs);
      }, untilMs);
      return;
    }
    this.call(k, to, { type: 'keepalive', sessionId: session.id, requestId }, (result) => {
      if (!result.ok || !('expiresAtMs' in result)) {
        // The session is gone (the checker judges whether it was owed more): start a new one.
        k.session = null;
        return this.later(k, 10, untilMs);
      }
      checker.noteSessionAcked(session.id, believedUntilMs(sentMs, session.ttlMs, result.expiresAtMs - this.cluster.tableNowMs(to)));
      const x = this.r.next();
      if (x < DELETE_AFTER_ACK) {
        checker.noteSessionEnding(session.id);
        k.session = null;
        this.call(k, to, { type: 'deleteSession', sessionId: session.id }, () => {}, untilMs);
        return this.later(k, 10, untilMs);
      }
      const gapMs = x < DELETE_AFTER_ACK + STALL_AFTER_ACK ? between(this.r, Math.floor(session.ttlMs / 2), 2 * session.ttlMs) : Math.floor(session.ttlMs / 3);
      this.later(k, gapMs, untilMs);
    }, untilMs);
  }

  /** call sends one request to `to`; a failure (member down, not leader, timeout) moves the keeper to another member and retries soon. */
  private call(k: Keeper, to: NodeId, command: LockCommand, onResult: (result: CommandResult) => void, untilMs: number): void {
    const fail = (): void => {
      k.target = this.cluster.leader() ?? this.cluster.ids[this.r.nextInt(this.cluster.ids.length)]!;
      this.later(k, between(this.r, 10, 100), untilMs);
    };
    const sent = this.cluster.submit(to, command, (err, result) => {
      if (err !== null || result === undefined) return fail();
      if (!this.cluster.isAlive(to)) return; // answered by a member that crashed meanwhile: nobody hears it
      onResult(result);
    });
    if (!sent) fail();
  }
}
