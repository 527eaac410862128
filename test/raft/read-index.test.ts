import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type NodeId } from '../../src/raft/index.js';
import { ReadIndexQueue } from '../../src/raft/read-index.js';
import { ScriptedCluster, enc } from './harness.js';
import { isAppend } from './messages.js';

const ABC: NodeId[] = ['a', 'b', 'c'];
const ABCDE: NodeId[] = ['a', 'b', 'c', 'd', 'e'];
const ET = DEFAULT_LIMITS.electionTicks;

describe('ReadIndex (thesis §6.4)', () => {
  it('a single-node cluster answers at once, with no messages', () => {
    const c = new ScriptedCluster(['a']);
    c.elect('a');
    c.deliverAll();
    const a = c.node('a');
    a.propose(enc('x'));
    c.deliverAll();
    expect(a.commitIndex).toBe(2);
    c.readyLog = [];
    expect(a.readIndex('r1')).toEqual({ ok: true });
    c.drain();
    expect(c.readyLog).toHaveLength(1);
    expect(c.readyLog[0]!.ready.messages).toEqual([]);
    expect(c.readStates.get('a')).toEqual([{ index: 2, context: 'r1' }]);
  });

  it('the read state arrives only after a majority answered a heartbeat sent after the request (5 nodes)', () => {
    const c = new ScriptedCluster(ABCDE);
    c.elect('a');
    const a = c.node('a');
    a.propose(enc('x'));
    c.deliverAll();
    expect(a.commitIndex).toBe(2);
    expect(a.readIndex('r1')).toEqual({ ok: true });
    c.drain();
    const beats = c.inbox.filter((m) => m.type === 'heartbeat');
    expect(beats.map((m) => (m.type === 'heartbeat' ? m.context : null))).toEqual(['r1', 'r1', 'r1', 'r1']);
    const confirm = (id: NodeId): void => {
      c.deliver((m) => m.type === 'heartbeat' && m.to === id);
      c.deliver((m) => m.type === 'heartbeatResponse' && m.from === id);
    };
    confirm('b');
    expect(c.readStates.get('a')).toEqual([]); // a + b: 2 of 5
    confirm('c');
    expect(c.readStates.get('a')).toEqual([{ index: 2, context: 'r1' }]);
    c.deliverAll();
    expect(c.readStates.get('a')).toHaveLength(1); // late answers do not repeat it
  });

  it('one heartbeat round confirms a whole batch of reads, in order', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    for (const ctx of ['r1', 'r2', 'r3']) expect(a.readIndex(ctx).ok).toBe(true);
    c.drain();
    expect(c.inbox.filter((m) => m.type === 'heartbeat')).toHaveLength(2);
    c.deliverAll();
    expect(c.readStates.get('a')!.map((r) => r.context)).toEqual(['r1', 'r2', 'r3']);
  });

  it('a leader that has not yet committed an entry of its term defers reads until it has (it may not know the latest commit)', () => {
    const c = new ScriptedCluster(ABC, { checkQuorum: false }); // no leader lease: b answers c's pre-vote at once
    c.elect('a');
    const a = c.node('a');
    // a commits x through b and c, but its commit notices are lost; then a crashes.
    a.propose(enc('x'));
    c.deliver((m) => isAppend(m));
    c.deliver((m) => m.type === 'appendResponse');
    expect(a.commitIndex).toBe(2); // x is acknowledged to its client
    c.crash('a');
    const cNode = c.node('c');
    expect(cNode.commitIndex).toBe(1);
    // c wins term 2; it holds x but does not know that x is committed.
    c.campaign('c');
    c.deliver((m) => m.type === 'preVote');
    c.deliver((m) => m.type === 'preVoteResponse');
    c.deliver((m) => m.type === 'vote');
    c.deliver((m) => m.type === 'voteResponse');
    expect(cNode.role).toBe('leader');
    expect(cNode.commitIndex).toBe(1);
    expect(cNode.readIndex('r')).toEqual({ ok: true });
    c.drain();
    expect(c.inbox.filter((m) => m.type === 'heartbeat' && m.context === 'r')).toEqual([]);
    expect(c.readStates.get('c')).toEqual([]);
    // Serving now at index 1 would miss x. Once the no-op (index 3) commits, the read proceeds at index >= 3.
    c.deliverAll();
    expect(cNode.commitIndex).toBe(3);
    expect(c.readStates.get('c')).toEqual([{ index: 3, context: 'r' }]);
  });

  it('a partitioned leader never returns a read state (with and without CheckQuorum)', () => {
    for (const checkQuorum of [true, false]) {
      const c = new ScriptedCluster(ABC, { checkQuorum });
      c.elect('a');
      c.isolate('a');
      expect(c.node('a').readIndex('r')).toEqual({ ok: true });
      for (let i = 0; i < 5 * ET; i++) {
        c.tick('a');
        c.deliverAll();
      }
      expect(c.readStates.get('a'), `checkQuorum=${checkQuorum}`).toEqual([]);
      if (checkQuorum) expect(c.node('a').role).not.toBe('leader');
    }
  });

  it('a non-leader refuses with not_leader and the leader it knows; beyond maxPendingReads the leader answers overloaded', () => {
    const c = new ScriptedCluster(ABC, { maxPendingReads: 2 });
    c.elect('a');
    expect(c.node('b').readIndex('r')).toEqual({ ok: false, reason: 'not_leader', leader: 'a' });
    const a = c.node('a');
    expect(a.readIndex('r1').ok).toBe(true);
    expect(a.readIndex('r2').ok).toBe(true);
    expect(a.readIndex('r3')).toEqual({ ok: false, reason: 'overloaded', leader: 'a' });
    c.deliverAll();
    expect(c.readStates.get('a')!.map((r) => r.context)).toEqual(['r1', 'r2']);
    expect(a.readIndex('r3').ok).toBe(true);
  });

  it('reads deferred until the leader commits in its term count toward maxPendingReads too (every queue has a bound)', () => {
    const c = new ScriptedCluster(ABC, { maxPendingReads: 2 });
    c.campaign('a');
    for (const type of ['preVote', 'preVoteResponse', 'vote', 'voteResponse'] as const) c.deliver((m) => m.type === type);
    const a = c.node('a');
    expect(a.role).toBe('leader');
    expect(a.commitIndex).toBeLessThan(a.lastIndex); // its no-op is not committed: reads wait (thesis §6.4 step 1)
    expect(a.readIndex('r1').ok).toBe(true);
    expect(a.readIndex('r2').ok).toBe(true);
    expect(a.readIndex('r3')).toEqual({ ok: false, reason: 'overloaded', leader: 'a' });
    c.deliverAll();
    expect(c.readStates.get('a')!.map((r) => r.context)).toEqual(['r1', 'r2']);
  });

  it('the read queue refuses a read whose index is below an earlier one: read states are released in index order (thesis §6.4)', () => {
    const q = new ReadIndexQueue();
    q.add('r1', 5, 'a');
    q.add('r2', 5, 'a');
    expect(() => q.add('r3', 4, 'a')).toThrow(/read indexes must not go back/);
    expect(q.ack('r2', 'b', ABC)).toEqual([
      { index: 5, context: 'r1' },
      { index: 5, context: 'r2' },
    ]);
  });

  it('reads pending when a leader loses its term are dropped: a later term of the same node never confirms them (thesis §6.4)', () => {
    const c = new ScriptedCluster(ABC, { preVote: false, checkQuorum: false });
    c.elect('a');
    const a = c.node('a');
    expect(a.readIndex('r1').ok).toBe(true);
    c.drop(() => true); // its heartbeat round is lost
    a.step({ type: 'vote', from: 'c', to: 'a', term: a.term + 1, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    expect(a.role).toBe('follower');
    c.drop(() => true);
    c.elect('a');
    expect(a.readIndex('r2').ok).toBe(true);
    c.deliverAll();
    expect(c.readStates.get('a')!.map((r) => r.context)).toEqual(['r2']);
  });
});
