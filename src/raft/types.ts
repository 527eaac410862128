/**
 * The vocabulary of the Raft core: entries, hard state, snapshots, messages and
 * the Ready batch. Everything here is plain data (msgpackr-encodable), so the
 * same values cross the simulated network, the TCP transport and LevelDB.
 */

/** NodeId is a member's stable name, e.g. "n1". */
export type NodeId = string;

/**
 * MemberRecord says how to reach a member: its Raft peer address ("host:port") and its HTTP base URL. A member added
 * at run time always has one; the members of a bootstrap configuration may have none (their addresses come from the
 * command line, `--peers` and `--peer-http`).
 */
export interface MemberRecord {
  readonly id: NodeId;
  readonly peerAddress: string;
  readonly httpUrl: string;
}

/**
 * ConfState is a cluster configuration (thesis §4): the voters, whose majorities elect leaders and commit entries, the
 * learners (non-voting members: they receive the log and snapshots, and neither vote nor count toward any majority),
 * and the address records the configuration knows, in id order. Voters and learners are disjoint and sorted; a record
 * names a voter or a learner. A node reads its configuration from its log (the latest config entry, committed or not,
 * thesis §4.1), else from its snapshot. src/raft/configuration.ts builds and checks them.
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly members: readonly MemberRecord[];
}

/**
 * ConfChange is one single-server membership change (thesis §4.1): add a learner, promote a learner to voter, or
 * remove a member (voter or learner). A new member always joins as a learner (etcd's learners, hashicorp's nonvoters).
 */
export type ConfChange =
  | { readonly type: 'addLearner'; readonly id: NodeId; readonly peerAddress: string; readonly httpUrl: string }
  | { readonly type: 'promote'; readonly id: NodeId }
  | { readonly type: 'remove'; readonly id: NodeId };

/**
 * ConfChangeRefusal says why a leader refused a configuration change:
 * - not_leader, transferring: ask the leader, or wait for the transfer to end;
 * - own_term_not_committed: a new leader first commits an entry of its own term (the single-server fix from raft-dev, 2015);
 * - change_in_progress: the previous change is not committed yet (one at a time, thesis §4.1);
 * - not_caught_up: the learner lags too far, or some member does not yet hold the current configuration;
 * - unknown_member, already_member, not_learner: the change does not fit the current configuration;
 * - last_voter: a configuration keeps at least one voter.
 * All but the last four are transient: the same change may succeed later.
 */
export type ConfChangeRefusal =
  | 'not_leader'
  | 'transferring'
  | 'own_term_not_committed'
  | 'change_in_progress'
  | 'not_caught_up'
  | 'unknown_member'
  | 'already_member'
  | 'not_learner'
  | 'last_voter';

/** ConfChangeResult says where a configuration change landed (and the configuration it makes), or why it was refused. */
export type ConfChangeResult =
  | { readonly ok: true; readonly index: number; readonly term: number; readonly config: ConfState }
  | { readonly ok: false; readonly reason: ConfChangeRefusal; readonly leader: NodeId | null };

/** MemberProgress is the leader's view of one member's replication, for `raftlock status`. */
export interface MemberProgress {
  readonly id: NodeId;
  readonly suffrage: 'voter' | 'learner';
  /** Highest index known to be on the member's disk (the leader's own: its durable last index). */
  readonly match: number;
  /** Entries the member is behind the leader's last index. */
  readonly lag: number;
  /** The leader's replication state toward it ('self' for the leader). */
  readonly state: 'probe' | 'replicate' | 'snapshot' | 'self';
}

/** EntryType distinguishes application commands from membership configuration. */
export type EntryType = 'normal' | 'config';

/**
 * Entry is one slot of the replicated log. `data` is opaque to the core for
 * normal entries; an empty `data` is the leader's no-op (Raft §8). A config
 * entry carries the whole new configuration in `config` (thesis §4.1) and
 * empty `data`.
 */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
  readonly config?: ConfState;
}

/** HardState is what must be durable before any message that depends on it is sent (Raft Figure 2, "persistent state"). */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

/** SnapshotMeta names the log prefix a snapshot replaces (Raft §7). */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly config: ConfState;
}

/** Snapshot is a state machine image plus the metadata of the last entry it covers. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** Role is the node's current Raft role; preCandidate is thesis §9.6 PreVote. */
export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term; for preVote/preVoteResponse the term the sender would campaign at. */
  readonly term: number;
}

/** RequestVote (Raft §5.2, §5.4.1). `transfer` marks a campaign caused by TimeoutNow (thesis §3.10), which bypasses the leader lease. */
export interface VoteMessage extends MessageBase {
  readonly type: 'vote' | 'preVote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  readonly transfer: boolean;
}

export interface VoteResponseMessage extends MessageBase {
  readonly type: 'voteResponse' | 'preVoteResponse';
  readonly reject: boolean;
}

/** AppendEntries (Raft §5.3). */
export interface AppendMessage extends MessageBase {
  readonly type: 'append';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * AppendEntries reply. On success `index` is the last index now known to match.
 * On reject `index` is the prevLogIndex that failed, and (hintIndex, hintTerm)
 * let the leader skip a whole conflicting term at once (Raft §5.3, the
 * "optimization" paragraph; thesis §5.4.2 / etcd's findConflictByTerm).
 */
export interface AppendResponseMessage extends MessageBase {
  readonly type: 'appendResponse';
  readonly reject: boolean;
  readonly index: number;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** Heartbeat carries the commit index and, for ReadIndex (thesis §6.4), a read context to confirm leadership. */
export interface HeartbeatMessage extends MessageBase {
  readonly type: 'heartbeat';
  readonly commit: number;
  readonly context: string | null;
}

export interface HeartbeatResponseMessage extends MessageBase {
  readonly type: 'heartbeatResponse';
  readonly context: string | null;
}

/**
 * InstallSnapshot (Raft §7). The core emits it with `meta` only; the host
 * attaches `data` from its snapshot store and the transport ships it in
 * bounded chunks. A received one must carry `data` before it is stepped.
 */
export interface SnapshotMessage extends MessageBase {
  readonly type: 'snapshot';
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array | null;
}

/** TimeoutNow (thesis §3.10): the leader tells an up-to-date follower to campaign at once. */
export interface TimeoutNowMessage extends MessageBase {
  readonly type: 'timeoutNow';
}

export type Message =
  | VoteMessage
  | VoteResponseMessage
  | AppendMessage
  | AppendResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | SnapshotMessage
  | TimeoutNowMessage;

export type MessageType = Message['type'];

/** ReadState answers a readIndex(context) call: once appliedIndex >= index, a read reflects every write acknowledged before the call. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/** SoftState is volatile and need not be persisted. */
export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId | null;
  readonly term: number;
}

/**
 * Ready is one batch of work for the host, in this order:
 * 1. send `earlyMessages` (they may leave before the write below is durable);
 * 2. persist `snapshot` (if any), then `entries` (delete every stored entry
 *    with index >= entries[0].index first), then `hardState` (if any), as one
 *    synced write; `committedEntries` are already durable and may be applied
 *    while it syncs;
 * 3. once the write is durable, send `messages`, then install `snapshot` into
 *    the state machine (a Ready with a snapshot has no committedEntries);
 * 4. hand `readStates` to waiting reads;
 * 5. call advance(ready) with this same object.
 * The core decides which messages are early (etcd's msgs / msgsAfterAppend
 * split), so no host re-derives that safety rule.
 */
export interface Ready {
  readonly softState: SoftState;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  /**
   * Messages that depend on nothing this Ready persists: a leader's replication traffic (append, heartbeat,
   * snapshot, timeoutNow) while its term and vote are unchanged. Thesis §10.2.1: the leader may send AppendEntries
   * before its own write is durable, because it counts its own copy toward commit only after advance().
   */
  readonly earlyMessages: readonly Message[];
  /** Messages that must wait until this Ready's write is durable: every vote, every response, anything after a term or vote change. */
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

/** ProposeResult says where a proposal landed, or why it was refused. */
export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly reason: 'not_leader' | 'transferring' | 'overloaded'; readonly leader: NodeId | null };

/** ReadIndexResult is the immediate answer to readIndex(); the ReadState itself arrives in a later Ready. */
export type ReadIndexResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'not_leader' | 'overloaded'; readonly leader: NodeId | null };

/** Random is the injected source of randomness: an integer in [0, maxExclusive). */
export interface Random {
  nextInt(maxExclusive: number): number;
}

/** RaftConfig fixes a node's identity and limits. Every limit is a bound on a queue or a batch. */
export interface RaftConfig {
  readonly id: NodeId;
  /** Ticks without hearing from a leader before a follower campaigns; randomized in [electionTicks, 2*electionTicks). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Upper bound on the encoded-ish size of the entries in one AppendEntries. */
  readonly maxAppendBytes: number;
  /** Upper bound on AppendEntries in flight to one follower (pipelining window). */
  readonly maxInflightAppends: number;
  /** Upper bound on bytes of proposals appended but not yet committed; beyond it propose() answers 'overloaded'. */
  readonly maxUncommittedBytes: number;
  /** Upper bound on bytes of committed entries handed out in one Ready. */
  readonly maxApplyBytes: number;
  /** Upper bound on pending ReadIndex requests. */
  readonly maxPendingReads: number;
  /** A learner is promoted only when it is at most this many entries behind the leader's last index. */
  readonly maxPromoteLagEntries: number;
  readonly random: Random;
}

/** DurableState is what a node restarts from: exactly what earlier Readys persisted. */
export interface DurableState {
  readonly hardState: HardState;
  /** The snapshot metadata the log starts after; index 0 with the bootstrap voters for a new cluster (none for a joining member). */
  readonly snapshotMeta: SnapshotMeta;
  /** Entries snapshotMeta.index+1 .. last, contiguous. */
  readonly entries: readonly Entry[];
}
