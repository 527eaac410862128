/**
 * The fenced-resource workload and its negative control.
 *
 * Holders do a slow read-modify-write of a counter in the harness's ToyResource:
 * acquire the lock, read the counter with the token, sleep, write counter+1 with
 * the token, release. The client pause nemesis freezes a holder between its read
 * and its write for longer than its lease, so another client takes the lock and
 * increments meanwhile; the stale holder then resumes and writes.
 *
 * - fenced: the resource rejects the stale token, so the final counter equals the
 *   number of acknowledged (accepted) increments.
 * - control: the resource accepts everything, so the stale write overwrites and
 *   increments are lost. A control run that loses nothing proves the nemesis did
 *   not bite, and fails.
 */
import { SeededRandom } from '../../raft/index.js';
import { ClientPauses } from './client-pause.js';
import type { LockClient } from './lock-client.js';
import { ToyResource } from './resource-server.js';
import { sleep, type RunClock } from './run-clock.js';
import { lockNames } from './workload-linearizable.js';
import type { CounterTally, Workload } from './workload.js';

/** FencedWorkloadOptions configures the workload. */
export interface FencedWorkloadOptions {
  readonly clients: readonly LockClient[];
  /** false: the negative control (the resource ignores tokens). */
  readonly fenced: boolean;
  readonly keyCount: number;
  readonly seed: number;
  readonly clock: RunClock;
  /** Lease of every acquire (default 1,500 ms). */
  readonly ttlMs?: number;
  /** The "slow" part of the read-modify-write, [min, max] (default 30-150 ms). */
  readonly workMs?: readonly [number, number];
}

/** FencedWorkload runs the holders. */
export class FencedWorkload implements Workload {
  readonly name: 'fenced' | 'control';
  readonly keys: readonly string[];
  readonly maxTtlMs: number;
  readonly pauses: ClientPauses;
  readonly resource: ToyResource;
  readonly tally: CounterTally = { acknowledged: 0, rejected: 0, abandoned: 0 };

  constructor(private readonly opts: FencedWorkloadOptions) {
    if (opts.keyCount < 1) throw new Error('keyCount must be >= 1');
    this.name = opts.fenced ? 'fenced' : 'control';
    this.keys = lockNames(opts.keyCount, 'res');
    this.maxTtlMs = opts.ttlMs ?? 1_500;
    this.pauses = new ClientPauses(opts.clock);
    this.resource = new ToyResource(opts.fenced, opts.clock);
  }

  async run(endMs: number): Promise<void> {
    const root = new SeededRandom(this.opts.seed);
    await Promise.all(this.opts.clients.map((c) => this.clientLoop(c, root.fork(), endMs)));
  }

  private async clientLoop(client: LockClient, rng: SeededRandom, endMs: number): Promise<void> {
    const { clock } = this.opts;
    const ttlMs = this.maxTtlMs;
    const [workMin, workMax] = this.opts.workMs ?? [30, 150];
    let owners = 0;
    // Bounded by time: one bounded read-modify-write per iteration.
    while (clock.nowMs() < endMs) {
      const key = this.keys[rng.nextInt(this.keys.length)]!;
      const owner = `p${String(client.process)}-${++owners}`;
      const acq = await client.acquire(key, owner, ttlMs);
      if (acq.status !== 'ok') {
        await sleep(10 + rng.nextInt(50));
        continue;
      }
      const token = acq.output.token;
      const read = await this.resource.read(key, token);
      if (read.ok) {
        await sleep(workMin + rng.nextInt(workMax - workMin + 1));
        // The pause point: a GC pause here outlives the lease.
        await this.pauses.gate(client.process, { key, token, ttlMs });
        if (await this.resource.write(key, read.value + 1, token)) this.tally.acknowledged++;
        else this.tally.rejected++;
      } else {
        this.tally.abandoned++;
      }
      await client.release(key, owner, token);
    }
  }
}
