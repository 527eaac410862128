import type {
  AppendMessage,
  AppendResponseMessage,
  Entry,
  HeartbeatMessage,
  Message,
  NodeId,
  VoteMessage,
  VoteResponseMessage,
} from '../../src/raft/index.js';

/** voteMsg builds a RequestVote (or pre-vote) for stepping into a node by hand. */
export function voteMsg(
  from: NodeId,
  to: NodeId,
  term: number,
  lastLogIndex: number,
  lastLogTerm: number,
  opts: { preVote?: boolean; transfer?: boolean } = {},
): VoteMessage {
  return { type: opts.preVote === true ? 'preVote' : 'vote', from, to, term, lastLogIndex, lastLogTerm, transfer: opts.transfer ?? false };
}

/** appendMsg builds an AppendEntries for stepping into a node by hand. */
export function appendMsg(from: NodeId, to: NodeId, term: number, prevLogIndex: number, prevLogTerm: number, entries: readonly Entry[], commit: number): AppendMessage {
  return { type: 'append', from, to, term, prevLogIndex, prevLogTerm, entries, commit };
}

/** heartbeatMsg builds a heartbeat for stepping into a node by hand. */
export function heartbeatMsg(from: NodeId, to: NodeId, term: number, commit = 0, context: string | null = null): HeartbeatMessage {
  return { type: 'heartbeat', from, to, term, commit, context };
}

export function isVoteResponse(m: Message): m is VoteResponseMessage {
  return m.type === 'voteResponse' || m.type === 'preVoteResponse';
}

export function isAppendResponse(m: Message): m is AppendResponseMessage {
  return m.type === 'appendResponse';
}

export function isAppend(m: Message): m is AppendMessage {
  return m.type === 'append';
}

/** granted lists the granting vote responses among messages. */
export function grants(messages: readonly Message[]): VoteResponseMessage[] {
  return messages.filter(isVoteResponse).filter((m) => !m.reject);
}
