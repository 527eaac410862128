/**
 * ElectionCounter counts the elections this member starts, by cause, from the
 * vote requests it sends: a campaign caused by TimeoutNow (a leadership
 * transfer, thesis §3.10) marks its requests `transfer`; any other real
 * election followed an election timeout and a won pre-vote. Pre-votes are
 * counted apart: a pre-vote that fails (a restarted follower that has not
 * heard from the leader yet) changes no term and costs the cluster nothing.
 * A rolling restart with leader hand-off should count no timeout elections.
 * In a cluster of one a campaign sends nothing and is not counted.
 */
import type { Message, NodeId } from '../raft/index.js';
import type { Logger } from './raft-host.js';
import type { TransportObserver } from './observed-transport.js';

/** ElectionCause is why an election started. */
export type ElectionCause = 'timeout' | 'transfer';

/** ElectionCounts are this member's campaigns since it started. */
export interface ElectionCounts {
  readonly timeout: number;
  readonly transfer: number;
  /** Pre-vote rounds started by an election timeout, won or not. */
  readonly preVotes: number;
}

/** ElectionCounter is a TransportObserver of outgoing vote requests; see the module comment. */
export class ElectionCounter implements TransportObserver {
  private timeout = 0;
  private transfer = 0;
  private preVotes = 0;
  /** The term of the last election counted: a campaign sends one request per peer, all at its term. */
  private lastTerm = 0;

  constructor(
    private readonly id: NodeId,
    private readonly logger: Logger,
  ) {}

  get counts(): ElectionCounts {
    return { timeout: this.timeout, transfer: this.transfer, preVotes: this.preVotes };
  }

  onSend(messages: readonly Message[]): void {
    let preVote = false;
    for (const m of messages) {
      if (m.from !== this.id) continue;
      if (m.type === 'preVote') preVote = true;
      if (m.type !== 'vote' || m.term <= this.lastTerm) continue;
      this.lastTerm = m.term;
      const cause: ElectionCause = m.transfer ? 'transfer' : 'timeout';
      if (cause === 'transfer') this.transfer++;
      else this.timeout++;
      this.logger.info({ cause, electionTerm: m.term }, 'election started');
    }
    // One Ready carries one pre-campaign's requests; a pre-vote repeats at the same term, so count sends, not terms.
    if (preVote) this.preVotes++;
  }
}
