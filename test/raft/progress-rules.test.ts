import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/raft/progress.js';

/**
 * Edge rules of the leader's per-follower progress (Raft Figure 2 nextIndex/matchIndex, §5.3), each found by
 * mutation testing to be unchecked: a boundary case of a stale answer, or state a role change must not carry over.
 */
/** replicatingPast4 is a follower known to match up to 4, in replicate state, with entries 5-9 in flight. */
function replicatingPast4(): Progress {
  const pr = new Progress(1, 8);
  pr.maybeUpdate(4);
  pr.becomeReplicate();
  pr.sentAppend(9, 5);
  return pr;
}

describe('Progress edge rules (Raft §5.3)', () => {
  it('an acknowledgement of exactly the known match index is stale: it reports no progress (§5.3 matchIndex only rises)', () => {
    const pr = new Progress(1, 4);
    expect(pr.maybeUpdate(5)).toBe(true);
    expect(pr.maybeUpdate(5)).toBe(false);
    expect(pr.match).toBe(5);
  });

  it('a rejection at exactly the known match index is stale in replicate state: that prefix is known to match (§5.3)', () => {
    const pr = replicatingPast4();
    expect(pr.maybeDecrTo(4, 0)).toBe(false);
    expect(pr).toMatchObject({ state: 'replicate', next: 10 });
  });

  it('falling back from replicate to probe sends the next probe at once: the new probe state is not paused', () => {
    const pr = replicatingPast4();
    expect(pr.maybeDecrTo(9, 6)).toBe(true);
    expect(pr.state).toBe('probe');
    expect(pr.isPaused()).toBe(false);
  });

  it('a new replicate state starts with an empty in-flight window: slots of AppendEntries sent before the fallback are forgotten', () => {
    const pr = new Progress(1, 2);
    pr.maybeUpdate(1);
    pr.becomeReplicate();
    pr.sentAppend(5, 4);
    pr.sentAppend(9, 4);
    expect(pr.isPaused()).toBe(true);
    pr.becomeProbe(); // e.g. the follower became unreachable
    expect(pr).toMatchObject({ state: 'probe', next: 2 }); // probing resumes right after what is known to match
    expect(pr.inflightCount()).toBe(0);
    pr.maybeUpdate(2);
    pr.becomeReplicate();
    expect(pr.inflightCount()).toBe(0);
    expect(pr.isPaused()).toBe(false);
  });

  it('a heartbeat response frees the oldest in-flight slot of a full window, so lost AppendEntries cannot stall a follower', () => {
    const pr = new Progress(1, 2);
    pr.becomeReplicate();
    pr.sentAppend(3, 3);
    pr.sentAppend(6, 3);
    expect(pr.isPaused()).toBe(true);
    pr.freeFirstInflight();
    expect(pr.inflightCount()).toBe(1);
    expect(pr.isPaused()).toBe(false);
  });

  it('a probe never moves nextIndex below match + 1, whatever the conflict hint says: that prefix is known to match (§5.3)', () => {
    const pr = new Progress(7, 8);
    pr.maybeUpdate(4);
    pr.sentAppend(6, 0); // probe with prevLogIndex 6
    expect(pr.maybeDecrTo(6, 1)).toBe(true);
    expect(pr).toMatchObject({ state: 'probe', match: 4, next: 5 });
  });

  it('a follower starts with nothing in flight and is not counted active until it is heard from (thesis §6.2)', () => {
    const pr = new Progress(5, 4);
    expect(pr.inflightCount()).toBe(0);
    expect(pr.recentActive).toBe(false);
  });

  it('after a snapshot the follower acknowledged beyond, probing resumes right after its match, not after the snapshot (§5.3, §7)', () => {
    const pr = new Progress(3, 8);
    pr.becomeSnapshot(20);
    pr.maybeUpdate(25); // its reply reports entries past the snapshot
    pr.becomeProbe();
    expect(pr).toMatchObject({ state: 'probe', match: 25, next: 26 });
  });
});

