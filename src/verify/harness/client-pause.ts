/**
 * Client pauses: the nemesis that freezes a lock-holding client past its lease,
 * the way a GC pause or a stalled VM does, and then lets it carry on with the
 * token it still believes in. Workloads call gate() at the points where a
 * pause hurts (between a fenced read and write; before renewing). The nemesis
 * posts one request at a time; the first client that reaches a gate while
 * holding a lock takes it and sleeps for its lease's TTL plus the extra time.
 */
import { sleep, type RunClock } from './run-clock.js';

/** HeldLease is what a client holds when it reaches a gate. */
export interface HeldLease {
  readonly key: string;
  readonly token: number;
  readonly ttlMs: number;
}

/** HolderPause is one executed pause, for the nemesis log. */
export interface HolderPause {
  readonly process: number | string;
  readonly key: string;
  readonly token: number;
  readonly startMs: number;
  readonly endMs: number;
}

interface PendingPause {
  readonly extraMs: number;
  readonly resolve: (p: HolderPause | null) => void;
  taken: boolean;
}

/** ClientPauses matches the nemesis's pause requests with clients that hold a lock. */
export class ClientPauses {
  private pending: PendingPause | null = null;

  constructor(private readonly clock: RunClock) {}

  /**
   * request asks the next holder reaching a gate to pause for ttl + extraMs.
   * Resolves when that pause has ended, or with null when no holder came within waitMs.
   */
  request(extraMs: number, waitMs: number): Promise<HolderPause | null> {
    if (this.pending !== null) throw new Error('ClientPauses: one pause request at a time');
    return new Promise((resolve) => {
      const p: PendingPause = { extraMs, resolve, taken: false };
      this.pending = p;
      setTimeout(() => {
        if (!p.taken && this.pending === p) {
          this.pending = null;
          resolve(null);
        }
      }, waitMs);
    });
  }

  /** gate pauses the calling client if a request is pending and it holds a lease. */
  async gate(process: number | string, held: HeldLease | null): Promise<void> {
    const p = this.pending;
    if (p === null || p.taken || held === null) return;
    p.taken = true;
    this.pending = null;
    const startMs = this.clock.nowMs();
    await sleep(held.ttlMs + p.extraMs);
    p.resolve({ process, key: held.key, token: held.token, startMs, endMs: this.clock.nowMs() });
  }
}
