import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type Entry, type NodeId } from '../../src/raft/index.js';
import { ScriptedCluster, cycle, standaloneNode } from './harness.js';
import { appendMsg, heartbeatMsg } from './messages.js';

/**
 * RaftNode's views and input guards at the edges the other tests leave open, found by mutation testing (issue 17):
 * peerMembers (whom the host's transport must reach), entries, progressOf, step's addressing, reportUnreachable.
 */

const ABC: NodeId[] = ['a', 'b', 'c'];

/** removeC is the config entry at `index` that takes c out of a, b, c. */
function removeC(index: number, term: number): Entry {
  return { index, term, type: 'config', data: new Uint8Array(0), config: { voters: ['a', 'b'], learners: [], members: [] } };
}

describe('peerMembers', () => {
  it('answers the same array while nothing it depends on changes (the host skips telling its transport then)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    const first = a.peerMembers();
    expect(first).toEqual(['b', 'c']);
    c.tick('a');
    c.deliverAll();
    expect(a.peerMembers()).toBe(first);
  });

  it('follows a configuration entry that arrives already committed (only the latest configuration changed)', () => {
    const b = standaloneNode('b', ABC, { term: 2 });
    expect(b.peerMembers()).toEqual(['a', 'c']);
    b.step(appendMsg('a', 'b', 2, 0, 0, [removeC(1, 2)], 1));
    expect(b.commitIndex).toBe(1);
    expect(b.peerMembers()).toEqual(['a']);
  });

  it('keeps the member being removed while the change is pending and drops it once the change commits', () => {
    const b = standaloneNode('b', ABC, { term: 2 });
    b.step(appendMsg('a', 'b', 2, 0, 0, [removeC(1, 2)], 0));
    expect(b.voters()).toEqual(['a', 'b']);
    expect(b.peerMembers()).toEqual(['a', 'c']); // the committed configuration still has c
    cycle(b);
    b.step(heartbeatMsg('a', 'b', 2, 1)); // only the committed part changes
    expect(b.peerMembers()).toEqual(['a']);
  });

  it('is sorted, with a removed member the leader still replicates to in its place', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    expect(a.proposeConfChange({ type: 'remove', id: 'b' }).ok).toBe(true);
    c.deliverAll();
    expect(a.commitIndex).toBe(a.configurationIndex);
    expect(a.voters()).toEqual(['a', 'c']);
    expect(a.peerMembers()).toEqual(['b', 'c']);
    c.tick('a', DEFAULT_LIMITS.electionTicks); // the CheckQuorum round lets b go: only the tracked set changes
    expect(a.peerMembers()).toEqual(['c']);
  });
});

describe('views and input guards', () => {
  it('entries of an empty range is empty, wherever the range lies (even below the compaction point)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    c.compact('a');
    expect(a.firstIndex).toBeGreaterThan(1);
    expect(a.entries(1, 0)).toEqual([]);
    expect(a.entries(a.lastIndex + 1, a.lastIndex)).toEqual([]);
  });

  it('progressOf a peer the leader does not track is null', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    expect(c.node('a').progressOf('z')).toBe(null);
    expect(c.node('b').progressOf('c')).toBe(null); // a follower tracks no one
  });

  it('a message addressed to another node, or claiming to come from this node itself, is dropped unread', () => {
    const b = standaloneNode('b', ABC, { term: 2 });
    b.step(heartbeatMsg('a', 'c', 5, 0));
    expect(b).toMatchObject({ term: 2, leader: null });
    b.step(heartbeatMsg('b', 'b', 5, 0));
    expect(b).toMatchObject({ term: 2, leader: null });
    expect(b.hasReady()).toBe(false);
  });

  it('reportUnreachable moves a replicating peer back to probing', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    expect(a.progressOf('b')?.state).toBe('replicate');
    a.reportUnreachable('b');
    expect(a.progressOf('b')?.state).toBe('probe');
    expect(a.progressOf('c')?.state).toBe('replicate');
  });
});
