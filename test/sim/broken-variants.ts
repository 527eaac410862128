import { RaftNode, type DurableState, type RaftConfig, type Ready } from '../../src/raft/index.js';
import { LockService, type LockServiceOptions } from '../../src/node/lock-service.js';
import type { LockCommand } from '../../src/locks/index.js';
import type { CommandDone } from '../../src/node/lock-service.js';
import type { LockServiceFactory, NodeFactory } from './cluster.js';

/**
 * Broken variants of the core, the host's contract and the lock service, to
 * show the simulation finds the bugs the Raft paper (and our lease rules) warn
 * about. Test code only: never imported by src.
 */

/** VoteWithoutLogCheck grants votes to any candidate: drops the Raft §5.4.1 election restriction. */
export class VoteWithoutLogCheck extends RaftNode {
  protected override isLogUpToDate(_lastIndex: number, _lastTerm: number): boolean {
    return true;
  }
}

/** CommitEarlierTerms commits by counting replicas for entries of earlier terms: the Raft Figure 8 bug (§5.4.2). */
export class CommitEarlierTerms extends RaftNode {
  protected override canCommitAt(_index: number): boolean {
    return true;
  }
}

/**
 * SendBeforeDurable hands every message out as an early one, so the (real) host sends votes and responses before
 * the Ready's write is durable: Raft Figure 2's "respond after persisting" broken in the Ready contract.
 */
export class SendBeforeDurable extends RaftNode {
  override ready(): Ready {
    const rd = super.ready();
    return { ...rd, earlyMessages: [...rd.earlyMessages, ...rd.messages], messages: [] };
  }
}

/**
 * TwoConfChangesInFlight lets a leader propose a configuration change while its previous one is uncommitted: thesis
 * §4.1's one-change-at-a-time rule dropped. Two uncommitted single-server changes can move two voters, and the
 * configuration before them and the one after can have disjoint majorities.
 */
export class TwoConfChangesInFlight extends RaftNode {
  protected override configChangePending(): boolean {
    return false;
  }
}

/**
 * ConfChangeBeforeNoop lets a new leader change the configuration before an entry of its own term committed: the
 * single-server bug described on the raft-dev list (2015). Its change and an uncommitted change of an earlier term
 * can then have disjoint majorities, and two leaders commit different entries at one index.
 */
export class ConfChangeBeforeNoop extends RaftNode {
  protected override ownTermCommitted(): boolean {
    return true;
  }
}

/**
 * WallClockStamps is raftlock's lease time before issue 11, faithfully: the leader stamps its wall clock into
 * commands and expires by it; on taking office it extends every lease by two election timeouts (`extendLeases`)
 * and expires nothing before that extension has applied. A new leader whose clock runs ahead, or a forward step,
 * still moves every deadline closer by more than the extension.
 */
export class WallClockStamps extends LockService {
  private extendedTerm = 0;
  private extending = false;

  protected override stampMs(_command: LockCommand, _term: number): number {
    return this.opts.clock.wallMs();
  }

  protected override tableTimeForExpiry(term: number): number | null {
    if (this.extendedTerm === term) return this.opts.clock.wallMs();
    if (!this.extending) {
      this.extending = true;
      this.submit({ type: 'extendLeases', byMs: OLD_LEASE_EXTENSION_MS }, (err) => {
        this.extending = false;
        if (err === null) this.extendedTerm = Math.max(this.extendedTerm, term);
      });
    }
    return null;
  }
}

/**
 * KeepaliveWithoutConfirm answers a keepalive from memory at once, without the quorum round that confirms this
 * node still leads after the keepalive arrived (issue 14). A deposed leader that has not noticed yet then answers
 * keepalives after its successor reset every session from its base, and the successor expires them while their
 * clients still rely on them.
 */
export class KeepaliveWithoutConfirm extends LockService {
  protected override confirmLeadership(done: (err: Error | null) => void): void {
    this.opts.scheduler.defer(() => done(null));
  }
}

/**
 * NoSessionRestart skips the reset of every session to a full ttl when a new leader takes office (issue 14): the
 * keepalives its predecessor answered from memory and had not checkpointed die with that leader.
 */
export class NoSessionRestart extends LockService {
  override submit(command: LockCommand, done: CommandDone): void {
    if (command.type === 'restartSessionLeases') return this.opts.scheduler.defer(() => done(null, { ok: true, sessionsExtended: 0 }));
    super.submit(command, done);
  }
}

/** The old extension: two election timeouts at the simulation's 10 ticks of ~10 ms. */
const OLD_LEASE_EXTENSION_MS = 200;

/** VariantName selects the correct system or one broken variant. */
export type VariantName =
  | 'correct'
  | 'vote-without-log-check'
  | 'commit-earlier-terms'
  | 'send-before-durable'
  | 'wall-clock-stamps'
  | 'two-conf-changes'
  | 'conf-change-before-noop'
  | 'keepalive-without-confirm'
  | 'no-session-restart';

/** VARIANT_NAMES lists every variant, correct first. */
export const VARIANT_NAMES: readonly VariantName[] = [
  'correct',
  'vote-without-log-check',
  'commit-earlier-terms',
  'send-before-durable',
  'wall-clock-stamps',
  'two-conf-changes',
  'conf-change-before-noop',
  'keepalive-without-confirm',
  'no-session-restart',
];

/** Variant is how the cluster builds each member's core and lock service. */
export interface Variant {
  readonly createNode: NodeFactory;
  readonly createLockService: LockServiceFactory;
}

const correctNode: NodeFactory = (c: RaftConfig, d: DurableState) => new RaftNode(c, d);
const correctLocks: LockServiceFactory = (o: LockServiceOptions) => new LockService(o);

/** variant returns the factories for a variant name. */
export function variant(name: VariantName): Variant {
  switch (name) {
    case 'correct':
      return { createNode: correctNode, createLockService: correctLocks };
    case 'vote-without-log-check':
      return { createNode: (c, d) => new VoteWithoutLogCheck(c, d), createLockService: correctLocks };
    case 'commit-earlier-terms':
      return { createNode: (c, d) => new CommitEarlierTerms(c, d), createLockService: correctLocks };
    case 'send-before-durable':
      return { createNode: (c, d) => new SendBeforeDurable(c, d), createLockService: correctLocks };
    case 'wall-clock-stamps':
      return { createNode: correctNode, createLockService: (o) => new WallClockStamps(o) };
    case 'two-conf-changes':
      return { createNode: (c, d) => new TwoConfChangesInFlight(c, d), createLockService: correctLocks };
    case 'conf-change-before-noop':
      return { createNode: (c, d) => new ConfChangeBeforeNoop(c, d), createLockService: correctLocks };
    case 'keepalive-without-confirm':
      return { createNode: correctNode, createLockService: (o) => new KeepaliveWithoutConfirm(o) };
    case 'no-session-restart':
      return { createNode: correctNode, createLockService: (o) => new NoSessionRestart(o) };
  }
}

/** isVariantName narrows a string (e.g. from SIM_VARIANT). */
export function isVariantName(s: string): s is VariantName {
  return (VARIANT_NAMES as readonly string[]).includes(s);
}
