import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type Entry, type Message, type NodeId, type RaftNode } from '../../src/raft/index.js';
import { ScriptedCluster, cMissedThreeEntries, cycle, enc, standaloneNode } from './harness.js';
import { appendMsg, voteMsg } from './messages.js';

/**
 * The Ready/advance contract (ready-cycle.ts): what a Ready must hand out and which messages may leave before its
 * write is durable (Raft Figure 2: persistent state is stable "before responding to RPCs"; thesis §10.2.1: a leader
 * may send its replication before its own write). Edges found by mutation testing (issue 17).
 */

const ABC: NodeId[] = ['a', 'b', 'c'];

/** soloWithLearner is the log of a one-voter cluster ('a') with a learner ('b'), as its config entry at index 1. */
function soloWithLearner(term: number): Entry[] {
  return [{ index: 1, term, type: 'config', data: new Uint8Array(0), config: { voters: ['a'], learners: ['b'], members: [] } }];
}

/** durableLeader is 'a' leading a one-voter cluster with learner 'b' (replicating to it), its term and vote handed out (durable). */
function durableLeader(): RaftNode {
  const a = standaloneNode('a', ['a'], { term: 1, vote: 'a', commit: 1, entries: soloWithLearner(1) }, { checkQuorum: false });
  for (let i = 0; i < 100 && a.role !== 'leader'; i++) a.tick();
  expect(a.role).toBe('leader');
  cycle(a);
  cycle(a); // the no-op committed on the leader's own write (one voter); the learner hears the commit
  a.step({ type: 'appendResponse', from: 'b', to: 'a', term: 2, reject: false, index: 2, hintIndex: 0, hintTerm: 0 });
  expect(a.progressOf('b')).toMatchObject({ match: 2, state: 'replicate' });
  expect(a.hasReady()).toBe(false);
  return a;
}

const typesTo = (ms: readonly Message[]): [string, NodeId][] => ms.map((m) => [m.type, m.to]);

describe('what may leave before a Ready is durable', () => {
  it('a leader whose term and vote are durable sends its AppendEntries early, before its own write', () => {
    const a = durableLeader();
    a.propose(enc('x'));
    const rd = a.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([3]);
    expect(typesTo(rd.earlyMessages)).toEqual([['append', 'b']]);
    expect(rd.messages).toEqual([]);
  });

  it('a leader whose term and vote are durable sends its heartbeats early', () => {
    const a = durableLeader();
    for (let i = 0; i < 100 && !a.hasReady(); i++) a.tick();
    const rd = a.ready();
    expect(typesTo(rd.earlyMessages)).toEqual([['heartbeat', 'b']]);
    expect(rd.messages).toEqual([]);
  });

  it('a leader sends its snapshots and TimeoutNow early too: neither acknowledges anything of the receiver', () => {
    const c = cMissedThreeEntries();
    const a = c.node('a');
    c.compact('a');
    c.reconnect('c');
    c.readyLog = [];
    c.tick('a'); // heartbeat; c's answer shows it behind the compaction point
    c.deliverAll();
    expect(c.node('c').commitIndex).toBe(a.commitIndex);
    expect(a.transferLeadership('c')).toBe(true);
    c.drain();
    const fromA = c.readyLog.filter((r) => r.id === 'a').map((r) => r.ready);
    const early = fromA.flatMap((rd) => rd.earlyMessages);
    expect(typesTo(early.filter((m) => m.type === 'snapshot' || m.type === 'timeoutNow'))).toEqual([
      ['snapshot', 'c'],
      ['timeoutNow', 'c'],
    ]);
    expect(fromA.flatMap((rd) => rd.messages).filter((m) => m.type === 'snapshot' || m.type === 'timeoutNow')).toEqual([]);
  });

  it('a leader holds its append responses until its write is durable', () => {
    // A leader answers a stale leader's AppendEntries (PreVote/CheckQuorum on) so that it steps down.
    const a = standaloneNode('a', ['a'], { term: 1, vote: 'a', commit: 1, entries: soloWithLearner(1) });
    for (let i = 0; i < 100 && a.role !== 'leader'; i++) a.tick();
    cycle(a);
    a.step(appendMsg('b', 'a', 1, 1, 1, [], 1));
    const rd = a.ready();
    expect(rd.earlyMessages).toEqual([]);
    expect(typesTo(rd.messages)).toEqual([['appendResponse', 'b']]);
  });

  it('a leader that steps down sends nothing early, not even the heartbeats it queued while it led', () => {
    const c = new ScriptedCluster(ABC); // CheckQuorum on
    c.elect('a');
    const a = c.node('a');
    // No Ready taken and no follower heard from: the heartbeats queue up until the CheckQuorum round deposes a.
    for (let i = 0; i < 2 * DEFAULT_LIMITS.electionTicks && a.role === 'leader'; i++) a.tick();
    expect(a.role).toBe('follower');
    const rd = a.ready();
    expect(rd.hardState).toBe(null); // same term and vote: only the role changed
    expect(rd.earlyMessages).toEqual([]);
    expect(rd.messages.filter((m) => m.type === 'heartbeat').length).toBeGreaterThan(0);
  });

  it('a follower sends nothing before its write is durable', () => {
    const b = standaloneNode('b', ABC, { term: 2 });
    b.step(appendMsg('a', 'b', 2, 0, 0, [{ index: 1, term: 2, type: 'normal', data: enc('x') }], 0));
    const rd = b.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([1]);
    expect(rd.earlyMessages).toEqual([]);
    expect(typesTo(rd.messages)).toEqual([['appendResponse', 'a']]);
  });
});

describe('what a Ready hands out', () => {
  it('no second Ready while one is outstanding, however much work is queued', () => {
    const a = durableLeader();
    a.propose(enc('x'));
    const rd = a.ready();
    a.propose(enc('y'));
    a.tick();
    expect(a.hasReady()).toBe(false);
    a.advance(rd);
    expect(a.hasReady()).toBe(true);
  });

  it('a vote granted in the current term is handed out as hard state, with the answer held until it is durable (Raft Figure 2)', () => {
    const b = standaloneNode('b', ABC, { term: 2 });
    cycle(b);
    b.step(voteMsg('c', 'b', 2, 0, 0));
    const rd = b.ready();
    expect(rd.hardState).toEqual({ term: 2, vote: 'c', commit: 0 });
    expect(rd.earlyMessages).toEqual([]);
    expect(rd.messages.map((m) => [m.type, m.to, m.type === 'voteResponse' ? m.reject : null])).toEqual([['voteResponse', 'c', false]]);
  });

  it('a pre-candidate that loses its pre-election hands out its return to follower, though nothing else changed', () => {
    const a = standaloneNode('a', ABC, { term: 3 }, { preVote: true });
    for (let i = 0; i < 100 && a.role !== 'preCandidate'; i++) a.tick();
    expect(cycle(a).softState.role).toBe('preCandidate');
    a.step({ type: 'preVoteResponse', from: 'b', to: 'a', term: 3, reject: true });
    a.step({ type: 'preVoteResponse', from: 'c', to: 'a', term: 3, reject: true });
    expect(a.role).toBe('follower');
    expect(a.hasReady()).toBe(true);
    const rd = cycle(a);
    expect(rd.softState).toEqual({ role: 'follower', leader: null, term: 3 });
    expect(rd.hardState).toBe(null);
  });

  it('a leader whose own write commits an entry hands out the new commit and broadcasts it at once', () => {
    const a = durableLeader();
    a.propose(enc('x'));
    const first = cycle(a); // the leader's own copy becomes stable only now: the sole voter's quorum
    expect(typesTo(first.earlyMessages)).toEqual([['append', 'b']]);
    expect(a.commitIndex).toBe(3);
    expect(a.hasReady()).toBe(true);
    const second = cycle(a);
    expect(second.hardState).toEqual({ term: 2, vote: 'a', commit: 3 });
    expect(second.committedEntries.map((e) => e.index)).toEqual([3]);
    const appends = [...second.earlyMessages, ...second.messages].filter((m) => m.type === 'append');
    expect(appends.map((m) => [m.to, m.type === 'append' ? m.commit : -1])).toEqual([['b', 3]]);
  });
});

describe('bounds', () => {
  it('at most 65,536 messages wait for the next Ready; the rest are dropped, which Raft tolerates as message loss', () => {
    const b = standaloneNode('b', ABC, { term: 1 });
    for (let i = 0; i < 65_536 + 10; i++) b.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0, context: null });
    const rd = b.ready();
    expect(rd.earlyMessages.length + rd.messages.length).toBe(65_536);
    expect(rd.messages.every((m) => m.type === 'heartbeatResponse' && m.to === 'a')).toBe(true);
  });
});
