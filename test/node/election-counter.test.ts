import { describe, expect, it } from 'vitest';
import { ElectionCounter } from '../../src/node/election-counter.js';
import type { Message } from '../../src/raft/index.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

function votes(kind: 'vote' | 'preVote', term: number, transfer: boolean, to = ['n2', 'n3']): Message[] {
  return to.map((peer) => ({ type: kind, from: 'n1', to: peer, term, lastLogIndex: 5, lastLogTerm: 1, transfer }));
}

describe('ElectionCounter', () => {
  it('counts one election per term by cause, and pre-vote rounds apart', () => {
    const c = new ElectionCounter('n1', quiet);
    c.onSend(votes('preVote', 3, false));
    c.onSend(votes('preVote', 3, false)); // a pre-vote that failed, tried again at the same term
    c.onSend(votes('vote', 3, false));
    c.onSend(votes('vote', 3, false, ['n3'])); // the same campaign's requests in another send
    c.onSend(votes('vote', 5, true));
    expect(c.counts).toEqual({ timeout: 1, transfer: 1, preVotes: 2 });
  });

  it('ignores messages that are not this member\'s vote requests', () => {
    const c = new ElectionCounter('n1', quiet);
    c.onSend([
      { type: 'vote', from: 'n2', to: 'n1', term: 9, lastLogIndex: 1, lastLogTerm: 1, transfer: false },
      { type: 'voteResponse', from: 'n1', to: 'n2', term: 9, reject: false },
      { type: 'heartbeat', from: 'n1', to: 'n2', term: 9, commit: 1, context: null },
    ]);
    expect(c.counts).toEqual({ timeout: 0, transfer: 0, preVotes: 0 });
  });
});

describe('ElectionCounter causes', () => {
  it('counts a transfer campaign as a transfer and a timeout campaign as a timeout, and logs each cause with its term', () => {
    const logged: { obj: object; msg: string | undefined }[] = [];
    const c = new ElectionCounter('n1', { ...quiet, info: (obj: object, msg?: string) => logged.push({ obj, msg }) });
    c.onSend(votes('vote', 4, true));
    c.onSend(votes('vote', 6, true));
    c.onSend(votes('vote', 7, false));
    expect(c.counts).toEqual({ timeout: 1, transfer: 2, preVotes: 0 });
    // The log is how an operator sees why a rolling restart caused elections.
    expect(logged).toEqual([
      { obj: { cause: 'transfer', electionTerm: 4 }, msg: 'election started' },
      { obj: { cause: 'transfer', electionTerm: 6 }, msg: 'election started' },
      { obj: { cause: 'timeout', electionTerm: 7 }, msg: 'election started' },
    ]);
  });
});
