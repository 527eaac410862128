import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type ConfChange, type Message, type NodeId } from '../../src/raft/index.js';
import { ScriptedCluster, enc } from './harness.js';

/**
 * Membership change, one rule a test (thesis §4.1-§4.2, the raft-dev single-server fix of 2015, learners as in
 * etcd-io/raft and hashicorp/raft). PreVote and CheckQuorum stay on unless a test says otherwise, as in production.
 */
const ABC: NodeId[] = ['a', 'b', 'c'];

function addLearner(id: NodeId): ConfChange {
  return { type: 'addLearner', id, peerAddress: `${id}.example:7000`, httpUrl: `http://${id}.example:8080` };
}

/** withLearner is a cluster of voters (a, b, c unless told) led by a, with `d` joined and added as a learner (committed and caught up). */
function withLearner(overrides = {}, voters: NodeId[] = ABC): ScriptedCluster {
  const c = new ScriptedCluster(voters, overrides);
  c.elect('a');
  c.join('d');
  expect(c.node('a').proposeConfChange(addLearner('d')).ok).toBe(true);
  c.deliverAll();
  c.tick('a', DEFAULT_LIMITS.heartbeatTicks);
  c.deliverAll();
  return c;
}

function votesSentBy(c: ScriptedCluster, id: NodeId): Message[] {
  return c.take((m) => m.from === id && (m.type === 'vote' || m.type === 'preVote'));
}

describe('single-server membership change (thesis §4.1)', () => {
  it('a configuration takes effect as soon as its entry is in a log, before it commits', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const r = c.node('a').proposeConfChange(addLearner('d'));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(c.node('a').learners()).toEqual(['d']);
    expect(c.node('a').commitIndex).toBeLessThan(r.index);
    // A follower adopts it on append, before it hears that it committed.
    c.deliver((m) => m.type === 'append' && m.to === 'b');
    expect(c.node('b').lastIndex).toBe(r.index);
    expect(c.node('b').commitIndex).toBeLessThan(r.index);
    expect(c.node('b').configuration().learners).toEqual(['d']);
    expect(c.node('b').configuration().members).toEqual([{ id: 'd', peerAddress: 'd.example:7000', httpUrl: 'http://d.example:8080' }]);
  });

  it('a leader proposes no configuration change until an entry of its own term has committed (raft-dev, 2015)', () => {
    const c = new ScriptedCluster(ABC);
    c.campaign('a');
    // Win the election without letting the no-op reach anyone.
    for (let i = 0; i < 10 && c.node('a').role !== 'leader'; i++) {
      c.deliver((m) => m.type !== 'append');
      c.tick('a');
    }
    const a = c.node('a');
    expect(a.role).toBe('leader');
    expect(a.termAt(a.commitIndex)).not.toBe(a.term);
    expect(a.proposeConfChange(addLearner('d'))).toEqual({ ok: false, reason: 'own_term_not_committed', leader: 'a' });
    c.deliverAll();
    expect(a.termAt(a.commitIndex)).toBe(a.term);
    expect(a.proposeConfChange(addLearner('d')).ok).toBe(true);
  });

  it('a second configuration change is refused while one is uncommitted', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    expect(a.proposeConfChange(addLearner('d')).ok).toBe(true);
    expect(a.proposeConfChange(addLearner('e'))).toEqual({ ok: false, reason: 'change_in_progress', leader: 'a' });
    c.deliverAll();
    expect(a.commitIndex).toBe(a.configurationIndex);
    expect(a.proposeConfChange(addLearner('e')).ok).toBe(true);
  });

  it('a change must fit the configuration: no unknown member, no second add, promote only a learner, keep one voter', () => {
    const c = withLearner();
    const a = c.node('a');
    expect(a.proposeConfChange({ type: 'remove', id: 'x' })).toMatchObject({ ok: false, reason: 'unknown_member' });
    expect(a.proposeConfChange({ type: 'promote', id: 'x' })).toMatchObject({ ok: false, reason: 'unknown_member' });
    expect(a.proposeConfChange(addLearner('b'))).toMatchObject({ ok: false, reason: 'already_member' });
    expect(a.proposeConfChange(addLearner('d'))).toMatchObject({ ok: false, reason: 'already_member' });
    expect(a.proposeConfChange({ type: 'promote', id: 'b' })).toMatchObject({ ok: false, reason: 'not_learner' });
    const solo = new ScriptedCluster(['a']);
    solo.elect('a');
    expect(solo.node('a').proposeConfChange({ type: 'remove', id: 'a' })).toMatchObject({ ok: false, reason: 'last_voter' });
    expect(new ScriptedCluster(ABC).node('b').proposeConfChange(addLearner('d'))).toMatchObject({ ok: false, reason: 'not_leader' });
  });

  it('a truncated configuration entry reverts the configuration', () => {
    const c = new ScriptedCluster(ABC, { preVote: false, checkQuorum: false });
    c.elect('a');
    const a = c.node('a');
    const r = a.proposeConfChange(addLearner('d'));
    expect(r.ok).toBe(true);
    c.drop((m) => m.from === 'a'); // the entry stays in a's log alone
    expect(a.learners()).toEqual(['d']);
    c.isolate('a');
    c.elect('b');
    c.heal();
    c.tick('b', DEFAULT_LIMITS.heartbeatTicks);
    c.deliverAll();
    // b's no-op replaced a's uncommitted config entry, and a's configuration is the one before it again.
    expect(a.role).toBe('follower');
    expect(a.learners()).toEqual([]);
    expect(a.configuration().members).toEqual([]);
    expect(a.configurationIndex).toBe(0);
  });
});

describe('learners', () => {
  it('a joining member learns its configuration from the log and receives appends as a learner', () => {
    const c = withLearner();
    const d = c.node('d');
    expect(d.configuration()).toEqual(c.node('a').configuration());
    expect(d.learners()).toEqual(['d']);
    expect(c.node('a').propose(enc('x')).ok).toBe(true);
    c.deliverAll();
    expect(d.lastIndex).toBe(c.node('a').lastIndex);
    expect(c.applied.get('d')!.map((e) => e.index)).toEqual(c.applied.get('a')!.map((e) => e.index));
  });

  it('a member replaying the log before its first configuration entry cannot snapshot (its configuration there is unknown)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    expect(c.node('a').propose(enc('x')).ok).toBe(true);
    c.deliverAll();
    c.join('d');
    const r = c.node('a').proposeConfChange(addLearner('d'));
    expect(r.ok).toBe(true);
    c.deliverAll();
    const d = c.node('d');
    expect(d.canSnapshotAt(1)).toBe(false);
    expect(() => d.snapshotMetaAt(1)).toThrow(/configuration is unknown/);
    if (r.ok) expect(d.canSnapshotAt(r.index)).toBe(true);
  });

  it('a learner receives snapshots, which carry the configuration', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const r = c.node('a').proposeConfChange(addLearner('d'));
    c.drop((m) => m.to === 'd');
    c.deliverAll();
    for (let i = 0; i < 3; i++) c.node('a').propose(enc(`x${i}`));
    c.deliverAll();
    c.compact('a');
    const meta = c.node('a').snapshotMetaAt(c.node('a').appliedIndex);
    expect(meta.config.learners).toEqual(['d']);
    expect(meta.config.members.map((m) => m.id)).toEqual(['d']);
    // d joins late: everything it needs is compacted, so the leader sends the snapshot.
    c.join('d');
    c.tick('a', DEFAULT_LIMITS.heartbeatTicks);
    c.deliverAll();
    const d = c.node('d');
    expect(r.ok).toBe(true);
    expect(d.firstIndex - 1).toBe(meta.index);
    expect(d.configuration()).toEqual(meta.config);
    expect(d.lastIndex).toBe(c.node('a').lastIndex);
  });

});

describe('learners in majorities', () => {
  it('learners never count toward commit', () => {
    // Two voters and a learner: a and d would be a majority of three if the learner counted.
    const c = withLearner({}, ['a', 'b']);
    const a = c.node('a');
    c.cut.add('a->b').add('b->a');
    const r = a.propose(enc('x'));
    expect(r.ok).toBe(true);
    c.deliverAll();
    expect(c.node('d').lastIndex).toBe(a.lastIndex);
    expect(a.commitIndex).toBeLessThan(a.lastIndex);
    c.cut.clear();
    c.tick('a', DEFAULT_LIMITS.heartbeatTicks);
    c.deliverAll();
    expect(a.commitIndex).toBe(a.lastIndex);
  });

  it('learners never count toward CheckQuorum', () => {
    const c = withLearner({}, ['a', 'b']);
    c.cut.add('b->a');
    // The learner keeps answering every heartbeat; b does not.
    for (let i = 0; i < 3 * DEFAULT_LIMITS.electionTicks && c.node('a').role === 'leader'; i++) {
      c.tick('a');
      c.deliverAll();
    }
    expect(c.inbox).toEqual([]);
    expect(c.node('a').role).toBe('follower');
  });

  it('learners never campaign, and are never asked to vote', () => {
    const c = withLearner();
    c.isolate('d');
    const d = c.node('d');
    const term = d.term;
    for (let i = 0; i < 10 * DEFAULT_LIMITS.electionTicks; i++) c.tick('d');
    expect(votesSentBy(c, 'd')).toEqual([]);
    expect(d.term).toBe(term);
    expect(d.role).toBe('follower');
    c.heal();
    c.isolate('a');
    c.campaign('b');
    expect(c.take((m) => m.type === 'preVote' || m.type === 'vote').map((m) => m.to).sort()).toEqual(['a', 'c']);
  });

  it("a learner's vote never counts toward a candidate's majority", () => {
    const c = withLearner({ preVote: false, checkQuorum: false }, ['a', 'b']);
    c.isolate('a');
    c.campaign('b');
    const b = c.node('b');
    expect(b.role).toBe('candidate');
    // b and d would be 2 of 3 if d were a voter.
    b.step({ type: 'voteResponse', from: 'd', to: 'b', term: b.term, reject: false });
    expect(b.role).toBe('candidate');
    b.step({ type: 'voteResponse', from: 'a', to: 'b', term: b.term, reject: false });
    expect(b.role).toBe('leader');
  });

});

describe('promotion', () => {
  it('promotion is refused while the learner lags more than maxPromoteLagEntries', () => {
    const c = withLearner({ maxPromoteLagEntries: 3 });
    const a = c.node('a');
    c.isolate('d');
    for (let i = 0; i < 5; i++) a.propose(enc(`x${i}`));
    c.deliverAll();
    expect(a.proposeConfChange({ type: 'promote', id: 'd' })).toMatchObject({ ok: false, reason: 'not_caught_up' });
    c.heal();
    c.tick('a', DEFAULT_LIMITS.heartbeatTicks);
    c.deliverAll();
    expect(a.proposeConfChange({ type: 'promote', id: 'd' }).ok).toBe(true);
    c.deliverAll();
    expect(a.voters()).toEqual(['a', 'b', 'c', 'd']);
    expect(c.node('d').voters()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('promotion is refused until every member holds the current configuration (so every member can answer the new voter)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    c.join('d');
    c.isolate('c');
    expect(c.node('a').proposeConfChange(addLearner('d')).ok).toBe(true);
    c.heal();
    c.isolate('c');
    c.deliverAll();
    c.tick('a', DEFAULT_LIMITS.heartbeatTicks);
    c.deliverAll();
    const a = c.node('a');
    expect(a.commitIndex).toBe(a.configurationIndex);
    expect(c.node('c').learners()).toEqual([]);
    expect(a.proposeConfChange({ type: 'promote', id: 'd' })).toMatchObject({ ok: false, reason: 'not_caught_up' });
    c.heal();
    c.tick('a', DEFAULT_LIMITS.heartbeatTicks);
    c.deliverAll();
    expect(a.proposeConfChange({ type: 'promote', id: 'd' }).ok).toBe(true);
  });
});

describe('removal (thesis §4.2)', () => {
  it('a removed member that knows its removal committed stops campaigning', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    expect(c.node('a').proposeConfChange({ type: 'remove', id: 'c' }).ok).toBe(true);
    c.deliverAll();
    c.tick('a', DEFAULT_LIMITS.heartbeatTicks);
    c.deliverAll();
    const removed = c.node('c');
    expect(removed.voters()).toEqual(['a', 'b']);
    expect(removed.commitIndex).toBeGreaterThanOrEqual(removed.configurationIndex);
    c.isolate('c');
    for (let i = 0; i < 10 * DEFAULT_LIMITS.electionTicks; i++) c.tick('c');
    expect(votesSentBy(c, 'c')).toEqual([]);
    expect(removed.role).toBe('follower');
  });

  it('a server removed by a configuration not yet committed still campaigns, without counting its own vote (thesis §4.2.2)', () => {
    // Two voters; the leader removes itself and only it holds the change. b alone cannot win: a's vote is needed
    // under {a, b}, and a's log is the more up to date. a must campaign for {b} and commit the change.
    const c = new ScriptedCluster(['a', 'b'], { preVote: false, checkQuorum: false });
    c.elect('a');
    expect(c.node('a').proposeConfChange({ type: 'remove', id: 'a' }).ok).toBe(true);
    c.drop((m) => m.from === 'a');
    c.restart('a');
    expect(c.node('a').voters()).toEqual(['b']);
    for (let i = 0; i < 200 && c.node('b').role !== 'leader'; i++) {
      c.tick('a');
      c.tick('b');
      c.deliverAll();
    }
    expect(c.node('b').role).toBe('leader');
    expect(c.node('b').voters()).toEqual(['b']);
    expect(c.node('b').commitIndex).toBeGreaterThanOrEqual(c.node('b').configurationIndex);
    expect(c.node('a').role).toBe('follower');
  });

  it('a member being removed is replicated to until it learns its removal committed', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    c.cut.add('a->c');
    expect(a.proposeConfChange({ type: 'remove', id: 'c' }).ok).toBe(true);
    // The configuration being left and the new one: c is still a peer while the change is pending.
    expect(a.peerMembers()).toEqual(['b', 'c']);
    c.deliverAll();
    // Committed by a and b ({a, b} is the whole new configuration), but c has not heard: a keeps replicating to it.
    expect(a.commitIndex).toBe(a.configurationIndex);
    expect(c.node('c').voters()).toEqual(['a', 'b', 'c']);
    expect(a.peerMembers()).toEqual(['b', 'c']);
    c.cut.clear();
    c.tick('a', DEFAULT_LIMITS.heartbeatTicks);
    c.deliverAll();
    expect(c.node('c').voters()).toEqual(['a', 'b']);
    expect(c.node('c').commitIndex).toBeGreaterThanOrEqual(c.node('c').configurationIndex);
    // At the next CheckQuorum round, a lets c go.
    for (let i = 0; i < DEFAULT_LIMITS.electionTicks; i++) {
      c.tick('a');
      c.deliverAll();
    }
    expect(a.peerMembers()).toEqual(['b']);
    expect(a.memberProgress()!.map((p) => p.id)).toEqual(['a', 'b']);
  });

  it('a member removed and added back at once (its disk wiped) is replicated from scratch, not from what the leader knew of it', () => {
    // The leader forgets a removed member's progress only at its next CheckQuorum round; an add before that round
    // must not inherit it: a stale match would make every rejection of the empty learner look stale (Progress.maybeDecrTo)
    // and it would never catch up (a Jepsen member-replacement run under load, 2026-12-07).
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    for (let i = 0; i < 5; i++) a.propose(enc(`x${i}`));
    c.deliverAll();
    expect(a.proposeConfChange({ type: 'remove', id: 'c' }).ok).toBe(true);
    c.deliverAll();
    expect(a.commitIndex).toBe(a.configurationIndex);
    c.wipe('c');
    c.join('c');
    expect(a.proposeConfChange(addLearner('c')).ok).toBe(true);
    expect(a.memberProgress()!.find((p) => p.id === 'c')?.match).toBe(0);
    for (let round = 0; round < 5; round++) {
      c.tick('a', DEFAULT_LIMITS.heartbeatTicks);
      c.deliverAll();
    }
    expect(c.node('c').lastIndex).toBe(a.lastIndex);
    expect(a.proposeConfChange({ type: 'promote', id: 'c' }).ok).toBe(true);
  });

  it('the removed leader leads without counting itself until its removal commits, then steps down and hands over', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    c.cut.add('a->c');
    const r = a.proposeConfChange({ type: 'remove', id: 'a' });
    expect(r.ok).toBe(true);
    c.deliverAll();
    // a and b hold it, but the new configuration {b, c} needs both b and c: a does not count itself.
    expect(a.role).toBe('leader');
    expect(a.voters()).toEqual(['b', 'c']);
    expect(a.commitIndex).toBeLessThan(a.configurationIndex);
    c.cut.clear();
    c.tick('a', DEFAULT_LIMITS.heartbeatTicks);
    const term = a.term;
    for (let i = 0; i < 20 && a.commitIndex < a.configurationIndex; i++) c.deliver((m) => m.type !== 'timeoutNow');
    // The commit of its removal is the step-down: same term, no leader known, and a TimeoutNow to a caught-up voter.
    expect(a.commitIndex).toBe(a.configurationIndex);
    expect(a.role).toBe('follower');
    expect(a.term).toBe(term);
    expect(a.leader).toBeNull();
    expect(c.inbox.filter((m) => m.type === 'timeoutNow' && m.from === 'a')).toHaveLength(1);
    c.deliverAll();
    const leaders = ['b', 'c'].filter((id) => c.node(id).role === 'leader');
    // Handed over: a new leader without waiting out an election timeout.
    expect(leaders).toHaveLength(1);
    expect(c.node(leaders[0]!).term).toBe(term + 1);
    for (let i = 0; i < 10 * DEFAULT_LIMITS.electionTicks; i++) c.tick('a');
    expect(votesSentBy(c, 'a')).toEqual([]);
  });
});

describe('views for the host', () => {
  it("memberProgress reports each member's suffrage, match and lag", () => {
    const c = withLearner();
    const a = c.node('a');
    c.isolate('d');
    a.propose(enc('x'));
    c.deliverAll();
    const progress = a.memberProgress()!;
    expect(progress.map((p) => [p.id, p.suffrage, p.state])).toEqual([
      ['a', 'voter', 'self'],
      ['b', 'voter', 'replicate'],
      ['c', 'voter', 'replicate'],
      ['d', 'learner', 'replicate'],
    ]);
    expect(progress.find((p) => p.id === 'b')).toMatchObject({ match: a.lastIndex, lag: 0 });
    expect(progress.find((p) => p.id === 'd')).toMatchObject({ match: a.lastIndex - 1, lag: 1 });
    expect(c.node('b').memberProgress()).toBeNull();
  });
});
