/** HoldInterval is one client's hold of one exclusive lock, on the load process's monotonic clock (ms). */
export interface HoldInterval {
  readonly lock: string;
  readonly client: number;
  /** When the acquire's success answer arrived. */
  readonly startMs: number;
  /** When the release request was about to be sent (or the last instant the client relied on the lock). */
  readonly endMs: number;
}

/** OverlapViolation is two clients holding one exclusive lock at once. */
export interface OverlapViolation {
  readonly lock: string;
  readonly first: HoldInterval;
  readonly second: HoldInterval;
  readonly overlapMs: number;
}

/**
 * findOverlaps returns every pair of intervals of different clients on the
 * same lock that overlap by more than zero (up to `maxReported`, and the
 * total count). Because each interval starts when the grant ARRIVED and ends
 * when the release was SENT, a correct server can never produce an overlap:
 * the next grant is issued only after the server processed the release.
 * Sweep per lock in start order against the interval with the latest end
 * seen so far: O(n log n).
 */
export function findOverlaps(intervals: readonly HoldInterval[], maxReported = 20): { total: number; violations: OverlapViolation[] } {
  const byLock = new Map<string, HoldInterval[]>();
  for (const iv of intervals) {
    if (!(iv.endMs >= iv.startMs)) throw new RangeError(`findOverlaps: interval of client ${iv.client} on ${iv.lock} ends before it starts`);
    let list = byLock.get(iv.lock);
    if (list === undefined) {
      list = [];
      byLock.set(iv.lock, list);
    }
    list.push(iv);
  }
  const violations: OverlapViolation[] = [];
  let total = 0;
  for (const [lock, list] of byLock) {
    list.sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs);
    let latest: HoldInterval | null = null;
    for (const iv of list) {
      if (latest !== null && iv.startMs < latest.endMs && iv.client !== latest.client) {
        total++;
        if (violations.length < maxReported) violations.push({ lock, first: latest, second: iv, overlapMs: Math.min(latest.endMs, iv.endMs) - iv.startMs });
      }
      if (latest === null || iv.endMs > latest.endMs) latest = iv;
    }
  }
  return { total, violations };
}

/**
 * countOvertakes measures FIFO fairness of a contended lock: a grant
 * "overtakes" when some other request that started more than `slackMs`
 * earlier was granted later. With FIFO queueing the count stays near zero
 * (only requests racing on the wire can swap); with retry loops it is high.
 */
export function countOvertakes(grants: readonly { requestedMs: number; grantedMs: number }[], slackMs: number): number {
  const sorted = [...grants].sort((a, b) => a.grantedMs - b.grantedMs);
  let overtakes = 0;
  let minLaterRequestMs = Infinity;
  // Walk from the last grant back: minLaterRequestMs is the earliest request among grants after this one.
  for (let i = sorted.length - 1; i >= 0; i--) {
    const g = sorted[i]!;
    if (minLaterRequestMs < g.requestedMs - slackMs) overtakes++;
    minLaterRequestMs = Math.min(minLaterRequestMs, g.requestedMs);
  }
  return overtakes;
}
