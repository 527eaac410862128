import { describe, expect, it } from 'vitest';
import type { NodeId, RaftNode } from '../../src/raft/index.js';
import { ScriptedCluster, cycle, entriesOf, standaloneNode } from './harness.js';
import { grants, isVoteResponse, voteMsg } from './messages.js';

/**
 * Election rules (Raft §5.2, §5.4.1; PreVote, thesis §9.6) at the edges the Figure 2 tests leave open, found by
 * mutation testing: who may still be granted a vote in a term, when a vote restarts the election timer, what a lost
 * election and a pre-campaign leave behind.
 */

const VANILLA = { preVote: false, checkQuorum: false };
const ABC: NodeId[] = ['a', 'b', 'c'];

/** ticksToCampaign counts the ticks a node takes to start a (pre-)campaign from now. */
function ticksToCampaign(n: RaftNode): number {
  const term = n.term;
  for (let i = 1; i <= 100; i++) {
    n.tick();
    if (n.role !== 'follower' || n.term !== term) return i;
  }
  throw new Error('no campaign within 100 ticks');
}

describe('election rules at the edges (Raft §5.2)', () => {
  it('a server starts as a follower that knows no leader (Raft §5.2: servers begin as followers)', () => {
    const b = standaloneNode('b', ABC);
    expect(b).toMatchObject({ role: 'follower', leader: null, term: 0 });
  });

  it('an election timeout starts an ordinary election: its votes do not ask voters to ignore their leader lease (only TimeoutNow may, thesis §3.10, §4.2.3)', () => {
    const c = new ScriptedCluster(ABC, { preVote: false, checkQuorum: true });
    c.elect('a');
    c.cut.add('a->b').add('b->a'); // b stops hearing the leader; c still does
    const term = c.node('c').term;
    c.campaign('b');
    expect(c.node('b').role).toBe('candidate');
    const votes = c.take((m) => m.type === 'vote' && m.from === 'b');
    expect(votes.map((m) => [m.to, m.type === 'vote' && m.transfer])).toEqual([
      ['a', false],
      ['c', false],
    ]);
    c.node('c').step(votes[1]!);
    c.drain();
    expect(c.inbox.filter(isVoteResponse)).toEqual([]);
    expect(c.node('c')).toMatchObject({ term, leader: 'a', vote: 'a' });
  });

  it('a follower that knows the leader of its term grants no vote in that term, though it voted for nobody (Raft §5.2: one leader per term)', () => {
    const b = standaloneNode('b', ABC, { term: 3, entries: entriesOf([1, 3]) }, VANILLA);
    b.step({ type: 'heartbeat', from: 'a', to: 'b', term: 3, commit: 0, context: null });
    cycle(b);
    expect(b.leader).toBe('a');
    b.step(voteMsg('c', 'b', 3, 5, 3));
    expect(cycle(b).messages.filter(isVoteResponse)).toEqual([expect.objectContaining({ to: 'c', reject: true })]);
    expect(b.vote).toBe(null);
  });

  it('a pre-vote at our own term is granted only on the terms of a vote: having voted for another, it is refused (thesis §9.6)', () => {
    const b = standaloneNode('b', ABC, { term: 3, vote: 'a', entries: entriesOf([1, 3]) });
    b.step(voteMsg('c', 'b', 3, 5, 3, { preVote: true }));
    expect(cycle(b).messages.filter(isVoteResponse)).toEqual([expect.objectContaining({ type: 'preVoteResponse', reject: true, term: 3 })]);
    // At a higher prospective term the same pre-vote is granted: a pre-vote promises nothing.
    b.step(voteMsg('c', 'b', 4, 5, 3, { preVote: true }));
    expect(grants(cycle(b).messages)).toEqual([expect.objectContaining({ type: 'preVoteResponse', term: 4 })]);
  });

  it('granting a vote restarts the election timer (Figure 2, Followers: time out only without AppendEntries or granting a vote)', () => {
    // Two identical nodes (same seed, same durable state, term 3 with no vote): one shows when its timer fires.
    const durable = { term: 3, entries: entriesOf([1, 3]) };
    const timeout = ticksToCampaign(standaloneNode('b', ABC, durable, VANILLA, 11));
    const b = standaloneNode('b', ABC, durable, VANILLA, 11);
    for (let i = 0; i < timeout - 1; i++) b.tick();
    b.step(voteMsg('c', 'b', 3, 5, 3)); // same term: no term change resets the timer here, only the grant does
    expect(grants(cycle(b).messages)).toHaveLength(1);
    b.tick();
    expect(b).toMatchObject({ role: 'follower', term: 3, vote: 'c' });
  });

  it('a candidate refused by a majority returns to follower at once, in the same term (Raft §5.2)', () => {
    const c = new ScriptedCluster(ABC, VANILLA);
    c.campaign('a');
    const a = c.node('a');
    expect(a).toMatchObject({ role: 'candidate', term: 1 });
    // Both voters refuse: their logs are longer (a's RequestVote says its log is empty, but theirs is not).
    const refusals = c.take((m) => m.type === 'vote').map((m) => ({ type: 'voteResponse' as const, from: m.to, to: 'a', term: 1, reject: true }));
    for (const m of refusals) a.step(m);
    expect(a).toMatchObject({ role: 'follower', term: 1, vote: 'a' });
  });

  it('a pre-candidate forgets the leader it followed: it is looking for a new one (thesis §9.6)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    c.crash('a');
    const b = c.node('b');
    expect(b.leader).toBe('a');
    c.campaign('b');
    expect(b).toMatchObject({ role: 'preCandidate', leader: null });
  });

  it('a learner ignores TimeoutNow, even from its leader: only a voter may campaign (thesis §3.10, §4.2.1)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    c.join('d');
    expect(c.node('a').proposeConfChange({ type: 'addLearner', id: 'd', peerAddress: '127.0.0.1:1', httpUrl: 'http://127.0.0.1:2' })).toMatchObject({ ok: true });
    c.deliverAll();
    const d = c.node('d');
    expect(d.leader).toBe('a');
    d.step({ type: 'timeoutNow', from: 'a', to: 'd', term: d.term });
    expect(d).toMatchObject({ role: 'follower', leader: 'a' });
  });

  it('every pre-campaign draws a fresh timeout in [electionTicks, 2 * electionTicks) (Raft §5.2 randomized timeouts)', () => {
    const c = new ScriptedCluster(ABC, {}, 5);
    c.isolate('a');
    const a = c.node('a');
    c.campaign('a');
    const gaps: number[] = [];
    for (let round = 0; round < 8; round++) {
      const before = c.readyLog.length;
      let ticks = 0;
      do {
        c.tick('a');
        ticks++;
      } while (!c.readyLog.slice(before).some((r) => r.ready.messages.some((m) => m.type === 'preVote')) && ticks < 100);
      gaps.push(ticks);
      c.drop(() => true);
    }
    expect(a.role).toBe('preCandidate');
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(10);
    for (const gap of gaps) expect(gap).toBeLessThan(20);
  });
});

describe('stale terms (Raft §5.1, thesis §9.6 and §6.2)', () => {
  it('with CheckQuorum, a stale leader\'s heartbeat is answered with our term so it steps down (it cannot hear our votes)', () => {
    const f = standaloneNode('b', ABC, { term: 3, entries: entriesOf([1, 3]) });
    f.step({ type: 'heartbeat', from: 'a', to: 'b', term: 2, commit: 0, context: null });
    const rd = cycle(f);
    expect(rd.messages).toEqual([expect.objectContaining({ type: 'appendResponse', to: 'a', term: 3, reject: true })]);
    expect(f).toMatchObject({ term: 3, leader: null });
  });

  it('a stale pre-vote is refused at our term, so the pre-candidate learns it is behind (thesis §9.6)', () => {
    const f = standaloneNode('b', ABC, { term: 5, entries: entriesOf([1, 3]) });
    f.step(voteMsg('c', 'b', 4, 9, 4, { preVote: true }));
    const rd = cycle(f);
    expect(rd.messages).toEqual([expect.objectContaining({ type: 'preVoteResponse', to: 'c', term: 5, reject: true })]);
    expect(f.term).toBe(5);
  });

  it('with CheckQuorum, a stale RequestVote is dropped: nothing answers it, so nothing tells its sender our term early', () => {
    const f = standaloneNode('b', ABC, { term: 5, entries: entriesOf([1, 3]) });
    f.step(voteMsg('c', 'b', 4, 9, 4));
    expect(cycle(f).messages).toEqual([]);
  });

  it('without PreVote and CheckQuorum a stale AppendEntries is dropped, as etcd does (the stale leader learns our term from RequestVotes)', () => {
    const f = standaloneNode('b', ABC, { term: 5, entries: entriesOf([1, 3]) }, VANILLA);
    f.step({ type: 'heartbeat', from: 'a', to: 'b', term: 4, commit: 0, context: null });
    expect(cycle(f).messages).toEqual([]);
  });

  it('leader lease: a follower hearing from a live leader ignores pre-votes too, not only votes (thesis §4.2.3)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const b = c.node('b');
    b.step(voteMsg('c', 'b', b.term + 1, 100, b.term, { preVote: true }));
    expect(c.take(isVoteResponse)).toEqual([]);
    expect(b).toMatchObject({ leader: 'a', role: 'follower' });
  });

  it('a new leader\'s first entry is a normal, empty entry of its own term (Raft §8 no-op)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    expect(a.entries(a.lastIndex, a.lastIndex)).toEqual([{ index: a.lastIndex, term: a.term, type: 'normal', data: new Uint8Array(0) }]);
  });
});

describe('PreVote and the leader lease (thesis §9.6, §4.2.3)', () => {
  it('the vote after a won pre-vote is an ordinary vote: it does not bypass the voters\' leader lease (thesis §4.2.3, §9.6)', () => {
    const a = standaloneNode('a', ABC, { term: 3, entries: entriesOf([1, 3]) }, { preVote: true, checkQuorum: true });
    ticksToCampaign(a);
    expect(a.role).toBe('preCandidate');
    const preVotes = cycle(a).messages.filter((m) => m.type === 'preVote');
    expect(preVotes.length).toBeGreaterThan(0);
    a.step({ type: 'preVoteResponse', from: 'b', to: 'a', term: 4, reject: false });
    expect(a).toMatchObject({ role: 'candidate', term: 4 });
    const votes = cycle(a).messages.filter((m) => m.type === 'vote');
    expect(votes.map((m) => m.to).sort()).toEqual(['b', 'c']);
    // Only a leader's TimeoutNow (thesis §3.10) may ask voters to ignore their lease; a pre-vote winner may not.
    for (const v of votes) expect(v).toMatchObject({ transfer: false });
  });
});
