import { performance } from 'node:perf_hooks';

/**
 * monotonicNowMs is the client's clock for leases and deadlines: monotonic, so
 * a wall-clock step (NTP, a VM resume) can neither stretch nor shrink the time
 * the client believes its lease has left. Fractional milliseconds.
 */
export function monotonicNowMs(): number {
  return performance.now();
}
