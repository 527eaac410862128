import { describe, expect, it } from 'vitest';
import { RaftNode, type NodeId } from '../../src/raft/index.js';
import { ScriptedCluster, termsOf, type NodeFactory } from './harness.js';
import { appendMsg, isAppend, isAppendResponse } from './messages.js';

/**
 * Raft paper Figure 8 (§5.4.2), scripted message by message with five servers.
 * Plain Raft (no PreVote/CheckQuorum) keeps the terms exactly as in the figure,
 * and a 1-byte append budget makes every AppendEntries carry one entry, so we
 * choose precisely which server receives which entry.
 */
const IDS: NodeId[] = ['s1', 's2', 's3', 's4', 's5'];
const CONFIG = { preVote: false, checkQuorum: false, maxAppendBytes: 1 };

/** CountsOldTermReplicas is the broken variant Figure 8 warns about: it commits an entry of an earlier term by counting replicas. */
class CountsOldTermReplicas extends RaftNode {
  protected override canCommitAt(): boolean {
    return true;
  }
}
const brokenFactory: NodeFactory = (config, durable) => new CountsOldTermReplicas(config, durable);

function logs(c: ScriptedCluster): Record<NodeId, number[]> {
  return Object.fromEntries(IDS.map((id) => [id, termsOf(c.node(id))]));
}

/** win runs one campaign of `id` to its end: vote requests and answers between live servers only. */
function campaignOnce(c: ScriptedCluster, id: NodeId): void {
  c.campaign(id);
  c.deliver((m) => m.type === 'vote');
  c.deliver((m) => m.type === 'voteResponse');
}

/** toFigure8c plays (a), (b) and (c); the term-4 AppendEntries for index 3 to s2 and s3 are left queued. */
function toFigure8c(factory?: NodeFactory): ScriptedCluster {
  const c = new ScriptedCluster(IDS, CONFIG, 1, factory === undefined ? {} : { factory });
  // Before (a): s1 leads term 1; its no-op is index 1 on every server and committed.
  c.elect('s1');
  expect(logs(c)).toEqual({ s1: [1], s2: [1], s3: [1], s4: [1], s5: [1] });

  // (a) s1 restarts, leads term 2, and its term-2 entry at index 2 reaches only s2.
  c.restart('s1', 11);
  campaignOnce(c, 's1');
  expect(c.node('s1')).toMatchObject({ role: 'leader', term: 2 });
  c.deliver((m) => isAppend(m) && m.to === 's2');
  c.drop((m) => isAppend(m));
  c.deliver((m) => isAppendResponse(m));
  expect(logs(c)).toEqual({ s1: [1, 2], s2: [1, 2], s3: [1], s4: [1], s5: [1] });

  // (b) s1 crashes; s5 is elected for term 3 with votes from s3, s4 and itself, and accepts a different entry at index 2.
  c.crash('s1');
  campaignOnce(c, 's5');
  expect(c.node('s5')).toMatchObject({ role: 'leader', term: 3 });
  c.crash('s5');
  expect(logs(c)).toEqual({ s1: [1, 2], s2: [1, 2], s3: [1], s4: [1], s5: [1, 3] });

  // (c) s5 crashes; s1 restarts and is elected for term 4 (its term-3 attempt fails: s3 and s4 voted for s5),
  // appends its term-4 no-op at index 3, and continues replicating the term-2 entry.
  c.reconnect('s1', 12);
  campaignOnce(c, 's1');
  expect(c.node('s1')).toMatchObject({ role: 'candidate', term: 3 });
  campaignOnce(c, 's1');
  const s1 = c.node('s1');
  expect(s1).toMatchObject({ role: 'leader', term: 4 });
  c.drop((m) => isAppend(m) && m.to !== 's3'); // s4 hears nothing; s2 gets the entry below instead
  c.deliver((m) => isAppend(m) && m.to === 's3'); // prev (2, t2): s3 rejects
  c.deliver((m) => isAppendResponse(m) && m.from === 's3');
  c.deliver((m) => isAppend(m) && m.to === 's3'); // prev (1, t1) carrying (2, t2): s3 accepts
  c.deliver((m) => isAppendResponse(m) && m.from === 's3');
  // s2 already holds (2, t2). A retransmission of s1's probe from index 2 lets s1 learn that without handing s2 the
  // term-4 entry, so the logs stay exactly those of the figure.
  c.node('s2').step(appendMsg('s1', 's2', 4, 1, 1, s1.entries(2, 2), s1.commitIndex));
  c.drain();
  c.deliver((m) => isAppendResponse(m) && m.from === 's2');
  expect(logs(c)).toEqual({ s1: [1, 2, 4], s2: [1, 2], s3: [1, 2], s4: [1], s5: [1, 3] });
  expect(s1.progressOf('s2')?.match).toBe(2);
  expect(s1.progressOf('s3')?.match).toBe(2);
  expect(c.inbox.filter(isAppend).filter((m) => m.entries.length > 0).map((m) => [m.to, m.entries.map((e) => [e.index, e.term])])).toEqual([
    ['s3', [[3, 4]]],
    ['s2', [[3, 4]]],
  ]);
  return c;
}

/** toFigure8d plays (d) from (c): s1 crashes and s5 is elected with votes from s2, s3 and s4. */
function toFigure8d(c: ScriptedCluster): void {
  c.crash('s1');
  c.reconnect('s5', 13);
  campaignOnce(c, 's5'); // term 4: s2, s3 and s4 already voted for s1
  expect(c.node('s5')).toMatchObject({ role: 'follower', term: 4 });
  campaignOnce(c, 's5'); // term 5
  expect(c.node('s5')).toMatchObject({ role: 'leader', term: 5 });
  c.deliverAll();
}

describe('Figure 8: a leader cannot determine commitment using log entries from older terms (§5.4.2)', () => {
  it('(c) the term-2 entry is stored on a majority (s1, s2, s3) yet the term-4 leader does not commit it', () => {
    const c = toFigure8c();
    const s1 = c.node('s1');
    expect(s1.commitIndex).toBe(1);
    expect(c.applied.get('s1')!.map((e) => e.index)).toEqual([1]);
  });

  it('(d) s5 can be elected and overwrite index 2 on every server, and no committed entry is lost', () => {
    const c = toFigure8c();
    toFigure8d(c);
    const live = IDS.filter((id) => id !== 's1');
    for (const id of live) {
      // The figure's term-3 entry at index 2, then s5's term-5 no-op.
      expect(termsOf(c.node(id)), id).toEqual([1, 3, 5]);
      expect(c.node(id).commitIndex, id).toBe(3);
    }
    // The overwritten term-2 entry was never applied anywhere: nothing committed was lost.
    expect(c.violations).toEqual([]);
    expect(c.applied.get('s1')!.map((e) => [e.index, e.term])).toEqual([[1, 1]]);
  });

  it('(e) once s1 replicates an entry of its own term (its no-op) on a majority, it is committed with the term-2 entry, and s5 cannot win', () => {
    const c = toFigure8c();
    c.deliver((m) => isAppend(m) && (m.to === 's2' || m.to === 's3'));
    c.deliver((m) => isAppendResponse(m));
    const s1 = c.node('s1');
    expect(s1.commitIndex).toBe(3); // index 3 (term 4) on s1, s2, s3, and with it index 2 (§5.4.2)
    expect(logs(c)).toMatchObject({ s1: [1, 2, 4], s2: [1, 2, 4], s3: [1, 2, 4] });

    c.crash('s1');
    c.reconnect('s5', 13);
    for (let attempt = 0; attempt < 5; attempt++) {
      campaignOnce(c, 's5');
      expect(c.node('s5').role, `attempt ${attempt}`).not.toBe('leader'); // s2 and s3 have a later last term
    }
    expect(termsOf(c.node('s5'))).toEqual([1, 3]);
    // A server holding the committed entries wins instead and brings s5 (and s4) into line.
    c.elect('s2');
    c.deliverAll();
    for (const id of ['s2', 's3', 's4', 's5']) expect(termsOf(c.node(id)).slice(0, 3), id).toEqual([1, 2, 4]);
    expect(c.node('s5').commitIndex).toBeGreaterThanOrEqual(3);
    expect(c.violations).toEqual([]);
  });

  it('the same script with a leader that commits old-term entries by counting replicas loses a committed entry (the checks above can fail)', () => {
    const c = toFigure8c(brokenFactory);
    expect(c.node('s1').commitIndex).toBe(2); // the unsafe commit at (c)
    expect(c.applied.get('s1')!.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    toFigure8d(c);
    expect(c.violations).toContainEqual({ index: 2, first: { node: 's1', term: 2 }, second: expect.objectContaining({ term: 3 }) });
  });
});
