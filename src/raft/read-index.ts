import type { NodeId, ReadState } from './types.js';
import { hasQuorum } from './quorum.js';
import { assert } from './invariant.js';

interface PendingRead {
  readonly context: string;
  readonly index: number;
  readonly acks: Set<NodeId>;
}

/**
 * ReadIndexQueue tracks linearizable reads on the leader (thesis §6.4): each
 * read records the commit index at arrival and completes once a majority has
 * answered a heartbeat sent after it, which proves this node was still leader.
 * An ack for a later read confirms every earlier one, so one heartbeat round
 * serves a whole batch. The queue is bounded by the caller.
 */
export class ReadIndexQueue {
  private readonly pending: PendingRead[] = [];
  /** Reads that arrived before this leader committed an entry of its own term; they wait (thesis §6.4 step 1). */
  // Stryker disable next-line ArrayDeclaration: RaftState.reset() clears the queue before this node can ever lead
  private readonly waitingForCommit: string[] = [];

  size(): number {
    return this.pending.length + this.waitingForCommit.length;
  }

  deferUntilCommit(context: string): void {
    this.waitingForCommit.push(context);
  }

  takeDeferred(): string[] {
    return this.waitingForCommit.splice(0);
  }

  add(context: string, index: number, self: NodeId): void {
    const last = this.pending[this.pending.length - 1];
    assert(last === undefined || last.index <= index, 'read indexes must not go back');
    this.pending.push({ context, index, acks: new Set([self]) });
  }

  /** latestContext is the context to put in the next heartbeat round. */
  latestContext(): string | null {
    return this.pending[this.pending.length - 1]?.context ?? null;
  }

  /** ack records a heartbeat response carrying `context` and returns the reads now confirmed, in order. */
  ack(context: string, from: NodeId, voters: readonly NodeId[]): ReadState[] {
    const at = this.pending.findIndex((read) => read.context === context);
    if (at < 0) return [];
    const read = this.pending[at]!;
    read.acks.add(from);
    if (!hasQuorum(voters, read.acks)) return [];
    return this.pending.splice(0, at + 1).map((done) => ({ index: done.index, context: done.context }));
  }

  /** clear drops every pending read (leadership lost); their callers must retry. */
  clear(): string[] {
    const dropped = [...this.waitingForCommit, ...this.pending.map((read) => read.context)];
    this.pending.length = 0;
    this.waitingForCommit.length = 0;
    return dropped;
  }
}
