import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type Message, type NodeId, type RaftNode } from '../../src/raft/index.js';
import { ScriptedCluster, enc } from './harness.js';

/** Membership rules (thesis §4.1, learner promotion as in etcd-io/raft) at the edges the membership tests leave open. */

const ABC: NodeId[] = ['a', 'b', 'c'];

describe('learner promotion at the edges', () => {
  it('a learner exactly maxPromoteLagEntries behind may be promoted: the bound is inclusive', () => {
    const c = new ScriptedCluster(ABC, { maxPromoteLagEntries: 3 });
    c.elect('a');
    const a = c.node('a');
    c.join('d');
    expect(a.proposeConfChange({ type: 'addLearner', id: 'd', peerAddress: 'd.example:7000', httpUrl: 'http://d.example:8080' }).ok).toBe(true);
    c.deliverAll();
    expect(a.progressOf('d')!.match).toBe(a.lastIndex); // caught up, configuration committed everywhere
    c.isolate('d');
    for (let i = 0; i < 3; i++) a.propose(enc(`x${i}`));
    c.deliverAll();
    expect(a.lastIndex - a.progressOf('d')!.match).toBe(3);
    expect(a.proposeConfChange({ type: 'promote', id: 'd' })).toMatchObject({ ok: true });
  });
});

const addLearner = (id: NodeId) => ({ type: 'addLearner' as const, id, peerAddress: `${id}.example:7000`, httpUrl: `http://${id}.example:8080` });

/** appendsFromA takes a's queued AppendEntries off the network, undelivered. */
const appendsFromA = (c: ScriptedCluster): Message[] => c.take((m) => m.type === 'append' && m.from === 'a');

/** stepAll steps each message into its receiver and drains (a delivery the test chose by hand). */
function stepAll(c: ScriptedCluster, messages: readonly Message[]): void {
  for (const m of messages) c.node(m.to).step(m);
  c.drain();
}

describe('when a leader may change the configuration', () => {
  it('no change is proposed during a leadership transfer: the leader is handing over (thesis §3.10)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    c.crash('c'); // the transferee never answers, so the transfer stays under way
    expect(a.transferLeadership('c')).toBe(true);
    const last = a.lastIndex;
    expect(a.proposeConfChange(addLearner('d'))).toEqual({ ok: false, reason: 'transferring', leader: 'a' });
    expect(a.lastIndex).toBe(last);
    expect(a.learners()).toEqual([]);
  });

  it('a change keeps what the leader knows of the members that stay: promoting a learner keeps its match (only an added member starts afresh)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    c.join('d');
    expect(a.proposeConfChange(addLearner('d')).ok).toBe(true);
    c.deliverAll();
    c.tick('a', DEFAULT_LIMITS.heartbeatTicks);
    c.deliverAll();
    const before = a.progressOf('d')!;
    expect(before).toMatchObject({ match: a.lastIndex, state: 'replicate' });
    expect(a.proposeConfChange({ type: 'promote', id: 'd' }).ok).toBe(true);
    expect(a.progressOf('d')).toMatchObject({ match: before.match, state: 'replicate' });
    c.deliverAll();
    // A member being removed also keeps its progress while the removal is replicated to it.
    const cMatch = a.progressOf('c')!.match;
    expect(a.proposeConfChange({ type: 'remove', id: 'c' }).ok).toBe(true);
    expect(a.progressOf('c')).toMatchObject({ match: cMatch, state: 'replicate' });
  });
});

/** removalThenX: leader a proposes its own removal, then x; both rounds of AppendEntries are taken off the network undelivered. */
function removalThenX(): { c: ScriptedCluster; a: RaftNode; removal: Message[]; xAppends: Message[] } {
  const c = new ScriptedCluster(ABC);
  c.elect('a');
  const a = c.node('a');
  expect(a.proposeConfChange({ type: 'remove', id: 'a' }).ok).toBe(true);
  c.drain();
  const removal = appendsFromA(c);
  expect(a.propose(enc('x')).ok).toBe(true);
  c.drain();
  return { c, a, removal, xAppends: appendsFromA(c) };
}

describe('the removed leader (thesis §4.2.2)', () => {
  it('keeps leading while entries before its removal commit: only the commit of the removal itself ends its term', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    expect(a.propose(enc('x')).ok).toBe(true);
    c.drain();
    const xAppends = appendsFromA(c);
    const r = a.proposeConfChange({ type: 'remove', id: 'a' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    c.drain();
    appendsFromA(c); // the removal's AppendEntries are lost
    stepAll(c, xAppends);
    c.deliver((m) => m.type === 'appendResponse');
    // x committed under the new configuration {b, c}; the removal did not.
    expect(a.commitIndex).toBe(r.index - 1);
    expect(a.role).toBe('leader');
    expect(a.leader).toBe('a');
    c.drop((m) => m.type === 'timeoutNow');
    c.tick('a', DEFAULT_LIMITS.heartbeatTicks);
    c.deliverAll();
    expect(a.commitIndex).toBeGreaterThanOrEqual(r.index);
    expect(a.role).toBe('follower');
  });

  it('hands over to a voter that holds its whole log, not merely the first voter (thesis §3.10)', () => {
    const { c, a, removal, xAppends } = removalThenX();
    // c gets everything, b only the removal: b is not caught up when the removal commits.
    stepAll(c, removal);
    stepAll(c, xAppends.filter((m) => m.to === 'c'));
    c.deliver((m) => m.type === 'appendResponse' && m.from === 'c');
    expect(a.role).toBe('leader');
    c.deliver((m) => m.type === 'appendResponse' && m.from === 'b');
    expect(a.role).toBe('follower');
    expect(c.inbox.filter((m) => m.type === 'timeoutNow').map((m) => [m.from, m.to])).toEqual([['a', 'c']]);
  });

  it('sends no TimeoutNow when no voter holds its whole log: the next leader is then elected by timeout (thesis §3.10)', () => {
    const { c, a, removal } = removalThenX(); // x reaches nobody
    stepAll(c, removal);
    c.deliver((m) => m.type === 'appendResponse');
    expect(a.role).toBe('follower');
    expect(c.inbox.filter((m) => m.type === 'timeoutNow')).toEqual([]);
  });
});

describe('memberProgress', () => {
  it("reports the leader itself by what it has made durable, with no lag once its write is durable", () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    a.propose(enc('x'));
    c.deliverAll();
    expect(a.memberProgress()!.find((p) => p.id === 'a')).toEqual({ id: 'a', suffrage: 'voter', match: a.lastIndex, lag: 0, state: 'self' });
  });
});
