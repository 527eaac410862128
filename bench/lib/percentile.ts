/**
 * percentile returns the nearest-rank percentile `p` (0..100) of `sorted`,
 * which must be sorted ascending; NaN for an empty array. Nearest-rank
 * (never interpolated) so that p100 is the maximum and every reported value
 * is one that was really observed.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be within 0..100, got ${p}`);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  // The epsilon keeps float noise (99.9 / 100 * 1000 = 999.0000000000001) from skipping a rank.
  const rank = Math.max(1, Math.ceil((p * n) / 100 - 1e-9));
  return sorted[Math.min(rank, n) - 1]!;
}

/** median is the middle value of `values` (the mean of the two middle ones for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = finite.length;
  if (n === 0) return Number.NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

/** LatencySummary is what the report shows of one latency distribution, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/** summarize sorts `samplesMs` in place (a typed array is cheap to sort) and summarizes it. */
export function summarize(samplesMs: Float64Array): LatencySummary {
  samplesMs.sort();
  let sum = 0;
  for (let i = 0; i < samplesMs.length; i++) sum += samplesMs[i]!;
  return {
    count: samplesMs.length,
    p50Ms: percentile(samplesMs, 50),
    p99Ms: percentile(samplesMs, 99),
    p999Ms: percentile(samplesMs, 99.9),
    maxMs: samplesMs.length === 0 ? Number.NaN : samplesMs[samplesMs.length - 1]!,
    meanMs: samplesMs.length === 0 ? Number.NaN : sum / samplesMs.length,
  };
}

/**
 * SampleBuffer collects latency samples into a growable Float64Array, bounded
 * by `capacity`: past it, reservoir sampling keeps a uniform sample so a long
 * run cannot exhaust memory while percentiles stay unbiased.
 */
export class SampleBuffer {
  private data: Float64Array;
  private size = 0;
  private seen = 0;
  private seed = 0x2545f491;

  constructor(private readonly capacity = 2_000_000) {
    if (!(capacity >= 1)) throw new RangeError('SampleBuffer: capacity must be at least 1');
    this.data = new Float64Array(Math.min(capacity, 4096));
  }

  add(valueMs: number): void {
    this.seen++;
    if (this.size < this.capacity) {
      if (this.size === this.data.length) {
        const grown = new Float64Array(Math.min(this.capacity, this.data.length * 2));
        grown.set(this.data);
        this.data = grown;
      }
      this.data[this.size++] = valueMs;
      return;
    }
    // Reservoir sampling (Algorithm R) with a cheap xorshift: deterministic, no Math.random needed.
    this.seed ^= this.seed << 13;
    this.seed ^= this.seed >>> 17;
    this.seed ^= this.seed << 5;
    const slot = (this.seed >>> 0) % this.seen;
    if (slot < this.capacity) this.data[slot] = valueMs;
  }

  /** count is how many samples were offered (not how many are kept). */
  get count(): number {
    return this.seen;
  }

  /** summary summarizes the kept samples. */
  summary(): LatencySummary {
    return summarize(this.data.slice(0, this.size));
  }
}
