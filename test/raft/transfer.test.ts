import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type NodeId } from '../../src/raft/index.js';
import { ScriptedCluster, dec, enc } from './harness.js';

const ABC: NodeId[] = ['a', 'b', 'c'];
const ET = DEFAULT_LIMITS.electionTicks;

describe('leadership transfer (thesis §3.10)', () => {
  it('TimeoutNow to an up-to-date follower makes it leader in the next term, bypassing PreVote and the leader lease', () => {
    const c = new ScriptedCluster(ABC); // PreVote and CheckQuorum on: c is inside a's lease
    c.elect('a');
    c.node('a').propose(enc('x'));
    c.deliverAll();
    const term = c.node('a').term;
    expect(c.node('a').transferLeadership('b')).toBe(true);
    c.drain();
    expect(c.inbox.map((m) => [m.type, m.to])).toEqual([['timeoutNow', 'b']]);
    c.deliver(() => true);
    expect(c.node('b')).toMatchObject({ role: 'candidate', term: term + 1 });
    const votes = c.inbox.filter((m) => m.type === 'vote' || m.type === 'preVote');
    expect(votes.map((m) => (m.type === 'vote' ? [m.type, m.to, m.transfer] : [m.type]))).toEqual([
      ['vote', 'a', true],
      ['vote', 'c', true],
    ]);
    c.deliverAll();
    expect(c.node('b')).toMatchObject({ role: 'leader', term: term + 1 });
    expect(c.node('a')).toMatchObject({ role: 'follower', leader: 'b' });
    c.node('b').propose(enc('y'));
    c.deliverAll();
    for (const id of ABC) expect(c.applied.get(id)!.filter((e) => e.data.length > 0).map((e) => dec(e.data))).toEqual(['x', 'y']);
  });

  it('a transfer to a lagging follower first catches it up, refusing proposals as transferring meanwhile', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    c.crash('c');
    for (let i = 0; i < 3; i++) a.propose(enc(`p${i}`));
    c.deliverAll();
    c.reconnect('c');
    expect(a.transferLeadership('c')).toBe(true);
    expect(a.transferee).toBe('c');
    expect(a.propose(enc('during'))).toEqual({ ok: false, reason: 'transferring', leader: 'a' });
    let timeoutNowSeen = 0;
    for (let round = 0; round < 50 && (c.drain(), c.inbox.length > 0); round++) {
      for (const m of c.take()) {
        if (m.type === 'timeoutNow') {
          timeoutNowSeen++;
          // Only once c holds everything a has does a tell it to campaign.
          expect(c.node('c').lastIndex).toBe(a.lastIndex);
        }
        c.node(m.to).step(m);
      }
    }
    expect(timeoutNowSeen).toBe(1);
    expect(c.node('c').role).toBe('leader');
    expect(a.role).toBe('follower');
    expect(c.node('c').propose(enc('after')).ok).toBe(true);
  });

  it('a transfer that does not complete within an election timeout is aborted, and proposals are accepted again', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    c.crash('c'); // the transferee never answers
    expect(a.transferLeadership('c')).toBe(true);
    expect(a.propose(enc('x'))).toMatchObject({ ok: false, reason: 'transferring' });
    let ticks = 0;
    while (a.transferee !== null && ticks < 2 * ET) {
      c.tick('a');
      c.deliverAll();
      ticks++;
    }
    expect(a.transferee).toBe(null);
    expect(ticks).toBeLessThanOrEqual(ET);
    expect(a.role).toBe('leader');
    expect(a.propose(enc('x'))).toMatchObject({ ok: true });
  });

  it('transferLeadership refuses what cannot work: from a follower, to itself, to a non-member', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    expect(c.node('b').transferLeadership('c')).toBe(false);
    expect(c.node('a').transferLeadership('a')).toBe(false);
    expect(c.node('a').transferLeadership('z')).toBe(false);
    expect(c.node('a').transferee).toBe(null);
    expect(c.node('a').propose(enc('x')).ok).toBe(true);
  });
});
