import { describe, expect, it } from 'vitest';
import type { Entry, NodeId, Snapshot } from '../../src/raft/index.js';
import { cycle, enc, standaloneNode } from './harness.js';
import { heartbeatMsg, isVoteResponse, voteMsg } from './messages.js';

/**
 * What may leave a node before its Ready's write is durable, and what a Ready must still hand out (Raft Figure 2:
 * persistent state is updated on stable storage "before responding to RPCs"; thesis §10.2.1: a leader may send
 * AppendEntries before its own write). Edges the Figure 2 tests leave open, found by hand mutation of ready-cycle.ts.
 */

const ABC: NodeId[] = ['a', 'b', 'c'];

/** soloWithLearner is the log of a one-voter cluster ('a') with a learner ('b'), as its config entry at index 1. */
function soloWithLearner(term: number): Entry[] {
  return [{ index: 1, term, type: 'config', data: new Uint8Array(0), config: { voters: ['a'], learners: ['b'], members: [] } }];
}

function snapshotAt(index: number, term: number): Snapshot {
  return { meta: { index, term, config: { voters: ABC, learners: [], members: [] } }, data: enc(`image@${index}`) };
}

describe('durability order at the edges', () => {
  it('a leader elected in this Ready sends nothing early, even when its vote is unchanged (it voted for itself last term too)', () => {
    // Restarted with term 1 and its own vote: its next election changes the term only.
    const a = standaloneNode('a', ['a'], { term: 1, vote: 'a', commit: 1, entries: soloWithLearner(1) });
    for (let i = 0; i < 100 && a.role !== 'leader'; i++) a.tick();
    expect(a).toMatchObject({ role: 'leader', term: 2, vote: 'a' });
    const rd = cycle(a);
    expect(rd.hardState).toMatchObject({ term: 2, vote: 'a' });
    // The AppendEntries to the learner carries term 2: it must wait until term 2 is durable here, or a crash could
    // bring this node back at term 1 to lead term 2 again with a different log.
    expect(rd.earlyMessages).toEqual([]);
    expect(rd.messages.map((m) => [m.type, m.to, m.term])).toEqual([['append', 'b', 2]]);
  });

  it('a leader\'s answers wait for its Ready\'s write like every response; only its own replication leaves early', () => {
    const a = standaloneNode('a', ['a'], { term: 1, vote: 'a', commit: 1, entries: soloWithLearner(1) }, { checkQuorum: false });
    for (let i = 0; i < 100 && a.role !== 'leader'; i++) a.tick();
    cycle(a); // term 2 and the vote are durable from here on: the leader may send its replication early
    expect(a.term).toBe(2);
    a.step(voteMsg('b', 'a', 5, 9, 2, { preVote: true })); // answered (granted: a pre-vote promises nothing)
    const rd = cycle(a);
    expect(rd.earlyMessages).toEqual([]);
    expect(rd.messages.filter(isVoteResponse).map((m) => [m.type, m.to])).toEqual([['preVoteResponse', 'b']]);
  });

  it('a snapshot received while the host persists an earlier one is still handed out after that Ready (Raft §7)', () => {
    const b = standaloneNode('b', ABC, { term: 2 });
    b.step({ type: 'snapshot', from: 'a', to: 'b', term: 2, meta: snapshotAt(5, 2).meta, data: snapshotAt(5, 2).data });
    const first = b.ready();
    expect(first.snapshot?.meta.index).toBe(5);
    // The leader's next snapshot arrives before the host reports the first one done.
    b.step({ type: 'snapshot', from: 'a', to: 'b', term: 2, meta: snapshotAt(9, 2).meta, data: snapshotAt(9, 2).data });
    b.advance(first);
    const second = cycle(b);
    expect(second.snapshot?.meta.index).toBe(9);
    expect(b.commitIndex).toBe(9);
    b.step(heartbeatMsg('a', 'b', 2, 9));
    expect(cycle(b).snapshot).toBe(null);
  });
});
