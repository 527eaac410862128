import type { FastifyBaseLogger } from 'fastify';

/** How often a summary of refusals is logged while they keep coming. */
const SUMMARY_EVERY_MS = 10_000;

/**
 * RefusalLog counts refusals by reason (a connection over a cap, a timeout,
 * a bad token) for /metrics and logs them without letting a flood flood the
 * log: the first refusal of each reason is logged at once, later ones as one
 * summary line per SUMMARY_EVERY_MS with the counts since the last line.
 */
export class RefusalLog {
  private readonly totals = new Map<string, number>();
  private pending = new Map<string, number>();
  private lastDetail = new Map<string, unknown>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly logger: FastifyBaseLogger,
    /** What is refused, for the log message ("http limit", "http auth"). */
    private readonly what: string,
  ) {}

  /** hit counts one refusal for `reason`; `detail` (an address, a principal) goes into the log. */
  hit(reason: string, detail: Record<string, unknown> = {}): void {
    const first = !this.totals.has(reason);
    this.totals.set(reason, (this.totals.get(reason) ?? 0) + 1);
    if (first) {
      this.logger.warn({ reason, ...detail }, `${this.what}: ${reason}`);
      return;
    }
    this.pending.set(reason, (this.pending.get(reason) ?? 0) + 1);
    this.lastDetail.set(reason, detail);
    if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), SUMMARY_EVERY_MS);
      this.timer.unref();
    }
  }

  /** count counts one event of `reason` without logging it (routine ones, such as idle connections closed). */
  count(reason: string): void {
    this.totals.set(reason, (this.totals.get(reason) ?? 0) + 1);
  }

  /** counts are the totals by reason since the node started. */
  counts(): ReadonlyMap<string, number> {
    return this.totals;
  }

  /** close logs what is pending and stops the timer. */
  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.flush();
  }

  private flush(): void {
    this.timer = null;
    if (this.pending.size === 0) return;
    const counts = Object.fromEntries(this.pending);
    const last = Object.fromEntries(this.lastDetail);
    this.pending = new Map();
    this.lastDetail = new Map();
    this.logger.warn({ counts, last }, `${this.what}: refusals in the last ${SUMMARY_EVERY_MS / 1000} s`);
  }
}
