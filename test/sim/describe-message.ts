import type { Message } from '../../src/raft/index.js';

/** describeMessage renders one message compactly for traces. */
export function describeMessage(m: Message): string {
  switch (m.type) {
    case 'vote':
    case 'preVote':
      return `${m.type} t${m.term} last ${m.lastLogIndex}/${m.lastLogTerm}${m.transfer ? ' transfer' : ''}`;
    case 'voteResponse':
    case 'preVoteResponse':
      return `${m.type} t${m.term} ${m.reject ? 'reject' : 'grant'}`;
    case 'append':
      return `append t${m.term} prev ${m.prevLogIndex}/${m.prevLogTerm} n=${m.entries.length} commit ${m.commit}`;
    case 'appendResponse':
      return `appendResponse t${m.term} ${m.reject ? `reject ${m.index} hint ${m.hintIndex}/${m.hintTerm}` : `ok ${m.index}`}`;
    case 'heartbeat':
      return `heartbeat t${m.term} commit ${m.commit}${m.context === null ? '' : ` ctx ${m.context}`}`;
    case 'heartbeatResponse':
      return `heartbeatResponse t${m.term}${m.context === null ? '' : ` ctx ${m.context}`}`;
    case 'snapshot':
      return `snapshot t${m.term} ${m.meta.index}/${m.meta.term}`;
    case 'timeoutNow':
      return `timeoutNow t${m.term}`;
  }
}
