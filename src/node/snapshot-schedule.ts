import { assert, type NodeId } from '../raft/index.js';

/**
 * Where each member takes its snapshots. Member k of n (in sorted id order) snapshots at k/n of each
 * `snapshotEveryEntries` interval, so no two members serialize and write their table at the same time. When a
 * majority did, every commit stalled (the old offset, a hash of the id, put n1, n2 and n3 one entry apart).
 */

/** snapshotPhase is member `id`'s offset within each interval of `every` entries, among `members` (it need not be one of them). */
export function snapshotPhase(members: readonly NodeId[], id: NodeId, every: number): number {
  const sorted = [...new Set([...members, id])].sort();
  return Math.floor((sorted.indexOf(id) * every) / sorted.length);
}

/** nextSnapshotIndex is the first index after `snapIndex` on this member's grid: `phase` plus a multiple of `every`. */
export function nextSnapshotIndex(snapIndex: number, phase: number, every: number): number {
  assert(every >= 1 && phase >= 0 && phase < every, `snapshot phase ${phase} must be within [0, ${every})`);
  const sincePhase = (((snapIndex - phase) % every) + every) % every;
  return snapIndex - sincePhase + every;
}
