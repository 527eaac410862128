import type { ConfState, DurableState, Entry, HardState, Snapshot } from '../../src/raft/types.js';
import type { SaveBatch } from '../../src/storage/index.js';
import { violated } from './sim-violation.js';

/** PendingWrite is one write the host issued and the disk has not yet synced: a Ready's batch, or a snapshot the host took. */
export type PendingWrite = { readonly kind: 'batch'; readonly batch: SaveBatch } | { readonly kind: 'snapshot'; readonly snapshot: Snapshot };

/**
 * SimDisk is one node's stable storage. The host issues writes (a Ready's
 * batch, or a snapshot it took); they are synced one at a time in issue order
 * (`sync()`), and a crash loses every write not yet synced (`loseUnsynced()`),
 * as with one LevelDB log where a later synced write implies the earlier ones.
 * Durable state is exactly what a restart sees: hard state, the latest
 * snapshot {meta, data}, and the contiguous entries after the snapshot.
 */
export class SimDisk {
  hardState: HardState;
  snapshot: Snapshot;
  /** Entries snapshot.meta.index + 1 .. last, contiguous. */
  private entries: Entry[];
  private readonly pending: PendingWrite[] = [];
  /** Count of synced writes, for stats. */
  syncs = 0;

  constructor(
    readonly id: string,
    initial: DurableState,
    initialSnapshotData: Uint8Array,
  ) {
    this.hardState = initial.hardState;
    this.snapshot = { meta: initial.snapshotMeta, data: initialSnapshotData };
    this.entries = [...initial.entries];
  }

  get lastIndex(): number {
    return this.snapshot.meta.index + this.entries.length;
  }

  get pendingWrites(): number {
    return this.pending.length;
  }

  /** termAt is the durable term at index: the snapshot term at its index, null when compacted or absent. */
  termAt(index: number): number | null {
    if (index === this.snapshot.meta.index) return this.snapshot.meta.term;
    if (index < this.snapshot.meta.index || index > this.lastIndex) return null;
    return this.entries[index - this.snapshot.meta.index - 1]!.term;
  }

  /**
   * latestConfigs is what a restart from this disk would be in: the latest configuration (the last config entry's,
   * else the snapshot's), where it comes from, and the one before it (what the latest replaced, if it is an entry).
   */
  latestConfigs(): { readonly index: number; readonly latest: ConfState; readonly before: ConfState } {
    const found: Entry[] = [];
    for (let i = this.entries.length - 1; i >= 0 && found.length < 2; i--) if (this.entries[i]!.type === 'config') found.push(this.entries[i]!);
    const snap = this.snapshot.meta;
    if (found.length === 0) return { index: snap.index, latest: snap.config, before: snap.config };
    return { index: found[0]!.index, latest: found[0]!.config!, before: found[1]?.config ?? snap.config };
  }

  /** containsCommitted is true when the durable state holds (index, term): in the log, or covered by the snapshot. */
  containsCommitted(index: number, term: number): boolean {
    if (index <= this.snapshot.meta.index) return true;
    return this.termAt(index) === term;
  }

  /** issue queues one write; it is durable only once sync() has reached it. */
  issue(write: PendingWrite): void {
    if (this.pending.length >= 64) throw new Error(`disk ${this.id}: more than 64 writes in flight (a host that does not wait for its writes?)`);
    this.pending.push(write);
  }

  /** sync makes the oldest issued write durable, atomically. */
  sync(): void {
    const w = this.pending.shift();
    if (w === undefined) throw new Error('disk: sync without an issued write');
    this.syncs++;
    if (w.kind === 'snapshot') this.storeSnapshot(w.snapshot);
    else this.syncBatch(w.batch);
  }

  /** syncBatch applies one Ready's batch: snapshot, then entries, then hard state. */
  private syncBatch(batch: SaveBatch): void {
    const w = { snapshot: batch.snapshot ?? null, entries: batch.entries ?? [], hardState: batch.hardState ?? null };
    if (w.snapshot !== null) {
      if (w.snapshot.meta.index < this.hardState.commit) {
        violated('durable-commit', `${this.id}: snapshot at ${w.snapshot.meta.index} below durable commit ${this.hardState.commit}`);
      }
      // Raft §7: a snapshot that is not matched by the log replaces the entire log (the core does the same in restore()).
      this.snapshot = w.snapshot;
      this.entries = [];
    }
    if (w.entries.length > 0) {
      const first = w.entries[0]!.index;
      const base = this.snapshot.meta.index;
      if (first <= base || first > this.lastIndex + 1) {
        throw new Error(`disk ${this.id}: write of entries from ${first} does not fit log (snapshot ${base}, last ${this.lastIndex})`);
      }
      // Raft §5.3: a conflicting suffix is deleted; a committed entry must never be part of it.
      if (first <= this.hardState.commit && this.lastIndex >= first) {
        for (const e of w.entries) {
          if (e.index > this.hardState.commit || e.index > this.lastIndex) break;
          if (this.termAt(e.index) !== e.term) {
            violated('durable-commit', `${this.id}: write replaces durably committed entry ${e.index} (term ${this.termAt(e.index)} -> ${e.term}, commit ${this.hardState.commit})`);
          }
        }
      }
      this.entries.length = first - base - 1;
      for (const e of w.entries) {
        if (e.index !== base + this.entries.length + 1) throw new Error(`disk ${this.id}: entries not contiguous at ${e.index}`);
        this.entries.push(e);
      }
    }
    if (w.hardState !== null) {
      if (w.hardState.term < this.hardState.term) {
        violated('durable-term', `${this.id}: hard state term goes back ${this.hardState.term} -> ${w.hardState.term}`);
      }
      if (w.hardState.term === this.hardState.term && this.hardState.vote !== null && w.hardState.vote !== this.hardState.vote) {
        violated('durable-vote', `${this.id}: vote changes within term ${w.hardState.term}: ${this.hardState.vote} -> ${w.hardState.vote}`);
      }
      if (w.hardState.commit < this.hardState.commit) {
        violated('durable-commit', `${this.id}: durable commit goes back ${this.hardState.commit} -> ${w.hardState.commit}`);
      }
      if (w.hardState.commit > this.lastIndex) {
        throw new Error(`disk ${this.id}: hard state commit ${w.hardState.commit} beyond durable last index ${this.lastIndex}`);
      }
      this.hardState = w.hardState;
    }
  }

  /** loseUnsynced is a crash: the writes not yet synced never reach the platter. */
  loseUnsynced(): void {
    this.pending.length = 0;
  }

  /** storeSnapshot durably stores a snapshot the host took of its own state machine and drops the log it covers. */
  private storeSnapshot(snapshot: Snapshot): void {
    const meta = snapshot.meta;
    if (meta.index <= this.snapshot.meta.index) return;
    if (meta.index > this.lastIndex) throw new Error(`disk ${this.id}: snapshot at ${meta.index} beyond durable last ${this.lastIndex}`);
    if (this.termAt(meta.index) !== meta.term) {
      throw new Error(`disk ${this.id}: snapshot term ${meta.term} at ${meta.index} does not match durable log term ${this.termAt(meta.index)}`);
    }
    this.entries = this.entries.slice(meta.index - this.snapshot.meta.index);
    this.snapshot = snapshot;
  }

  /** durableState is what a restarted node is constructed from. */
  durableState(): DurableState {
    return { hardState: this.hardState, snapshotMeta: this.snapshot.meta, entries: [...this.entries] };
  }
}
