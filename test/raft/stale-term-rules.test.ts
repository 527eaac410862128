import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../src/raft/index.js';
import { cycle, entriesOf, standaloneNode } from './harness.js';
import { appendMsg, heartbeatMsg } from './messages.js';

/**
 * A stale leader's traffic (Raft §5.1: a message of a lower term is stale) is answered with our term whenever
 * PreVote or CheckQuorum is on, each of them alone as well as both (etcd's rule). Either one can keep our higher term
 * from ever reaching a stale leader otherwise: with CheckQuorum a follower hearing a live leader ignores RequestVotes
 * (thesis §4.2.3); with PreVote a server whose term ran ahead but whose log is behind never wins a pre-vote, so it
 * never sends a RequestVote at a higher term (thesis §9.6). Without either, the stale leader learns the term from
 * the RequestVotes of the next election, and the message is dropped.
 */

const ABC: NodeId[] = ['a', 'b', 'c'];

const ANSWERED = [
  { name: 'PreVote alone', config: { preVote: true, checkQuorum: false } },
  { name: 'CheckQuorum alone', config: { preVote: false, checkQuorum: true } },
  { name: 'PreVote and CheckQuorum', config: { preVote: true, checkQuorum: true } },
];

describe('stale leader traffic (Raft §5.1; thesis §9.6, §4.2.3)', () => {
  for (const { name, config } of ANSWERED) {
    it(`with ${name}, a stale heartbeat and a stale AppendEntries are each refused at our term, which tells the stale leader ours`, () => {
      const f = standaloneNode('b', ABC, { term: 3, entries: entriesOf([1, 3]) }, config);
      f.step(heartbeatMsg('a', 'b', 2));
      f.step(appendMsg('a', 'b', 2, 2, 3, entriesOf([2], 3), 3));
      const rd = cycle(f);
      const refusal = { type: 'appendResponse', from: 'b', to: 'a', term: 3, reject: true };
      expect(rd.messages).toEqual([expect.objectContaining(refusal), expect.objectContaining(refusal)]);
      // Nothing of the stale leader's is taken: no leader, no entries, no commit.
      expect(f).toMatchObject({ term: 3, leader: null, lastIndex: 2, commitIndex: 0 });
    });
  }

  it('without PreVote and CheckQuorum, a stale heartbeat and AppendEntries are dropped unanswered', () => {
    const f = standaloneNode('b', ABC, { term: 3, entries: entriesOf([1, 3]) }, { preVote: false, checkQuorum: false });
    f.step(heartbeatMsg('a', 'b', 2));
    f.step(appendMsg('a', 'b', 2, 2, 3, entriesOf([2], 3), 3));
    expect(cycle(f).messages).toEqual([]);
    expect(f).toMatchObject({ term: 3, leader: null, lastIndex: 2 });
  });
});
