import { assert } from './invariant.js';

/**
 * ProgressState is how the leader replicates to one follower (etcd's tracker):
 * probe sends one AppendEntries at a time until it finds where the logs match;
 * replicate streams optimistically within a bounded in-flight window;
 * snapshot waits for an InstallSnapshot to finish.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** Progress is the leader's view of one follower (Raft Figure 2: nextIndex and matchIndex). */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an AppendEntries is out and unanswered, so send no other until a reply or heartbeat response. */
  probeSent = false;
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last CheckQuorum round (thesis §6.2). */
  recentActive = false;
  /** Last index of each AppendEntries in flight, oldest first; its length is bounded by maxInflight. */
  private readonly inflight: number[] = [];

  constructor(next: number, private readonly maxInflight: number) {
    assert(maxInflight > 0, 'maxInflight must be positive');
    this.next = next;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= this.maxInflight;
      case 'snapshot':
        return true;
    }
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it; otherwise right after what we know matches.
    // Stryker disable next-line ConditionalExpression: outside snapshot state pendingSnapshot is 0 (reset), so the max is match + 1 either way
    const next = this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.reset('probe');
    this.next = next;
  }

  becomeReplicate(): void {
    this.reset('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.reset('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  private reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflight.length = 0;
  }

  /** sentAppend records an AppendEntries whose last entry is lastIndex (or, for an empty probe, prevIndex). */
  sentAppend(lastIndex: number, entryCount: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflight.push(lastIndex);
        assert(this.inflight.length <= this.maxInflight, 'in-flight window overflow');
      }
    } else if (
      // Stryker disable next-line ConditionalExpression: snapshot state is always paused, so sendAppend never calls this in it
      this.state === 'probe'
    ) {
      this.probeSent = true;
    }
  }

  /** maybeUpdate records a successful reply up to index; returns false for a stale reply. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    // Free the in-flight slots the reply covers.
    while (
      // Stryker disable next-line ConditionalExpression,EqualityOperator: on an empty window inflight[0] is undefined and `undefined <= index` is false, which ends the loop as well
      this.inflight.length > 0 &&
      this.inflight[0]! <= index
    )
      this.inflight.shift();
    return updated;
  }

  /**
   * maybeDecrTo handles a rejection of the AppendEntries whose prevLogIndex was
   * `rejected`; `probeFrom` is where the leader's conflict-term search says to
   * try next. Returns false for a stale rejection.
   */
  maybeDecrTo(rejected: number, probeFrom: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false; // stale: that range is known to match
      this.becomeProbe();
      this.next = Math.max(this.match + 1, Math.min(rejected, probeFrom + 1));
      return true;
    }
    if (this.next - 1 !== rejected) return false; // stale: not the probe we sent last
    this.next = Math.max(this.match + 1, Math.min(rejected, probeFrom + 1), 1);
    this.probeSent = false;
    return true;
  }

  /**
   * freeFirstInflight frees the oldest in-flight slot. Called on a heartbeat
   * response while the window is full: if AppendEntries were lost, their slots
   * would otherwise never free and the follower would stall forever.
   */
  freeFirstInflight(): void {
    this.inflight.shift();
  }

  inflightCount(): number {
    return this.inflight.length;
  }
}
