/**
 * LogShape is the bookkeeping both storage implementations share: where the
 * log starts and ends, the term of every stored index (as runs), the hard
 * state, and the lowest stored index including left-over entries below the
 * snapshot. It validates every save against the Raft invariants BEFORE
 * anything is written, so a bug upstream cannot turn into a store that later
 * refuses to load, and it plans which keys a save must delete.
 */

import type { ConfState, Entry, HardState, Snapshot, SnapshotMeta } from '../raft/types.js';

/** SaveBatch is what one Ready persists; a Ready object itself fits. */
export interface SaveBatch {
  readonly snapshot?: Snapshot | null;
  readonly entries?: readonly Entry[];
  readonly hardState?: HardState | null;
}

/** SavePlan lists the index ranges (inclusive) a save must delete. */
export interface SavePlan {
  /** Entries above the new last index that the save overwrites or discards: deleted in the same atomic batch. */
  readonly discard: { readonly lo: number; readonly hi: number } | null;
  /** Entries at or below the snapshot index (already ignored by load): deleted in bounded batches. */
  readonly garbage: { readonly lo: number; readonly hi: number } | null;
}

interface TermRun {
  start: number;
  readonly term: number;
}

function invariant(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(`raft storage invariant: ${message}`);
}

/** checkEntryShape asserts one entry is well-formed (the caller's bug otherwise). */
export function checkEntryShape(e: Entry): void {
  invariant(Number.isSafeInteger(e.index) && e.index >= 1, `entry index ${e.index} is not a positive integer`);
  invariant(Number.isSafeInteger(e.term) && e.term >= 1, `entry ${e.index} term ${e.term} is not a positive integer`);
  invariant(e.type === 'normal' || e.type === 'config', `entry ${e.index} has type ${String(e.type)}`);
  invariant(e.data instanceof Uint8Array, `entry ${e.index} data is not a Uint8Array`);
  invariant(e.type !== 'config' || (e.config !== undefined && isConfigShape(e.config)), `config entry ${e.index} lacks a well-formed configuration`);
  invariant(e.type !== 'normal' || e.config === undefined, `normal entry ${e.index} carries a config`);
}

function isStrings(v: unknown): boolean {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** isConfigShape: lists of voters and learners, and member records of strings (what the codec can store). */
function isConfigShape(c: ConfState): boolean {
  return isStrings(c.voters) && isStrings(c.learners) && Array.isArray(c.members) && c.members.every((m) => isStrings([m.id, m.peerAddress, m.httpUrl]));
}

/** LogShape tracks the stored log's bounds and terms; see the module comment. */
export class LogShape {
  private snap: SnapshotMeta;
  private last: number;
  private hard: HardState;
  /** Term runs for indexes snap.index+1 .. last, ascending by start; bounded by the number of terms in the log. */
  private runs: TermRun[];
  /** Lowest index that may still have a stored entry (<= snap.index+1; below it nothing is stored). */
  private floor: number;

  constructor(snapshotMeta: SnapshotMeta, hardState: HardState, entries: readonly Entry[], lowestStoredIndex: number) {
    this.snap = snapshotMeta;
    this.hard = hardState;
    this.runs = [];
    this.last = snapshotMeta.index;
    for (const e of entries) {
      invariant(e.index === this.last + 1, `loaded entry ${e.index} does not follow ${this.last}`);
      this.pushTerm(e.index, e.term);
      this.last = e.index;
    }
    this.floor = Math.min(lowestStoredIndex, snapshotMeta.index + 1);
  }

  get snapshotMeta(): SnapshotMeta {
    return this.snap;
  }
  get lastIndex(): number {
    return this.last;
  }
  get hardState(): HardState {
    return this.hard;
  }
  /** lowestStoredIndex is the lowest index that may still have a stored entry. */
  get lowestStoredIndex(): number {
    return this.floor;
  }

  /** termAt is the term of `index`, or null if it is below the snapshot or beyond the last entry. */
  termAt(index: number): number | null {
    if (index === this.snap.index) return this.snap.term;
    if (index < this.snap.index || index > this.last) return null;
    // Binary search for the last run starting at or before index.
    let lo = 0;
    let hi = this.runs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.runs[mid]!.start <= index) lo = mid;
      else hi = mid - 1;
    }
    const run = this.runs[lo];
    invariant(run !== undefined && run.start <= index, `no term run covers index ${index}`);
    return run.term;
  }

  private pushTerm(index: number, term: number): void {
    const tail = this.runs[this.runs.length - 1];
    if (tail === undefined || tail.term !== term) this.runs.push({ start: index, term });
  }

  private truncateRunsFrom(index: number): void {
    while (this.runs.length > 0 && this.runs[this.runs.length - 1]!.start >= index) this.runs.pop();
  }

  private dropRunsThrough(index: number): void {
    // Keep the run that covers index+1, restarting it there.
    let drop = 0;
    while (drop + 1 < this.runs.length && this.runs[drop + 1]!.start <= index + 1) drop++;
    this.runs.splice(0, drop);
    const head = this.runs[0];
    if (head !== undefined) {
      if (head.start <= index) head.start = index + 1;
      if (head.start > this.last) this.runs = [];
    }
  }

  /**
   * applySave validates `batch` against the current shape and, if valid,
   * updates the shape and returns what to delete. Throws (without changing
   * anything) when the batch breaks a Raft invariant.
   */
  applySave(batch: SaveBatch): SavePlan {
    const entries = batch.entries ?? [];
    const snapshot = batch.snapshot ?? null;
    const hardState = batch.hardState ?? null;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      checkEntryShape(e);
      if (i > 0) {
        const prev = entries[i - 1]!;
        invariant(e.index === prev.index + 1, `entries not contiguous: ${prev.index} then ${e.index}`);
        invariant(e.term >= prev.term, `entry terms decrease: ${prev.term} at ${prev.index}, ${e.term} at ${e.index}`);
      }
    }
    const first = entries[0];
    const lastNew = entries[entries.length - 1];

    // Where the log will start and what it builds on.
    let baseIndex: number;
    let baseTerm: number;
    if (snapshot !== null) {
      checkSnapshotShape(snapshot);
      invariant(snapshot.meta.index >= this.snap.index, `snapshot ${snapshot.meta.index} is older than the stored one ${this.snap.index}`);
      // Raft §7: a snapshot from the leader replaces the whole log (etcd's ApplySnapshot does the same).
      baseIndex = snapshot.meta.index;
      baseTerm = snapshot.meta.term;
      invariant(first === undefined || first.index === baseIndex + 1, `entries after a snapshot at ${baseIndex} start at ${first?.index}`);
    } else if (first !== undefined) {
      invariant(first.index > this.snap.index && first.index <= this.last + 1,
        `entries start at ${first.index}, outside ${this.snap.index + 1}..${this.last + 1}`);
      baseIndex = first.index - 1;
      baseTerm = this.termAt(baseIndex)!;
      // Raft §5.3/§5.4: an entry may be overwritten only if not committed; an
      // identical (same index and term) entry is the same entry (Log Matching).
      const overlapEnd = Math.min(this.last, this.hard.commit, lastNew!.index);
      for (let i = first.index; i <= overlapEnd; i++) {
        const e = entries[i - first.index]!;
        invariant(this.termAt(i) === e.term, `entry ${i} (term ${e.term}) would overwrite a committed entry of term ${this.termAt(i)}`);
      }
    } else {
      baseIndex = this.last;
      baseTerm = this.termAt(this.last)!;
    }
    invariant(first === undefined || first.term >= baseTerm, `entry ${first?.index} term ${first?.term} is below the term ${baseTerm} before it`);
    const newLast = lastNew !== undefined ? lastNew.index : snapshot !== null ? baseIndex : this.last;

    if (hardState !== null) {
      invariant(Number.isSafeInteger(hardState.term) && hardState.term >= this.hard.term,
        `hard state term goes from ${this.hard.term} to ${hardState.term}`);
      invariant(hardState.term > this.hard.term || this.hard.vote === null || hardState.vote === this.hard.vote,
        `vote in term ${hardState.term} changes from ${this.hard.vote} to ${hardState.vote}`);
      invariant(hardState.vote === null || typeof hardState.vote === 'string', 'vote is neither null nor a node id');
      invariant(Number.isSafeInteger(hardState.commit) && hardState.commit >= this.hard.commit,
        `commit goes from ${this.hard.commit} to ${hardState.commit}`);
    }
    const newCommit = hardState?.commit ?? this.hard.commit;
    invariant(newCommit <= newLast, `commit ${newCommit} would exceed the last index ${newLast}`);

    // Plan the deletions. Stored keys are exactly [floor, last].
    const discardLo = Math.max(newLast, snapshot?.meta.index ?? 0) + 1;
    const discard = discardLo <= this.last ? { lo: discardLo, hi: this.last } : null;
    const newSnapIndex = snapshot?.meta.index ?? this.snap.index;
    const garbageHi = Math.min(newSnapIndex, this.last);
    const garbage = this.floor <= garbageHi ? { lo: this.floor, hi: garbageHi } : null;

    // Commit the new shape.
    if (snapshot !== null) {
      this.snap = snapshot.meta;
      this.runs = [];
      this.last = snapshot.meta.index;
    } else if (first !== undefined) {
      this.truncateRunsFrom(first.index);
      this.last = first.index - 1;
    }
    for (const e of entries) {
      this.pushTerm(e.index, e.term);
      this.last = e.index;
    }
    if (hardState !== null) this.hard = hardState;
    this.floor = this.snap.index + 1;
    return { discard, garbage };
  }

  /**
   * applySnapshot validates a locally taken snapshot (log compaction, Raft §7)
   * and returns the range of entries it makes garbage. Entries after it stay.
   */
  applySnapshot(snapshot: Snapshot): SavePlan {
    checkSnapshotShape(snapshot);
    const { index, term } = snapshot.meta;
    invariant(index >= this.snap.index, `snapshot ${index} is older than the stored one ${this.snap.index}`);
    invariant(index <= this.last, `snapshot ${index} is beyond the last index ${this.last}`);
    invariant(this.termAt(index) === term, `snapshot ${index} has term ${term} but the log has ${this.termAt(index)}`);
    const garbage = this.floor <= index ? { lo: this.floor, hi: index } : null;
    this.dropRunsThrough(index);
    this.snap = snapshot.meta;
    this.floor = index + 1;
    return { discard: null, garbage };
  }
}

/** checkSnapshotShape asserts a snapshot is well-formed. */
export function checkSnapshotShape(s: Snapshot): void {
  const m = s.meta;
  invariant(Number.isSafeInteger(m.index) && m.index >= 0, `snapshot index ${m.index}`);
  invariant(Number.isSafeInteger(m.term) && m.term >= 0, `snapshot term ${m.term}`);
  invariant(isConfigShape(m.config), 'snapshot config is not well-formed');
  invariant(s.data instanceof Uint8Array, 'snapshot data is not a Uint8Array');
}
