/**
 * The toy resource of the fenced workloads: counters kept inside the harness,
 * behind an async boundary, that a lock holder reads, increments and writes back
 * with its fencing token. Fenced, it remembers the highest token it has seen per
 * counter and rejects any read or write with a lower one, so a holder whose lease
 * ran out cannot overwrite its successor's work (Kleppmann's fencing). Unfenced
 * (the negative control), it accepts everything, and a paused holder's late write
 * loses the increments made meanwhile.
 *
 * Reads are fenced too: a successor's read raises the bar before the stale
 * holder writes, which closes the read-modify-write race that fencing writes alone
 * would leave open.
 */
import type { ResourceWrite } from '../fencing-checker.js';
import type { RunClock } from './run-clock.js';

/** ResourceReadResult is a fenced read: the value, or a rejection. */
export type ResourceReadResult = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly highest: number };

/** MAX_RESOURCE_LOG bounds the write log. */
const MAX_RESOURCE_LOG = 1_000_000;

function asyncBoundary(): Promise<void> {
  return new Promise((done) => setImmediate(done));
}

/** ToyResource is a set of fenced (or unfenced) counters. */
export class ToyResource {
  private readonly values = new Map<string, number>();
  private readonly highest = new Map<string, number>();
  /** Every write in processing order, accepted or not. */
  readonly writes: ResourceWrite[] = [];
  acceptedWrites = 0;
  rejectedWrites = 0;
  rejectedReads = 0;

  constructor(
    readonly fenced: boolean,
    private readonly clock: RunClock,
  ) {}

  /** read returns the counter, registering `token` as seen; a fenced resource rejects a stale token. */
  async read(key: string, token: number): Promise<ResourceReadResult> {
    await asyncBoundary();
    const hi = this.highest.get(key) ?? 0;
    if (this.fenced && token < hi) {
      this.rejectedReads++;
      return { ok: false, highest: hi };
    }
    if (token > hi) this.highest.set(key, token);
    return { ok: true, value: this.values.get(key) ?? 0 };
  }

  /** write stores `value` unless (fenced) `token` is lower than the highest seen. */
  async write(key: string, value: number, token: number): Promise<boolean> {
    await asyncBoundary();
    const hi = this.highest.get(key) ?? 0;
    const accepted = !this.fenced || token >= hi;
    if (accepted) {
      this.values.set(key, value);
      if (token > hi) this.highest.set(key, token);
      this.acceptedWrites++;
    } else {
      this.rejectedWrites++;
    }
    if (this.writes.length < MAX_RESOURCE_LOG) this.writes.push({ key, token, atMs: this.clock.nowMs(), accepted });
    return accepted;
  }

  /** value is one counter's current value. */
  value(key: string): number {
    return this.values.get(key) ?? 0;
  }

  /** total is the sum of every counter. */
  total(): number {
    let t = 0;
    for (const v of this.values.values()) t += v;
    return t;
  }
}
