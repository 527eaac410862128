import type { ConfState, Entry, Snapshot, SnapshotMeta } from './types.js';
import { assert } from './invariant.js';
import { checkConfState } from './configuration.js';

/** entryBytes is the size counted against batch and queue bounds: the payload plus a fixed overhead for index, term and framing. */
export function entryBytes(entry: Entry): number {
  return entry.data.length + 24;
}

/** configEntry checks a config entry's configuration as it enters a log: a malformed one must never take effect. */
function configEntry(entry: Entry): Entry {
  assert(entry.config !== undefined, () => `config entry ${entry.index} carries no configuration`);
  checkConfState(entry.config);
  return entry;
}

/**
 * RaftLog is a node's log in memory: the snapshot point it starts after, the
 * entries beyond it, and three cursors that track what the host has made
 * durable (stableIndex), what has been handed to the host but is not yet
 * durable (unsentFrom), and what is committed and applied.
 *
 * Invariants: snapshotIndex <= applied <= committed <= lastIndex;
 * stableIndex <= lastIndex; entries are contiguous from snapshotIndex + 1 with
 * non-decreasing terms.
 */
export class RaftLog {
  private snapshotMeta: SnapshotMeta;
  private log: Entry[];
  /** Config entries still in `log`, in index order; the last one is the current configuration (thesis §4.1: use the latest, committed or not). */
  private configEntries: Entry[] = [];
  committed: number;
  applied: number;
  /** Highest index handed out in a Ready for applying and not yet confirmed by advance(). */
  applying: number;
  /** Highest index known durable on this node's disk. */
  stableIndex: number;
  /** First index not yet handed to the host for persisting. */
  unsentFrom: number;
  /** A snapshot received from the leader, to be persisted and installed by the host. */
  pendingSnapshot: Snapshot | null = null;

  constructor(snapshotMeta: SnapshotMeta, entries: readonly Entry[], committed: number) {
    this.snapshotMeta = snapshotMeta;
    this.log = [...entries];
    for (let i = 0; i < this.log.length; i++) {
      const entry = this.log[i]!;
      assert(entry.index === snapshotMeta.index + 1 + i, () => `log gap: expected index ${snapshotMeta.index + 1 + i}, got ${entry.index}`);
      const previousTerm = i === 0 ? snapshotMeta.term : this.log[i - 1]!.term;
      assert(entry.term >= previousTerm, () => `log terms go back at index ${entry.index}`);
      if (entry.type === 'config') this.configEntries.push(configEntry(entry));
    }
    this.committed = Math.max(committed, snapshotMeta.index);
    assert(this.committed <= this.lastIndex(), () => `commit ${committed} beyond last index ${this.lastIndex()}`);
    this.applied = snapshotMeta.index;
    this.applying = snapshotMeta.index;
    this.stableIndex = this.lastIndex();
    this.unsentFrom = this.lastIndex() + 1;
  }

  get snapshot(): SnapshotMeta {
    return this.snapshotMeta;
  }

  firstIndex(): number {
    return this.snapshotMeta.index + 1;
  }

  lastIndex(): number {
    return this.snapshotMeta.index + this.log.length;
  }

  lastTerm(): number {
    return this.log.length === 0 ? this.snapshotMeta.term : this.log[this.log.length - 1]!.term;
  }

  /** term returns the term of the entry at index, or null when it is compacted away or beyond the end. */
  term(index: number): number | null {
    if (index === this.snapshotMeta.index) return this.snapshotMeta.term;
    if (index < this.snapshotMeta.index || index > this.lastIndex()) return null;
    return this.log[index - this.snapshotMeta.index - 1]!.term;
  }

  entryAt(index: number): Entry {
    const entry = this.log[index - this.snapshotMeta.index - 1];
    assert(entry !== undefined && entry.index === index, () => `no entry at ${index} (first ${this.firstIndex()}, last ${this.lastIndex()})`);
    return entry;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  config(): ConfState {
    const latest = this.configEntries[this.configEntries.length - 1];
    return latest?.config ?? this.snapshotMeta.config;
  }

  /** configIndex is where the current configuration comes from: its config entry's index, else the snapshot's. */
  configIndex(): number {
    return this.configEntries[this.configEntries.length - 1]?.index ?? this.snapshotMeta.index;
  }

  /** configAt returns the configuration in force at index (the latest config entry at or before it). */
  configAt(index: number): ConfState {
    let config = this.snapshotMeta.config;
    // Config entries are few (one change at a time, and compaction drops the old ones), so a scan is cheap.
    for (const entry of this.configEntries) {
      if (entry.index > index) break;
      config = entry.config!;
    }
    return config;
  }

  /** isUpToDate is Raft §5.4.1: a candidate's log is at least as up-to-date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** slice returns entries [lo, hi] (inclusive), at least one when lo <= hi, then as many as fit in maxBytes. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo >= this.firstIndex(), () => `slice from ${lo} below first index ${this.firstIndex()}`);
    const end = Math.min(hi, this.lastIndex());
    const out: Entry[] = [];
    let bytes = 0;
    for (let index = lo; index <= end; index++) {
      const entry = this.log[index - this.snapshotMeta.index - 1]!;
      bytes += entryBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  /** append adds entries at the end (leader path). */
  append(entries: readonly Entry[]): void {
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, () => `append at ${entry.index}, expected ${this.lastIndex() + 1}`);
      assert(entry.term >= this.lastTerm(), () => `append of term ${entry.term} after term ${this.lastTerm()}`);
      this.log.push(entry);
      if (entry.type === 'config') this.configEntries.push(configEntry(entry));
    }
  }

  /**
   * maybeAppend is the follower side of AppendEntries (Raft §5.3, Figure 2
   * receiver rules 2-5). It returns the index of the last new entry, or null
   * when the log does not contain prevIndex with prevTerm.
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, entries: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      // Raft §5.3: an existing entry that conflicts with a new one is deleted with all that follow it;
      // a conflict index past our end just means new entries.
      assert(conflict > this.committed, () => `conflict at ${conflict} would truncate committed entries (commit ${this.committed})`);
      const from = conflict - entries[0]!.index;
      if (conflict <= this.lastIndex()) this.truncateFrom(conflict);
      this.append(entries.slice(from));
    }
    // Raft Figure 2, AppendEntries receiver rule 5: commit up to min(leaderCommit, index of last new entry).
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /** findConflict returns the first index whose entry differs from ours (or is new), 0 when all are present. */
  private findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (entry.index < this.firstIndex()) continue; // compacted: already committed, hence matching
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * findConflictByTerm returns the largest index <= index whose term is <= term
   * (or the snapshot index). A follower uses it to hint where its log may match
   * the leader's, and the leader to skip a whole conflicting term at once.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    while (i > this.snapshotMeta.index) {
      const t = this.term(i)!;
      if (t <= term) return { index: i, term: t };
      i--;
    }
    return { index: this.snapshotMeta.index, term: this.snapshotMeta.term };
  }

  private truncateFrom(index: number): void {
    assert(index > this.snapshotMeta.index && index <= this.lastIndex(), () => `truncate at ${index} outside the log`);
    this.log.length = index - this.snapshotMeta.index - 1;
    while (this.configEntries.length > 0 && this.configEntries[this.configEntries.length - 1]!.index >= index) this.configEntries.pop();
    this.stableIndex = Math.min(this.stableIndex, index - 1);
    this.unsentFrom = Math.min(this.unsentFrom, index);
  }

  commitTo(index: number): void {
    if (index <= this.committed) return; // commit never goes back
    assert(index <= this.lastIndex(), () => `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** unsentEntries returns the entries the host has not yet been asked to persist, and marks them handed out. */
  takeUnsentEntries(): Entry[] {
    if (this.unsentFrom > this.lastIndex()) return [];
    const from = Math.max(this.unsentFrom, this.firstIndex());
    const out = this.log.slice(from - this.snapshotMeta.index - 1);
    this.unsentFrom = this.lastIndex() + 1;
    return out;
  }

  hasUnsentEntries(): boolean {
    return this.unsentFrom <= this.lastIndex();
  }

  /** stableTo records that the host has durably written entries up to index with term (ignored if the log changed since). */
  stableTo(index: number, term: number): void {
    if (this.matchTerm(index, term) && index > this.stableIndex) this.stableIndex = index;
  }

  /** Entries are applied only once both committed and durable here, so a restart never un-applies anything. */
  private applyLimit(): number {
    return Math.min(this.committed, this.stableIndex);
  }

  hasNextCommitted(): boolean {
    return this.pendingSnapshot === null && this.applyLimit() > this.applying;
  }

  /** takeNextCommitted hands out committed entries to apply, bounded by maxBytes (at least one). */
  takeNextCommitted(maxBytes: number): Entry[] {
    if (!this.hasNextCommitted()) return [];
    const out = this.slice(this.applying + 1, this.applyLimit(), maxBytes);
    this.applying = out[out.length - 1]!.index;
    return out;
  }

  appliedTo(index: number): void {
    assert(index <= this.committed, () => `applied ${index} beyond commit ${this.committed}`);
    if (index > this.applied) this.applied = index;
  }

  /**
   * restore replaces the log with a snapshot received from the leader (Raft §7:
   * "if no existing entry matches, discard the entire log"). Persisting and
   * installing it is the host's job; the Ready carries it.
   */
  restore(snapshot: Snapshot): void {
    const meta = snapshot.meta;
    assert(meta.index > this.committed, () => `restore of snapshot ${meta.index} at or below commit ${this.committed}`);
    this.snapshotMeta = meta;
    this.log = [];
    this.configEntries = [];
    this.committed = meta.index;
    this.applying = meta.index;
    this.stableIndex = meta.index;
    this.unsentFrom = meta.index + 1;
    this.pendingSnapshot = snapshot;
  }

  /** compact drops entries <= meta.index after the host durably stored a snapshot there. */
  compact(meta: SnapshotMeta): void {
    if (meta.index <= this.snapshotMeta.index) return;
    assert(meta.index <= this.applied, () => `compact to ${meta.index} beyond applied ${this.applied}`);
    assert(this.term(meta.index) === meta.term, () => `compact meta term ${meta.term} does not match log at ${meta.index}`);
    this.log = this.log.slice(meta.index - this.snapshotMeta.index);
    this.configEntries = this.configEntries.filter((entry) => entry.index > meta.index);
    this.snapshotMeta = meta;
  }
}
