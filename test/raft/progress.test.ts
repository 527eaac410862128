import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/raft/progress.js';
import { InvariantError } from '../../src/raft/index.js';

describe('Progress: the leader\'s nextIndex/matchIndex for one follower (Raft Figure 2, etcd\'s tracker)', () => {
  it('probe sends one AppendEntries at a time: paused after a send until a reply', () => {
    const pr = new Progress(5, 4);
    expect(pr).toMatchObject({ state: 'probe', next: 5, match: 0 });
    expect(pr.isPaused()).toBe(false);
    pr.sentAppend(7, 3);
    expect(pr.isPaused()).toBe(true);
    expect(pr.next).toBe(5); // a probe does not advance next optimistically
    expect(pr.maybeUpdate(7)).toBe(true);
    expect(pr).toMatchObject({ match: 7, next: 8 });
    expect(pr.isPaused()).toBe(false);
  });

  it('replicate advances nextIndex optimistically and pauses when maxInflight AppendEntries are unanswered', () => {
    const pr = new Progress(1, 3);
    pr.maybeUpdate(1);
    pr.becomeReplicate();
    expect(pr.next).toBe(2);
    pr.sentAppend(3, 2);
    pr.sentAppend(5, 2);
    expect(pr.isPaused()).toBe(false);
    pr.sentAppend(6, 1);
    expect(pr).toMatchObject({ next: 7 });
    expect(pr.inflightCount()).toBe(3);
    expect(pr.isPaused()).toBe(true);
    // An acknowledgement frees every slot it covers.
    expect(pr.maybeUpdate(5)).toBe(true);
    expect(pr.inflightCount()).toBe(1);
    expect(pr.isPaused()).toBe(false);
    // An empty AppendEntries (heartbeat-like) takes no slot.
    pr.sentAppend(6, 0);
    expect(pr.inflightCount()).toBe(1);
    // A stale (reordered) acknowledgement changes nothing.
    expect(pr.maybeUpdate(3)).toBe(false);
    expect(pr.match).toBe(5);
    // Sending into a full window is a caller bug.
    const full = new Progress(1, 1);
    full.becomeReplicate();
    full.sentAppend(1, 1);
    expect(() => full.sentAppend(2, 1)).toThrow(InvariantError);
  });

  it('a rejection in replicate falls back to probe at the leader\'s conflict-term hint; a stale rejection is ignored', () => {
    const pr = new Progress(1, 8);
    pr.maybeUpdate(4);
    pr.becomeReplicate();
    pr.sentAppend(10, 6);
    expect(pr.maybeDecrTo(3, 0)).toBe(false); // rejected index at or below match: stale
    expect(pr.state).toBe('replicate');
    expect(pr.maybeDecrTo(10, 6)).toBe(true);
    expect(pr).toMatchObject({ state: 'probe', next: 7 });
    // The hint never takes next below match + 1.
    const pr2 = new Progress(1, 8);
    pr2.maybeUpdate(4);
    pr2.becomeReplicate();
    pr2.sentAppend(10, 6);
    expect(pr2.maybeDecrTo(10, 0)).toBe(true);
    expect(pr2.next).toBe(5);
  });

  it('a rejection in probe decrements nextIndex only when it answers the probe last sent', () => {
    const pr = new Progress(11, 8);
    pr.sentAppend(10, 0); // probe with prevLogIndex 10
    expect(pr.maybeDecrTo(7, 3)).toBe(false); // answers an older probe
    expect(pr.next).toBe(11);
    expect(pr.maybeDecrTo(10, 3)).toBe(true);
    expect(pr).toMatchObject({ next: 4, probeSent: false });
    expect(pr.maybeDecrTo(3, 0)).toBe(true);
    expect(pr.next).toBe(1); // never below 1
  });

  it('snapshot state is paused until the follower acknowledges, then probes right after the snapshot', () => {
    const pr = new Progress(3, 8);
    pr.becomeSnapshot(20);
    expect(pr.isPaused()).toBe(true);
    pr.maybeUpdate(20);
    pr.becomeProbe();
    expect(pr).toMatchObject({ state: 'probe', next: 21, match: 20 });
    const failed = new Progress(3, 8);
    failed.becomeSnapshot(20);
    failed.becomeProbe(); // no acknowledgement: resume after the snapshot anyway
    expect(failed.next).toBe(21);
  });
});
