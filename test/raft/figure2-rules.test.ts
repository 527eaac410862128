import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type Message, type NodeId } from '../../src/raft/index.js';
import { ScriptedCluster, cycle, dec, enc, entriesOf, standaloneNode, termsOf } from './harness.js';
import { appendMsg, grants, heartbeatMsg, isAppend, isAppendResponse, isVoteResponse, voteMsg } from './messages.js';

/** Plain Raft as in the paper: no PreVote, no CheckQuorum, so every Figure 2 rule shows unfiltered. */
const VANILLA = { preVote: false, checkQuorum: false };
const ABC: NodeId[] = ['a', 'b', 'c'];
const ABCDE: NodeId[] = ['a', 'b', 'c', 'd', 'e'];

describe('Figure 2, Rules for Servers: All Servers', () => {
  it('All servers: if RPC request or response contains term T > currentTerm, set currentTerm = T and convert to follower (§5.1)', () => {
    const c = new ScriptedCluster(ABC, VANILLA);
    c.elect('a');
    const a = c.node('a');
    expect(a.term).toBe(1);
    // A response with a higher term deposes a leader.
    a.step({ type: 'appendResponse', from: 'b', to: 'a', term: 5, reject: true, index: 0, hintIndex: 0, hintTerm: 0 });
    expect(a.role).toBe('follower');
    expect(a.term).toBe(5);
    expect(a.vote).toBe(null);

    // A request with a higher term turns a candidate into a follower of that term.
    c.campaign('b');
    const b = c.node('b');
    expect(b.role).toBe('candidate');
    const candidateTerm = b.term;
    b.step(heartbeatMsg('c', 'b', candidateTerm + 3));
    expect(b.role).toBe('follower');
    expect(b.term).toBe(candidateTerm + 3);
    expect(b.leader).toBe('c');

    // A follower adopts the higher term of a RequestVote and forgets its vote of the older term.
    const f = standaloneNode('c', ABC, { term: 2, vote: 'a' }, VANILLA);
    f.step(voteMsg('b', 'c', 4, 0, 0));
    expect(f.term).toBe(4);
    expect(f.vote).toBe('b');
  });

  it('All servers: if commitIndex > lastApplied, increment lastApplied and apply log[lastApplied] to the state machine, in log order (§5.3)', () => {
    // A tiny apply budget forces many Readys, so ordering across batches is exercised too.
    const c = new ScriptedCluster(ABC, { ...VANILLA, maxApplyBytes: 60 });
    c.elect('a');
    const proposed: string[] = [];
    for (let i = 0; i < 20; i++) {
      proposed.push(`cmd${i}`);
      expect(c.node('a').propose(enc(`cmd${i}`)).ok).toBe(true);
      if (i % 3 === 0) c.deliverAll();
    }
    c.deliverAll();
    for (const id of ABC) {
      const n = c.node(id);
      const applied = c.applied.get(id)!;
      expect(n.commitIndex).toBe(21);
      expect(n.appliedIndex).toBe(n.commitIndex);
      expect(applied.map((e) => e.index)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
      expect(applied.filter((e) => e.data.length > 0).map((e) => dec(e.data))).toEqual(proposed);
    }
    // No single Ready handed out more than the apply budget (beyond the one entry it must always carry).
    for (const { ready } of c.readyLog) {
      const bytes = ready.committedEntries.reduce((sum, e) => sum + e.data.length + 24, 0);
      if (ready.committedEntries.length > 1) expect(bytes).toBeLessThanOrEqual(60);
    }
  });
});

describe('Figure 2, RequestVote RPC receiver', () => {
  it('RequestVote receiver: reply false if term < currentTerm (§5.1)', () => {
    const f = standaloneNode('b', ABC, { term: 3, entries: entriesOf([1, 2]) }, VANILLA);
    // The candidate's log is better than ours, so only its stale term can be the reason to refuse.
    f.step(voteMsg('c', 'b', 2, 10, 2));
    const rd = cycle(f);
    expect(grants(rd.messages)).toEqual([]);
    // The core drops stale RequestVotes instead of answering false (as etcd does); any answer must be a refusal at our term.
    for (const m of rd.messages.filter(isVoteResponse)) expect(m).toMatchObject({ reject: true, term: 3 });
    expect(f.term).toBe(3);
    expect(f.vote).toBe(null);
    expect(rd.hardState).toBe(null);
  });

  it('RequestVote receiver: grant if votedFor is null or candidateId, and candidate\'s log is at least as up-to-date as receiver\'s log (§5.2, §5.4)', () => {
    // Receiver log: [t1, t2] (last index 2, last term 2).
    const cases: { lastLogIndex: number; lastLogTerm: number; grant: boolean; why: string }[] = [
      { lastLogIndex: 2, lastLogTerm: 2, grant: true, why: 'same last term and index' },
      { lastLogIndex: 3, lastLogTerm: 2, grant: true, why: 'same last term, longer' },
      { lastLogIndex: 1, lastLogTerm: 3, grant: true, why: 'later last term, shorter' },
      { lastLogIndex: 1, lastLogTerm: 2, grant: false, why: 'same last term, shorter' },
      { lastLogIndex: 9, lastLogTerm: 1, grant: false, why: 'earlier last term, longer' },
      { lastLogIndex: 0, lastLogTerm: 0, grant: false, why: 'empty log' },
    ];
    for (const tc of cases) {
      const f = standaloneNode('b', ABC, { term: 2, entries: entriesOf([1, 2]) }, VANILLA);
      f.step(voteMsg('c', 'b', 3, tc.lastLogIndex, tc.lastLogTerm));
      const rd = cycle(f);
      const responses = rd.messages.filter(isVoteResponse);
      expect(responses, tc.why).toHaveLength(1);
      expect(responses[0]!.reject, tc.why).toBe(!tc.grant);
      expect(f.vote, tc.why).toBe(tc.grant ? 'c' : null);
    }

    // votedFor: once it voted for c in term 3, it grants c again (a retransmission) but nobody else in term 3.
    const f = standaloneNode('b', ABCDE, { term: 2 }, VANILLA);
    f.step(voteMsg('c', 'b', 3, 0, 0));
    f.step(voteMsg('c', 'b', 3, 0, 0));
    f.step(voteMsg('d', 'b', 3, 5, 3));
    const rd = cycle(f);
    expect(rd.messages.filter(isVoteResponse).map((m) => [m.to, m.reject])).toEqual([
      ['c', false],
      ['c', false],
      ['d', true],
    ]);
    expect(f.vote).toBe('c');
    // In a new term votedFor is null again.
    f.step(voteMsg('d', 'b', 4, 0, 0));
    expect(grants(cycle(f).messages).map((m) => m.to)).toEqual(['d']);
  });
});

describe('Figure 2, AppendEntries RPC receiver', () => {
  it('AppendEntries receiver: reply false if term < currentTerm (§5.1)', () => {
    for (const config of [VANILLA, { preVote: true, checkQuorum: true }]) {
      const f = standaloneNode('b', ABC, { term: 3, entries: entriesOf([1, 3]) }, config);
      f.step(appendMsg('a', 'b', 2, 2, 3, entriesOf([2], 3), 3));
      const rd = cycle(f);
      expect(termsOf(f)).toEqual([1, 3]);
      expect(f.commitIndex).toBe(0);
      expect(f.leader).toBe(null);
      expect(rd.messages.filter((m) => isAppendResponse(m) && !m.reject)).toEqual([]);
      if (config.checkQuorum) {
        // With CheckQuorum/PreVote the stale leader must hear our term, or it would never step down.
        expect(rd.messages).toEqual([expect.objectContaining({ type: 'appendResponse', to: 'a', term: 3, reject: true })]);
      }
    }
  });

  it('AppendEntries receiver: reply false if log doesn\'t contain an entry at prevLogIndex whose term matches prevLogTerm (§5.3)', () => {
    const f = standaloneNode('b', ABC, { term: 3, entries: entriesOf([1, 1, 2]) }, VANILLA);
    f.step(appendMsg('a', 'b', 3, 3, 3, entriesOf([3], 4), 0)); // wrong term at index 3
    f.step(appendMsg('a', 'b', 3, 5, 2, entriesOf([3], 6), 0)); // no entry at index 5
    const rd = cycle(f);
    const replies = rd.messages.filter(isAppendResponse);
    expect(replies.map((m) => ({ reject: m.reject, index: m.index }))).toEqual([
      { reject: true, index: 3 },
      { reject: true, index: 5 },
    ]);
    // Hints point at the last index whose term is <= prevLogTerm: the leader can skip a whole term.
    expect(replies.map((m) => [m.hintIndex, m.hintTerm])).toEqual([
      [3, 2],
      [3, 2],
    ]);
    expect(termsOf(f)).toEqual([1, 1, 2]);
    expect(rd.entries).toEqual([]);
  });

  it('AppendEntries receiver: if an existing entry conflicts with a new one (same index, different terms), delete the existing entry and all that follow it (§5.3)', () => {
    const f = standaloneNode('b', ABC, { term: 1, commit: 1, entries: entriesOf([1, 1, 1, 1]) }, VANILLA);
    const fresh = entriesOf([2], 2);
    f.step(appendMsg('a', 'b', 2, 1, 1, fresh, 1));
    const rd = cycle(f);
    expect(termsOf(f)).toEqual([1, 2]);
    expect(f.lastIndex).toBe(2);
    // The host is told to overwrite from index 2 (it deletes stored entries >= rd.entries[0].index).
    expect(rd.entries).toEqual(fresh);
    expect(rd.messages.filter(isAppendResponse)).toEqual([expect.objectContaining({ reject: false, index: 2 })]);
  });

  it('AppendEntries receiver: append any new entries not already in the log', () => {
    const f = standaloneNode('b', ABC, { term: 1, entries: entriesOf([1, 1]) }, VANILLA);
    f.step(appendMsg('a', 'b', 1, 0, 0, entriesOf([1, 1, 1]), 0));
    const rd = cycle(f);
    expect(rd.entries.map((e) => e.index)).toEqual([3]);
    expect(termsOf(f)).toEqual([1, 1, 1]);
    // A delayed, shorter AppendEntries of the same leader must not truncate what follows (no conflict, nothing new).
    f.step(appendMsg('a', 'b', 1, 0, 0, entriesOf([1]), 0));
    const late = cycle(f);
    expect(late.entries).toEqual([]);
    expect(f.lastIndex).toBe(3);
    expect(late.messages.filter(isAppendResponse)).toEqual([expect.objectContaining({ reject: false, index: 1 })]);
  });

  it('AppendEntries receiver: if leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new entry)', () => {
    const f = standaloneNode('b', ABC, { term: 1 }, VANILLA);
    f.step(appendMsg('a', 'b', 1, 0, 0, entriesOf([1, 1]), 5));
    expect(f.commitIndex).toBe(2); // min(5, 2)
    f.step(appendMsg('a', 'b', 1, 2, 1, entriesOf([1, 1], 3), 3));
    expect(f.commitIndex).toBe(3); // min(3, 4)
    f.step(appendMsg('a', 'b', 1, 0, 0, entriesOf([1]), 4));
    expect(f.commitIndex).toBe(3); // min(4, 1) = 1 < 3: commit never goes back
    const rd = cycle(f);
    expect(rd.hardState?.commit).toBe(3);
    // Entries are applied once durable: the Ready after the one that persists them hands them out.
    expect(rd.committedEntries).toEqual([]);
    expect(cycle(f).committedEntries.map((e) => e.index)).toEqual([1, 2, 3]);

    // Why "last new entry" and not "last index": entries past what this AppendEntries vouches for may be stale leftovers
    // of an old term that the new leader's committed entries will replace.
    const g = standaloneNode('b', ABC, { term: 1, entries: entriesOf([1, 1, 1]) }, VANILLA);
    g.step(appendMsg('a', 'b', 2, 1, 1, [], 3)); // the term-2 leader matches at 1 and has committed its own 2..3
    expect(g.commitIndex).toBe(1);
    expect(termsOf(g)).toEqual([1, 1, 1]);
  });
});

describe('Figure 2, Rules for Servers: Followers', () => {
  it('Followers: if election timeout elapses without receiving AppendEntries from current leader or granting vote to candidate, convert to candidate (§5.2)', () => {
    const c = new ScriptedCluster(ABC, VANILLA);
    c.elect('a');
    const b = c.node('b');
    const termBefore = b.term;
    // Hearing the leader every electionTicks - 1 ticks keeps b a follower far beyond the longest timeout (2 * electionTicks).
    for (let round = 0; round < 6; round++) {
      c.tick('b', DEFAULT_LIMITS.electionTicks - 1);
      c.tick('a', DEFAULT_LIMITS.heartbeatTicks);
      c.deliverAll();
      expect(b.role).toBe('follower');
    }
    expect(b.term).toBe(termBefore);
    // Silence: b campaigns within 2 * electionTicks.
    const ticks = c.tickUntil('b', (n) => n.role === 'candidate', 2 * DEFAULT_LIMITS.electionTicks);
    expect(ticks).toBeGreaterThanOrEqual(DEFAULT_LIMITS.electionTicks);
    expect(b.term).toBe(termBefore + 1);
    expect(b.vote).toBe('b');

    // Granting a vote also resets the timer: a follower that keeps granting (retransmitted) RequestVotes never campaigns.
    const f = standaloneNode('b', ABC, { term: 4 }, VANILLA);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < DEFAULT_LIMITS.electionTicks - 1; i++) f.tick();
      f.step(voteMsg('c', 'b', 4, 0, 0));
      expect(grants(cycle(f).messages)).toHaveLength(1);
      expect(f.role).toBe('follower');
    }
    expect(f.term).toBe(4);
  });
});

describe('Figure 2, Rules for Servers: Candidates', () => {
  it('Candidates: on conversion to candidate, start election: increment currentTerm, vote for self, send RequestVote RPCs to all other servers (§5.2)', () => {
    const c = new ScriptedCluster(ABC, VANILLA);
    c.campaign('a');
    const a = c.node('a');
    expect(a.role).toBe('candidate');
    expect(a.term).toBe(1);
    expect(a.vote).toBe('a');
    const votes = c.take((m) => m.type === 'vote');
    expect(votes.map((m) => [m.to, m.term])).toEqual([
      ['b', 1],
      ['c', 1],
    ]);
    expect(votes[0]).toMatchObject({ lastLogIndex: 0, lastLogTerm: 0 });
  });

  it('Candidates: if votes received from majority of servers, become leader (§5.2)', () => {
    const c = new ScriptedCluster(ABCDE, VANILLA);
    c.campaign('a');
    const a = c.node('a');
    c.deliver((m) => m.type === 'vote' && (m.to === 'b' || m.to === 'c'));
    c.drop((m) => m.type === 'vote');
    const [fromB, fromC] = c.take((m) => m.type === 'voteResponse');
    expect(fromB).toMatchObject({ from: 'b', reject: false });
    a.step(fromB!);
    expect(a.role).toBe('candidate'); // 2 of 5
    a.step(fromC!);
    expect(a.role).toBe('leader'); // 3 of 5
    expect(a.leader).toBe('a');

    // A majority of refusals ends the candidacy.
    const d = new ScriptedCluster(ABC, VANILLA);
    d.campaign('b');
    const b = d.node('b');
    b.step({ type: 'voteResponse', from: 'a', to: 'b', term: b.term, reject: true });
    expect(b.role).toBe('candidate'); // 1 grant (self), 1 refusal of 3
    b.step({ type: 'voteResponse', from: 'c', to: 'b', term: b.term, reject: true });
    expect(b.role).toBe('follower');
  });

  it('Candidates: if AppendEntries RPC received from new leader, convert to follower (§5.2)', () => {
    const c = new ScriptedCluster(ABC, VANILLA);
    c.campaign('a');
    const a = c.node('a');
    // A stale leader's AppendEntries does not stop the candidacy.
    a.step(appendMsg('b', 'a', a.term - 1, 0, 0, [], 0));
    expect(a.role).toBe('candidate');
    // The new leader of the same term does.
    a.step(appendMsg('b', 'a', a.term, 0, 0, [], 0));
    expect(a.role).toBe('follower');
    expect(a.leader).toBe('b');
    expect(a.term).toBe(1);
    expect(a.vote).toBe('a'); // its vote in this term stays recorded
  });

  it('Candidates: if election timeout elapses, start new election (§5.2)', () => {
    const c = new ScriptedCluster(ABC, VANILLA);
    c.campaign('a');
    c.drop(() => true); // split vote / lost messages: no answers arrive
    const ticks = c.tickUntil('a', (n) => n.term === 2, 2 * DEFAULT_LIMITS.electionTicks);
    expect(ticks).toBeGreaterThanOrEqual(DEFAULT_LIMITS.electionTicks);
    const a = c.node('a');
    expect(a.role).toBe('candidate');
    expect(a.vote).toBe('a');
    expect(c.inbox.filter((m) => m.type === 'vote').map((m) => m.term)).toEqual([2, 2]);
    c.deliverAll();
    expect(a.role).toBe('leader');
    expect(a.term).toBe(2);
  });
});

describe('Figure 2, Rules for Servers: Leaders', () => {
  it('Leaders: upon election, send initial empty AppendEntries RPCs (heartbeat) to each server; repeat during idle periods to prevent election timeouts (§5.2)', () => {
    const c = new ScriptedCluster(ABC, VANILLA);
    c.campaign('a');
    c.deliver((m) => m.type === 'vote');
    c.readyLog = [];
    c.deliver((m) => m.type === 'voteResponse');
    // The Ready that announces leadership already carries one AppendEntries per follower; here it holds the
    // new term's no-op (Raft §8) rather than nothing, which also lets the leader commit earlier entries (§5.4.2).
    const won = c.readyLog.find((r) => r.id === 'a' && r.ready.softState.role === 'leader');
    expect(won).toBeDefined();
    const appends = won!.ready.earlyMessages.filter(isAppend);
    expect(appends.map((m) => m.to).sort()).toEqual(['b', 'c']);
    for (const m of appends) {
      expect(m.term).toBe(1);
      expect(m.entries).toHaveLength(1);
      expect(m.entries[0]!.data.length).toBe(0);
    }
    c.deliverAll();

    // Idle: every heartbeatTicks the leader sends one heartbeat per follower, and followers never time out.
    for (let i = 0; i < 5 * DEFAULT_LIMITS.electionTicks; i++) {
      c.tick('a');
      const beats = c.inbox.filter((m) => m.type === 'heartbeat');
      expect(beats.map((m) => m.to).sort()).toEqual(['b', 'c']);
      c.tick('b');
      c.tick('c');
      c.deliverAll();
    }
    for (const id of ABC) expect(c.node(id).term).toBe(1);
    expect(c.node('a').role).toBe('leader');
  });

  it('Leaders: if last log index >= nextIndex for a follower, send AppendEntries RPC with log entries starting at nextIndex; if successful, update nextIndex and matchIndex for follower (§5.3)', () => {
    const c = new ScriptedCluster(ABC, VANILLA);
    c.elect('a');
    const a = c.node('a');
    expect(a.progressOf('b')).toMatchObject({ match: 1, next: 2 });
    a.propose(enc('x'));
    a.propose(enc('y'));
    const toB = c.take((m) => isAppend(m) && m.to === 'b');
    expect(toB).toHaveLength(1);
    const app = toB[0]!;
    if (!isAppend(app)) throw new Error('not an append');
    expect(app.prevLogIndex).toBe(1);
    expect(app.entries.map((e) => e.index)).toEqual([2, 3]);
    c.node('b').step(app);
    c.deliverAll();
    expect(a.progressOf('b')).toMatchObject({ match: 3, next: 4 });
  });

  it('Leaders: if AppendEntries fails because of log inconsistency, decrement nextIndex and retry (§5.3)', () => {
    const c = new ScriptedCluster(ABC, VANILLA);
    c.elect('a');
    const a = c.node('a');
    c.crash('b');
    for (let i = 0; i < 5; i++) a.propose(enc(`p${i}`));
    c.deliverAll(); // reaches c only; b misses indexes 2..6
    expect(a.commitIndex).toBe(6);
    c.reconnect('b');
    a.propose(enc('after'));
    const first = c.take((m) => isAppend(m) && m.to === 'b')[0];
    if (first === undefined || !isAppend(first)) throw new Error('expected an append to b');
    expect(first.prevLogIndex).toBe(6);
    c.node('b').step(first);
    const [reject] = c.take((m) => isAppendResponse(m) && m.from === 'b');
    expect(reject).toMatchObject({ reject: true, index: 6 });
    a.step(reject!);
    const retry = c.take((m) => isAppend(m) && m.to === 'b')[0];
    if (retry === undefined || !isAppend(retry)) throw new Error('expected a retry to b');
    expect(retry.prevLogIndex).toBeLessThan(6);
    expect(retry.prevLogIndex).toBe(1); // b's hint: its log ends at 1
    c.node('b').step(retry);
    c.deliverAll();
    expect(c.node('b').lastIndex).toBe(7);
    expect(a.progressOf('b')?.match).toBe(7);
  });

  it('Leaders: with conflict hints, a follower with a long divergent suffix is repaired in O(terms) round trips, not O(entries) (§5.3)', () => {
    const c = new ScriptedCluster(ABC, { ...VANILLA, maxAppendBytes: 64 * 1024 });
    c.elect('a'); // term 1, index 1 everywhere
    // a, cut off, keeps leading term 1 and appends 40 entries nobody else sees.
    c.crash('a');
    for (let i = 0; i < 40; i++) c.node('a').propose(enc(`stale${i}`));
    c.drain();
    c.inbox = [];
    // b leads term 2 with c and writes 40 entries of its own; then hands leadership to c (term 3), whose log is long at election.
    c.elect('b');
    for (let i = 0; i < 40; i++) c.node('b').propose(enc(`b${i}`));
    c.deliverAll();
    expect(c.node('b').transferLeadership('c')).toBe(true);
    c.deliverAll();
    expect(c.node('c').role).toBe('leader');
    expect(c.node('c').term).toBe(3);
    expect(termsOf(c.node('a')).filter((t) => t === 1)).toHaveLength(41);

    c.reconnect('a');
    c.tick('c');
    let rejects = 0;
    for (let round = 0; round < 200 && c.inbox.length > 0; round++) {
      rejects += c.inbox.filter((m) => isAppendResponse(m) && m.from === 'a' && m.reject).length;
      const batch = c.take();
      for (const m of batch) c.node(m.to).step(m);
      c.drain();
    }
    expect(termsOf(c.node('a'))).toEqual(termsOf(c.node('c')));
    expect(c.node('a').commitIndex).toBe(c.node('c').commitIndex);
    // Without hints the leader would back off one index per reject: about 40.
    expect(rejects).toBeGreaterThan(0);
    expect(rejects).toBeLessThanOrEqual(2);
  });

  it('Leaders: if there exists an N such that N > commitIndex, a majority of matchIndex[i] >= N, and log[N].term == currentTerm, set commitIndex = N (§5.3, §5.4)', () => {
    const c = new ScriptedCluster(ABCDE, VANILLA);
    c.elect('a');
    const a = c.node('a');
    expect(a.commitIndex).toBe(1);
    const r = a.propose(enc('x'));
    expect(r).toMatchObject({ ok: true, index: 2 });
    c.drain();
    const acks = (to: NodeId): void => {
      c.deliver((m) => isAppend(m) && m.to === to);
      c.deliver((m) => isAppendResponse(m) && m.from === to);
    };
    acks('b');
    expect(a.commitIndex).toBe(1); // leader + b: 2 of 5
    acks('c');
    expect(a.commitIndex).toBe(2); // 3 of 5
    c.deliverAll();
    for (const id of ABCDE) expect(c.node(id).commitIndex).toBe(2);
  });
});

describe('Figure 2, persistent state: updated on stable storage before responding to RPCs', () => {
  it('a granted vote is in the same Ready\'s hardState as the voteResponse that announces it', () => {
    const f = standaloneNode('b', ABC, { term: 1 }, VANILLA);
    f.step(voteMsg('c', 'b', 2, 0, 0));
    const rd = cycle(f);
    expect(rd.hardState).toMatchObject({ term: 2, vote: 'c' });
    expect(grants(rd.messages)).toEqual([expect.objectContaining({ to: 'c', term: 2 })]);
  });

  it('a candidate\'s RequestVotes travel in the Ready that persists its new term and self-vote', () => {
    const c = new ScriptedCluster(ABC, VANILLA);
    c.campaign('a');
    const withVotes = c.readyLog.filter((r) => r.ready.messages.some((m) => m.type === 'vote'));
    expect(withVotes).toHaveLength(1);
    expect(withVotes[0]!.ready.hardState).toMatchObject({ term: 1, vote: 'a' });
  });

  it('a follower\'s appendResponse is in the same Ready as the entries it acknowledges', () => {
    const f = standaloneNode('b', ABC, { term: 1 }, VANILLA);
    f.step(appendMsg('a', 'b', 1, 0, 0, entriesOf([1, 1, 1]), 0));
    const rd = cycle(f);
    expect(rd.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    const acks = rd.messages.filter(isAppendResponse);
    expect(acks).toEqual([expect.objectContaining({ reject: false, index: 3 })]);
    // A node never acknowledges beyond what this Ready or an earlier one made durable.
    const c = new ScriptedCluster(ABC, VANILLA);
    c.elect('a');
    for (let i = 0; i < 10; i++) {
      c.node('a').propose(enc(`v${i}`));
      c.deliverAll();
    }
    const durable = new Map<string, number>();
    for (const { id, ready } of c.readyLog) {
      const last = ready.entries[ready.entries.length - 1];
      if (last !== undefined) durable.set(id, last.index);
      for (const m of ready.messages as Message[]) {
        if (isAppendResponse(m) && !m.reject) expect(m.index).toBeLessThanOrEqual(durable.get(id) ?? 0);
      }
      // Responses never travel before their Ready's write is durable.
      expect(ready.earlyMessages.filter((m) => m.type.endsWith('Response'))).toEqual([]);
    }
  });

  it('only a leader with an unchanged term and vote sends early; a Ready that changes the term sends nothing early', () => {
    const c = new ScriptedCluster(ABC, VANILLA);
    c.campaign('a');
    // The candidate's Ready persists its new term and self-vote: its RequestVotes must wait for that write (Figure 2).
    const campaign = c.readyLog.find((r) => r.id === 'a' && r.ready.messages.some((m) => m.type === 'vote' || m.type === 'preVote'));
    expect(campaign).toBeDefined();
    // Nobody but a leader sends anything early: votes and responses all wait for their Ready's write.
    for (const { ready } of c.readyLog) if (ready.softState.role !== 'leader') expect(ready.earlyMessages).toEqual([]);
    c.elect('a');
    c.readyLog = [];
    c.node('a').propose(enc('x'));
    c.drain();
    const leaderReady = c.readyLog.find((r) => r.id === 'a' && r.ready.entries.length > 0)!.ready;
    expect(leaderReady.earlyMessages.filter(isAppend).map((m) => m.to).sort()).toEqual(['b', 'c']);
    expect(leaderReady.messages).toEqual([]);
  });

  it('a leader counts its own log toward commit only once its entries are durable (thesis §10.2.1)', () => {
    const c = new ScriptedCluster(ABC, VANILLA);
    c.elect('a');
    const a = c.node('a');
    a.propose(enc('x'));
    const rd = a.ready(); // entries handed out, not yet durable
    const toB = rd.earlyMessages.filter(isAppend).find((m) => m.to === 'b')!;
    c.node('b').step(toB);
    c.drain();
    c.deliver((m) => isAppendResponse(m) && m.from === 'b');
    expect(a.commitIndex).toBe(1); // b alone is 1 of 3; a's copy is not durable yet
    a.advance(rd);
    expect(a.commitIndex).toBe(2);
  });
});

describe('Figure 2, restart from durable state', () => {
  it('currentTerm, votedFor and log[] survive a restart, and a restarted voter does not vote twice in a term', () => {
    const c = new ScriptedCluster(ABC, VANILLA);
    c.elect('a');
    c.node('a').propose(enc('kept'));
    c.deliverAll();
    // b votes for c in term 2, persists, crashes.
    c.node('b').step(voteMsg('c', 'b', 2, 2, 1));
    c.drain();
    c.inbox = [];
    const before = { term: c.node('b').term, vote: c.node('b').vote, terms: termsOf(c.node('b')) };
    expect(before).toEqual({ term: 2, vote: 'c', terms: [1, 1] });
    c.restart('b');
    const b = c.node('b');
    expect({ term: b.term, vote: b.vote, terms: termsOf(b) }).toEqual(before);
    expect(b.commitIndex).toBe(2);
    // Another candidate of term 2 is refused; c's retransmission is granted again.
    b.step(voteMsg('a', 'b', 2, 2, 1));
    b.step(voteMsg('c', 'b', 2, 2, 1));
    c.drain();
    expect(c.inbox.filter(isVoteResponse).map((m) => [m.to, m.reject])).toEqual([
      ['a', true],
      ['c', false],
    ]);
    // Committed entries are applied again from the log after the restart (the state machine is rebuilt).
    expect(c.applied.get('b')!.filter((e) => e.data.length > 0).map((e) => dec(e.data))).toEqual(['kept']);
  });
});

describe('step() robustness: bad peers never make the core throw or change leadership', () => {
  it('ignores messages for another node, responses from non-members, and TimeoutNow from anyone but its leader', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    const b = c.node('b');
    const term = a.term;
    a.step(heartbeatMsg('b', 'c', term + 5)); // addressed to c
    a.step({ type: 'appendResponse', from: 'z', to: 'a', term, reject: false, index: 99, hintIndex: 0, hintTerm: 0 });
    a.step({ type: 'heartbeatResponse', from: 'z', to: 'a', term, context: null });
    a.step({ type: 'voteResponse', from: 'z', to: 'a', term, reject: false });
    b.step({ type: 'timeoutNow', from: 'c', to: 'b', term });
    c.drain();
    expect(a).toMatchObject({ role: 'leader', term, commitIndex: 1 });
    expect(b).toMatchObject({ role: 'follower', term, leader: 'a' });
    expect(c.inbox).toEqual([]);
  });
});
