/**
 * DivergenceCheck notices that this member's log contradicts its leader's at
 * an index this member holds as committed. That cannot happen in a correct
 * cluster (Leader Completeness, Raft §5.4): it means a member lost its data
 * and rejoined as a fresh one, or a store was copied or restored by hand, and
 * acknowledged writes may be gone. The core cannot say so itself: a follower
 * answers an append below its commit index with success without comparing
 * (follower-replication.ts), so such a member would stay diverged in silence.
 *
 * Only messages at or above this member's term are compared: a deposed leader
 * may still send entries of its old term that were overwritten and never
 * committed. Entries this member knows only as uncommitted are not compared:
 * they may rightly be replaced. What was compacted away cannot be compared.
 */
import type { AppendMessage, Message, NodeId } from '../raft/index.js';
import type { Logger } from './raft-host.js';
import type { TransportObserver } from './observed-transport.js';

/** LogView is what the check reads of the core: the term, the commit index and the term of an entry (null if unknown here). */
export interface LogView {
  readonly term: number;
  readonly commitIndex: number;
  termAt(index: number): number | null;
}

/** Divergence is the first contradiction found: at `index` this member holds `localTerm`, the leader `leaderTerm`. */
export interface Divergence {
  readonly leader: NodeId;
  readonly index: number;
  readonly localTerm: number;
  readonly leaderTerm: number;
}

/** DivergenceCheck is a TransportObserver of incoming leader traffic; see the module comment. */
export class DivergenceCheck implements TransportObserver {
  private found: Divergence | null = null;

  constructor(
    private readonly log: LogView,
    private readonly logger: Logger,
  ) {}

  /** divergence is the first contradiction found since start, or null. It is never cleared: the log stays suspect. */
  get divergence(): Divergence | null {
    return this.found;
  }

  onReceive(m: Message): void {
    if (this.found !== null || m.term < this.log.term) return;
    if (m.type === 'append') this.checkAppend(m);
    else if (m.type === 'snapshot') this.compare(m.from, m.meta.index, m.meta.term);
  }

  private checkAppend(m: AppendMessage): void {
    this.compare(m.from, m.prevLogIndex, m.prevLogTerm);
    for (const e of m.entries) {
      if (this.found !== null) return;
      // Stryker disable next-line ConditionalExpression: compare() skips an index above the commit index itself; this only ends the loop early
      if (e.index > this.log.commitIndex) return;
      this.compare(m.from, e.index, e.term);
    }
  }

  private compare(leader: NodeId, index: number, leaderTerm: number): void {
    // Stryker disable next-line ConditionalExpression: index 0 precedes every log, term 0 at the leader (prevLogTerm) and here (or compacted): never a contradiction
    if (index < 1) return;
    if (index > this.log.commitIndex) return;
    const localTerm = this.log.termAt(index);
    if (localTerm === null || localTerm === leaderTerm) return;
    this.found = { leader, index, localTerm, leaderTerm };
    this.logger.error(
      { leader, index, localTerm, leaderTerm, commitIndex: this.log.commitIndex },
      'this member has diverged from the cluster: the leader contradicts an entry committed here (a member lost its data or a store was copied); acknowledged writes may be lost',
    );
  }
}

