import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, InvariantError, type AppendMessage, type Message, type NodeId, type SnapshotMessage } from '../../src/raft/index.js';
import { ScriptedCluster, cMissedThreeEntries, cycle, enc, entriesOf, snapshotPendingForC, standaloneNode } from './harness.js';
import { appendMsg, heartbeatMsg, isAppend, isAppendResponse } from './messages.js';

/**
 * What a leader does with each follower's progress state (Raft §5.3 nextIndex/matchIndex; etcd-io/raft's probe,
 * replicate and snapshot states), with the host's reports (etcd MsgUnreachable, MsgSnapStatus) and during a leadership
 * transfer (thesis §3.10); and how a follower accepts its term's leader (§5.2). Each case was left open by the other
 * tests, as mutation testing showed.
 */

const ABC: NodeId[] = ['a', 'b', 'c'];
const ET = DEFAULT_LIMITS.electionTicks;
const HT = DEFAULT_LIMITS.heartbeatTicks;

const appendsTo = (c: ScriptedCluster, to: NodeId): AppendMessage[] => c.take((m) => isAppend(m) && m.to === to).filter(isAppend);

/** proposeEach proposes each payload and drains after each, so every one goes out in its own AppendEntries. */
function proposeEach(c: ScriptedCluster, leader: NodeId, payloads: string[]): void {
  for (const p of payloads) {
    expect(c.node(leader).propose(enc(p)).ok).toBe(true);
    c.drain();
  }
}

/** heartbeatRoundWithC has a send its heartbeats and delivers c's heartbeat and c's answer, nothing else. */
function heartbeatRoundWithC(c: ScriptedCluster): void {
  c.tick('a', HT);
  expect(c.deliver((m) => m.type === 'heartbeat' && m.to === 'c')).toBe(1);
  expect(c.deliver((m) => m.type === 'heartbeatResponse' && m.from === 'c')).toBe(1);
}

describe('leader progress states (Raft §5.3, etcd probe/replicate/snapshot)', () => {
  it('an acknowledgement from a replicating follower keeps it replicating: the AppendEntries still in flight are not resent', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    expect(a.progressOf('b')?.state).toBe('replicate');
    proposeEach(c, 'a', ['x', 'y']);
    const toB = appendsTo(c, 'b');
    expect(toB.map((m) => m.entries.length)).toEqual([1, 1]); // pipelined: the second went out before the first was answered
    c.node('b').step(toB[0]!);
    expect(c.deliver((m) => isAppendResponse(m) && m.from === 'b')).toBe(1);
    // Only the new commit index goes out (an empty AppendEntries); 'y' is in flight already and is not sent again.
    expect(appendsTo(c, 'b').map((m) => [m.prevLogIndex, m.entries.length])).toEqual([[a.lastIndex, 0]]);
    expect(a.progressOf('b')).toMatchObject({ state: 'replicate', match: a.lastIndex - 1 });
  });

  it('an unreachable replicating follower falls back to probing: one AppendEntries at a time until it answers (etcd MsgUnreachable)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    a.reportUnreachable('b');
    expect(a.progressOf('b')?.state).toBe('probe');
    proposeEach(c, 'a', ['x', 'y']);
    expect(appendsTo(c, 'b').map((m) => m.entries.length)).toEqual([1]);
    expect(appendsTo(c, 'c').map((m) => m.entries.length)).toEqual([1, 1]); // c still replicates, pipelined
  });

  it('an unreachable report about a follower being sent a snapshot leaves it waiting for the snapshot', () => {
    const { c } = snapshotPendingForC();
    const a = c.node('a');
    a.reportUnreachable('c');
    expect(a.progressOf('c')?.state).toBe('snapshot');
    proposeEach(c, 'a', ['x']);
    expect(appendsTo(c, 'c')).toEqual([]);
  });

  it('a follower ignores reports about its own sends: only a leader tracks progress', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const b = c.node('b');
    b.reportUnreachable('a');
    b.reportSnapshot('a', true);
    b.reportSnapshot('a', false);
    expect(b.role).toBe('follower');
    expect(b.progressOf('a')).toBe(null);
  });

  it('a snapshot report about a follower that is not being sent one changes nothing: it keeps replicating (etcd MsgSnapStatus)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    a.reportSnapshot('b', true);
    a.reportSnapshot('c', false);
    proposeEach(c, 'a', ['x', 'y']);
    expect(appendsTo(c, 'b').map((m) => m.entries.length)).toEqual([1, 1]);
    expect(appendsTo(c, 'c').map((m) => m.entries.length)).toEqual([1, 1]);
  });

  it('after a snapshot is sent, the leader waits for an answer, then probes right after the snapshot (Raft §7, etcd MsgSnapStatus)', () => {
    const { c, snapshot } = snapshotPendingForC();
    const a = c.node('a');
    a.reportSnapshot('c', true);
    expect(a.progressOf('c')?.state).toBe('probe');
    proposeEach(c, 'a', ['x']);
    expect(c.take((m) => m.to === 'c' && (isAppend(m) || m.type === 'snapshot'))).toEqual([]); // paused until c answers
    heartbeatRoundWithC(c);
    const next = c.take((m) => m.to === 'c' && (isAppend(m) || m.type === 'snapshot'));
    expect(next.map((m) => [m.type, isAppend(m) ? m.prevLogIndex : -1])).toEqual([['append', snapshot.meta.index]]);
  });

  it('after a failed snapshot send, the leader probes from what the follower holds, which sends the snapshot again (Raft §7)', () => {
    const { c, snapshot } = snapshotPendingForC();
    const a = c.node('a');
    a.reportSnapshot('c', false);
    expect(a.progressOf('c')?.state).toBe('probe');
    expect(c.take((m) => m.to === 'c')).toEqual([]);
    heartbeatRoundWithC(c);
    const next = c.take((m) => m.to === 'c' && (isAppend(m) || m.type === 'snapshot'));
    expect(next.map((m) => m.type)).toEqual(['snapshot']);
    expect((next[0] as SnapshotMessage).meta.index).toBe(snapshot.meta.index);
  });
});

describe('leader progress states, continued (Raft §5.3, §7)', () => {
  it('a late acknowledgement below the snapshot being sent does not end the snapshot state: the leader keeps waiting for it', () => {
    const { c, snapshot } = snapshotPendingForC();
    const a = c.node('a');
    const matchBefore = a.progressOf('c')!.match;
    expect(matchBefore + 1).toBeLessThan(snapshot.meta.index);
    a.step({ type: 'appendResponse', from: 'c', to: 'a', term: a.term, reject: false, index: matchBefore + 1, hintIndex: 0, hintTerm: 0 });
    expect(a.progressOf('c')).toMatchObject({ state: 'snapshot', match: matchBefore + 1 });
    expect(c.take((m) => m.to === 'c' && (isAppend(m) || m.type === 'snapshot'))).toEqual([]);
  });

  it('a stale acknowledgement does not turn a probed follower back to pipelined replication (§5.3: matchIndex did not move)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    a.reportUnreachable('b');
    const match = a.progressOf('b')!.match;
    a.step({ type: 'appendResponse', from: 'b', to: 'a', term: a.term, reject: false, index: match - 1, hintIndex: 0, hintTerm: 0 });
    expect(a.progressOf('b')?.state).toBe('probe');
    proposeEach(c, 'a', ['x', 'y']);
    expect(appendsTo(c, 'b').map((m) => m.entries.length)).toEqual([1]);
  });

  it('a heartbeat answer from a follower that holds the whole log gets no AppendEntries (only a follower behind is repaired, §5.3)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    c.tick('a', HT);
    expect(c.deliver((m) => m.type === 'heartbeat')).toBe(2);
    expect(c.deliver((m) => m.type === 'heartbeatResponse')).toBe(2);
    expect(c.take((m) => isAppend(m))).toEqual([]);
  });

  it('committing part of the uncommitted entries keeps counting the rest against maxUncommittedBytes (etcd maxUncommittedEntriesSize)', () => {
    const c = new ScriptedCluster(ABC, { maxUncommittedBytes: 100 });
    c.elect('a');
    const a = c.node('a');
    proposeEach(c, 'a', ['x'.repeat(40), 'y'.repeat(40)]);
    const toB = appendsTo(c, 'b');
    expect(toB).toHaveLength(2);
    c.drop(() => true);
    c.node('b').step(toB[0]!); // only x reaches a majority
    expect(c.deliver((m) => isAppendResponse(m) && m.from === 'b')).toBe(1);
    expect(a.commitIndex).toBe(a.lastIndex - 1);
    expect(a.propose(enc('z'.repeat(40))).ok).toBe(true); // y and z: 80 bytes uncommitted
    expect(a.propose(enc('w'.repeat(40)))).toEqual({ ok: false, reason: 'overloaded', leader: 'a' });
  });
});

describe('leadership transfer edges (thesis §3.10)', () => {
  it('a lagging transferee gets TimeoutNow only once its log matches the leader, not on an earlier acknowledgement', () => {
    const c = cMissedThreeEntries({ maxAppendBytes: 1 }); // one entry per AppendEntries: c catches up in steps
    const a = c.node('a');
    c.reconnect('c');
    c.tick('a', HT); // a heartbeat answer restarts replication to c
    expect(a.transferLeadership('c')).toBe(true);
    let acks = 0;
    let timeoutNows = 0;
    for (let round = 0; round < 100 && (c.drain(), c.inbox.length > 0); round++) {
      for (const m of c.take()) {
        if (m.type === 'appendResponse' && m.from === 'c' && !m.reject) acks++;
        if (m.type === 'timeoutNow') {
          timeoutNows++;
          expect(c.node('c').lastIndex).toBe(a.lastIndex);
        }
        c.node(m.to).step(m);
      }
    }
    expect(acks).toBeGreaterThan(1); // there were acknowledgements before c caught up
    expect(timeoutNows).toBe(1);
    expect(c.node('c').role).toBe('leader');
  });

  it('repeating a transfer request to the same target neither sends a second TimeoutNow nor restarts the transfer timeout', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    expect(a.transferLeadership('b')).toBe(true);
    expect(c.take((m) => m.type === 'timeoutNow').map((m) => m.to)).toEqual(['b']); // lost
    expect(a.transferLeadership('b')).toBe(true);
    expect(c.take((m) => m.type === 'timeoutNow')).toEqual([]);
    // The transfer is given up one election timeout after it started, repeated requests or not.
    for (let i = 0; i < ET - 1; i++) {
      c.tick('a');
      c.deliver((m) => m.type !== 'timeoutNow');
      expect(a.transferLeadership('b')).toBe(true);
    }
    c.tick('a');
    expect(a.transferee).toBe(null);
    expect(a.role).toBe('leader');
    expect(a.propose(enc('x')).ok).toBe(true);
  });

  it('a transfer to a learner is refused: a learner cannot be elected (thesis §4.2.1)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    c.join('d');
    expect(a.proposeConfChange({ type: 'addLearner', id: 'd', peerAddress: 'd.example:7000', httpUrl: 'http://d.example:8080' }).ok).toBe(true);
    c.deliverAll();
    expect(a.progressOf('d')?.match).toBe(a.lastIndex); // caught up, so only its role can stop the transfer
    expect(a.transferLeadership('d')).toBe(false);
    expect(a.transferee).toBe(null);
    expect(c.take((m: Message) => m.type === 'timeoutNow' || isAppend(m))).toEqual([]);
  });
});

describe('a follower and its term leader (Raft §5.2)', () => {
  it('a leader that gets AppendEntries from another leader of its own term fails loudly: two leaders in one term break election safety', () => {
    const a = standaloneNode('a', ABC, { term: 1, vote: 'a', entries: entriesOf([1]) }, { preVote: false });
    for (let i = 0; i < 4 * ET && a.role !== 'candidate'; i++) a.tick();
    cycle(a);
    a.step({ type: 'voteResponse', from: 'b', to: 'a', term: a.term, reject: false });
    expect(a.role).toBe('leader');
    expect(() => a.step(appendMsg('c', 'a', a.term, 1, 1, [], 0))).toThrow(InvariantError);
  });

  it('leader traffic restarts a follower election timer but does not redraw its random timeout: that is drawn once per term (etcd reset)', () => {
    // Two followers with the same seed; one hears the leader once, the other many times, in the same tick.
    const ticksToCampaign = (heartbeats: number): number => {
      const f = standaloneNode('b', ABC, { term: 1, entries: entriesOf([1]) }, {}, 11);
      for (let i = 0; i < heartbeats; i++) f.step(heartbeatMsg('a', 'b', 1));
      cycle(f);
      let ticks = 0;
      while (f.role === 'follower' && ticks < 4 * ET) {
        f.tick();
        ticks++;
      }
      expect(f.role).not.toBe('follower');
      return ticks;
    };
    const once = ticksToCampaign(1);
    for (const heartbeats of [2, 3, 5, 8]) expect(ticksToCampaign(heartbeats), `${heartbeats} heartbeats`).toBe(once);
  });
});

describe('leader timers (Raft §5.2)', () => {
  it('a leader sends its heartbeats once every heartbeatTicks ticks, not on every tick', () => {
    const c = new ScriptedCluster(ABC, { heartbeatTicks: 3 });
    c.elect('a');
    c.tick('a', 3);
    c.deliverAll(); // from here the heartbeat count starts at 0
    const heartbeatsAfterEachTick: number[] = [];
    for (let i = 0; i < 6; i++) {
      c.tick('a');
      heartbeatsAfterEachTick.push(c.take((m) => m.type === 'heartbeat').length);
    }
    expect(heartbeatsAfterEachTick).toEqual([0, 0, 2, 0, 0, 2]);
  });
});
