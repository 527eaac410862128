/**
 * The lock-linearizable workload: many clients acquire, renew, release and read
 * across at least 20 lock names, each operation recorded for the linearizability
 * checker. Every acquire uses a fresh owner name, so no grant is ever reentrant
 * (a reentrant hold would need as many releases as acquires, which the model of
 * one exclusive lease does not count) and an acquire of unknown outcome leaves at
 * most an orphaned lease that expires. TTLs are a few seconds: long enough that
 * expiry is rare, short enough that it happens (client pauses force it).
 */
import { SeededRandom } from '../../raft/index.js';
import { ClientPauses, type HeldLease } from './client-pause.js';
import type { LockClient } from './lock-client.js';
import { sleep, type RunClock } from './run-clock.js';
import type { Workload } from './workload.js';

/** LinearizableWorkloadOptions configures the workload. */
export interface LinearizableWorkloadOptions {
  readonly clients: readonly LockClient[];
  readonly keyCount: number;
  readonly seed: number;
  readonly clock: RunClock;
  /** Lease range of acquires and renews (default 2,000-4,000 ms). */
  readonly ttlMs?: readonly [number, number];
  /** The most locks one client holds at once (default 2). */
  readonly maxHeldPerClient?: number;
}

interface Held {
  readonly key: string;
  readonly owner: string;
  readonly token: number;
  ttlMs: number;
  /** Invocation time of the last operation known to have set the lease. */
  leaseSetMs: number;
  readonly releaseAfterMs: number;
}

/** lockNames are the workload's keys: lk-00, lk-01, ... */
export function lockNames(count: number, prefix = 'lk'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
}

/** LinearizableWorkload runs the clients. */
export class LinearizableWorkload implements Workload {
  readonly name = 'linearizable' as const;
  readonly keys: readonly string[];
  readonly maxTtlMs: number;
  readonly pauses: ClientPauses;
  readonly resource = null;
  readonly tally = null;
  private readonly ttlRange: readonly [number, number];

  constructor(private readonly opts: LinearizableWorkloadOptions) {
    if (opts.keyCount < 1) throw new Error('keyCount must be >= 1');
    this.keys = lockNames(opts.keyCount);
    this.ttlRange = opts.ttlMs ?? [2_000, 4_000];
    this.maxTtlMs = this.ttlRange[1];
    this.pauses = new ClientPauses(opts.clock);
  }

  async run(endMs: number): Promise<void> {
    const root = new SeededRandom(this.opts.seed);
    await Promise.all(this.opts.clients.map((c) => this.clientLoop(c, root.fork(), endMs)));
  }

  private ttl(rng: SeededRandom): number {
    const [lo, hi] = this.ttlRange;
    return lo + rng.nextInt(hi - lo + 1);
  }

  private async clientLoop(client: LockClient, rng: SeededRandom, endMs: number): Promise<void> {
    const { clock } = this.opts;
    const maxHeld = this.opts.maxHeldPerClient ?? 2;
    const held = new Map<string, Held>();
    let owners = 0;
    const pick = (): string => this.keys[rng.nextInt(this.keys.length)]!;
    // Bounded by time: every iteration performs at most one operation of bounded duration.
    while (clock.nowMs() < endMs) {
      const first = held.values().next();
      const lease: HeldLease | null = first.done === true ? null : { key: first.value.key, token: first.value.token, ttlMs: first.value.ttlMs };
      await this.pauses.gate(client.process, lease);
      if (clock.nowMs() >= endMs) break;
      const now = clock.nowMs();
      const due = [...held.values()].find((h) => now - h.leaseSetMs > h.ttlMs / 2);
      const done = [...held.values()].find((h) => now >= h.releaseAfterMs);
      const r = rng.next();
      if (due !== undefined) {
        await this.renew(client, due, this.ttl(rng), held);
      } else if (done !== undefined) {
        await this.release(client, done, held);
      } else if (r < 0.6) {
        if (held.size < maxHeld) {
          const key = pick();
          if (!held.has(key)) await this.acquire(client, key, `p${String(client.process)}-${++owners}`, this.ttl(rng), held, rng);
        } else {
          // At the holding limit: wait for a release to come due rather than flood reads.
          await sleep(50 + rng.nextInt(100));
        }
      } else if (r < 0.7 && held.size > 0) {
        // An extra renew, before it is due.
        const hs = [...held.values()];
        await this.renew(client, hs[rng.nextInt(hs.length)]!, this.ttl(rng), held);
      } else {
        await client.read(pick());
      }
      await sleep(rng.nextInt(30));
    }
  }

  private async acquire(client: LockClient, key: string, owner: string, ttlMs: number, held: Map<string, Held>, rng: SeededRandom): Promise<void> {
    const op = await client.acquire(key, owner, ttlMs);
    if (op.status === 'ok') {
      held.set(key, { key, owner, token: op.output.token, ttlMs, leaseSetMs: op.invokeMs, releaseAfterMs: op.completeMs + 50 + rng.nextInt(1_000) });
    }
  }

  private async renew(client: LockClient, h: Held, ttlMs: number, held: Map<string, Held>): Promise<void> {
    const op = await client.renew(h.key, h.owner, h.token, ttlMs);
    if (op.status === 'ok') {
      h.ttlMs = ttlMs;
      h.leaseSetMs = op.invokeMs;
    } else if (op.status === 'fail' && op.output.error === 'not_holder') {
      held.delete(h.key);
    } else if (op.status === 'unknown') {
      // The lease may be either; the shorter of the two bounds the next renew.
      h.ttlMs = Math.min(h.ttlMs, ttlMs);
    }
  }

  private async release(client: LockClient, h: Held, held: Map<string, Held>): Promise<void> {
    const op = await client.release(h.key, h.owner, h.token);
    // A refused release (no leader) was not applied: keep the lock and try again later.
    if (op.status === 'fail' && op.output.error !== 'not_holder') return;
    held.delete(h.key);
  }
}
