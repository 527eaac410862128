import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type NodeId } from '../../src/raft/index.js';
import { ScriptedCluster, cycle, entriesOf, standaloneNode } from './harness.js';
import { grants, isVoteResponse, voteMsg } from './messages.js';

const ABC: NodeId[] = ['a', 'b', 'c'];
const ET = DEFAULT_LIMITS.electionTicks;

/** runFor ticks every listed live node once per round and delivers everything, `rounds` times. */
function runFor(c: ScriptedCluster, rounds: number, ids: readonly NodeId[]): void {
  for (let i = 0; i < rounds; i++) {
    for (const id of ids) c.tick(id);
    c.deliverAll();
  }
}

describe('PreVote (thesis §9.6)', () => {
  it('a partitioned node rejoining does not raise the term of the cluster and does not depose the leader', () => {
    const c = new ScriptedCluster(ABC); // defaults: PreVote and CheckQuorum on
    c.elect('a');
    const term = c.node('a').term;
    c.isolate('c');
    // c times out over and over while cut off; a and b carry on.
    runFor(c, 10 * ET, ABC);
    expect(c.node('c').term).toBe(term);
    expect(c.node('c').role).toBe('preCandidate');
    c.heal();
    runFor(c, 3 * ET, ABC);
    expect(c.node('a').role).toBe('leader');
    for (const id of ABC) expect(c.node(id).term, id).toBe(term);
    expect(c.node('c')).toMatchObject({ role: 'follower', leader: 'a' });
  });

  it('without PreVote and CheckQuorum the same rejoin raises the term and deposes the leader (the check above can fail)', () => {
    const c = new ScriptedCluster(ABC, { preVote: false, checkQuorum: false });
    c.elect('a');
    const term = c.node('a').term;
    c.isolate('c');
    runFor(c, 10 * ET, ABC);
    expect(c.node('c').term).toBeGreaterThan(term + 1);
    c.heal();
    runFor(c, 3 * ET, ABC);
    expect(c.node('a').term).toBeGreaterThan(term + 1);
  });

  it('a pre-vote changes neither the receiver\'s term and vote nor the pre-candidate\'s', () => {
    // Receiver: in term 2, voted for a, no known leader; c asks for a pre-vote at term 3 with an up-to-date log.
    const b = standaloneNode('b', ABC, { term: 2, vote: 'a', entries: entriesOf([1, 2]) });
    b.step(voteMsg('c', 'b', 3, 2, 2, { preVote: true }));
    const rd = cycle(b);
    expect(grants(rd.messages)).toEqual([expect.objectContaining({ type: 'preVoteResponse', to: 'c', term: 3 })]);
    expect(b.term).toBe(2);
    expect(b.vote).toBe('a');
    expect(rd.hardState).toBe(null); // nothing to persist
    // A stale log is refused a pre-vote as it would be refused a vote (§5.4.1).
    b.step(voteMsg('c', 'b', 3, 5, 1, { preVote: true }));
    expect(cycle(b).messages.filter(isVoteResponse)).toEqual([expect.objectContaining({ reject: true })]);

    // Pre-candidate: its term and vote stay; it asks at the term it would campaign at.
    const c = new ScriptedCluster(ABC);
    c.campaign('a');
    const a = c.node('a');
    expect(a).toMatchObject({ role: 'preCandidate', term: 0, vote: null });
    expect(c.inbox.map((m) => [m.type, m.to, m.term])).toEqual([
      ['preVote', 'b', 1],
      ['preVote', 'c', 1],
    ]);
    expect(c.readyLog.every((r) => r.ready.hardState === null)).toBe(true);
  });

  it('a pre-candidate that wins a majority of pre-votes campaigns for real at term + 1', () => {
    const c = new ScriptedCluster(ABC);
    c.campaign('a');
    c.deliver((m) => m.type === 'preVote');
    c.deliver((m) => m.type === 'preVoteResponse' && m.from === 'b');
    const a = c.node('a');
    expect(a).toMatchObject({ role: 'candidate', term: 1, vote: 'a' });
    expect(c.inbox.filter((m) => m.type === 'vote').map((m) => m.to)).toEqual(['b', 'c']);
    c.deliverAll();
    expect(a.role).toBe('leader');
  });
});

describe('CheckQuorum (thesis §6.2)', () => {
  it('a leader cut off from a majority steps down within 2 election timeouts', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    runFor(c, 2 * ET, ABC);
    c.isolate('a');
    const ticks = c.tickUntil('a', (n) => n.role !== 'leader', 2 * ET);
    expect(ticks).toBeLessThanOrEqual(2 * ET);
    expect(c.node('a').role).toBe('follower');
    // It no longer claims to lead: proposals are refused and reads have no leader to go to.
    expect(c.node('a').propose(new Uint8Array([1]))).toMatchObject({ ok: false, reason: 'not_leader' });
  });

  it('a leader that hears from a majority keeps leading (5 nodes, 2 followers cut off)', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const c = new ScriptedCluster(ids);
    c.elect('a');
    c.isolate('d');
    c.isolate('e');
    runFor(c, 5 * ET, ['a', 'b', 'c']);
    expect(c.node('a').role).toBe('leader');
    // Losing one more follower leaves a with 2 of 5: it steps down.
    c.isolate('c');
    const ticks = c.tickUntil('a', (n) => n.role !== 'leader', 2 * ET);
    expect(ticks).toBeLessThanOrEqual(2 * ET);
  });

  it('leader lease: a follower that hears from a leader ignores RequestVotes (no vote, no term change) until an election timeout passes without it', () => {
    const c = new ScriptedCluster(ABC, { preVote: false, checkQuorum: true });
    c.elect('a');
    const b = c.node('b');
    const term = b.term;
    b.step(voteMsg('c', 'b', term + 1, 100, term));
    c.drain();
    expect(c.inbox.filter(isVoteResponse)).toEqual([]);
    expect(b).toMatchObject({ term, leader: 'a', role: 'follower' });
    // After a full election timeout of silence from the leader, the lease has expired and the vote counts.
    c.tick('b', ET);
    expect(b.role).toBe('follower'); // its randomized timeout (>= ET) has not fired: the seed is fixed
    b.step(voteMsg('c', 'b', term + 1, 100, term));
    c.drain();
    expect(grants(c.inbox)).toEqual([expect.objectContaining({ to: 'c', term: term + 1 })]);
  });
});
