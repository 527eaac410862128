import type { ConfState, Entry, NodeId, ReadState, Ready, Snapshot } from '../../src/raft/types.js';
import type { RaftNode } from '../../src/raft/index.js';
import type { SimDisk } from './disk.js';
import { bytesDigest, entryKey } from './entry-digest.js';
import { violated } from './sim-violation.js';
import { MembershipChecker } from './membership-invariants.js';

/** HostView is what the checker may look at on one simulated node. */
export interface HostView {
  readonly id: NodeId;
  readonly alive: boolean;
  readonly node: RaftNode | null;
  readonly disk: SimDisk;
  readonly incarnation: number;
  /** Highest index this incarnation has applied (or restored from a snapshot). */
  readonly appliedIndex: number;
  /** Hash chain over the (index, term, content, result) of every entry applied, from index 1. */
  readonly chain: number;
}

interface NodeTrack {
  incarnation: number;
  commit: number;
  applied: number;
  /** The term in which this incarnation was last seen as leader (leader completeness is checked once per term). */
  leaderTerm: number;
}

interface PendingRead {
  readonly node: NodeId;
  readonly incarnation: number;
  /** Highest index applied anywhere (hence committed) when readIndex was called. */
  readonly minIndex: number;
}

/** Log-matching table key for (index, term); terms stay far below 2^20 in a schedule. */
function key(index: number, term: number): number {
  return index * 1_048_576 + term;
}

/**
 * InvariantChecker holds the global history of a run and checks the Raft
 * safety properties (Raft Figure 3) plus the host-level durability and
 * linearizable-read properties. Every check is incremental: per event it does
 * O(nodes) work, per new entry O(1), and only a newly elected leader is
 * compared against the committed prefix (bounded by compaction).
 */
export class InvariantChecker {
  /** Election safety: term -> the one leader it ever had. */
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** Log matching: (index, term) -> the term before it and the entry content, as first seen in any log. */
  private readonly logTable = new Map<number, { prevTerm: number | null; content: string }>();
  /** State machine safety: what index i applied to, first seen anywhere. */
  private readonly appliedTerm: number[] = [0];
  private readonly appliedKey: string[] = [''];
  private readonly appliedHash: number[] = [0];
  /** Highest term any node had when index i was first applied: its commit term is at most this. */
  private readonly appliedSeenTerm: number[] = [0];
  /** Digest of the snapshot data first seen at an index: every snapshot of an index must be the same bytes. */
  private readonly snapshotDigest = new Map<number, string>();
  private readonly tracks = new Map<NodeId, NodeTrack>();
  private readonly reads = new Map<string, PendingRead>();
  private maxTermSeen = 0;
  /** Highest entry acknowledged to a client as committed. */
  private acked: { index: number; term: number } | null = null;
  /** Counters for the run summary. */
  readonly stats = { leadersElected: 0, entriesApplied: 0, readsServed: 0, snapshotsInstalled: 0, acked: 0 };

  /** The membership rules, and the configuration history that says which majority counts where. */
  readonly membership: MembershipChecker;

  constructor(
    private readonly hosts: readonly HostView[],
    bootstrap: ConfState,
  ) {
    for (const h of hosts) this.tracks.set(h.id, { incarnation: h.incarnation, commit: 0, applied: 0, leaderTerm: 0 });
    this.membership = new MembershipChecker(bootstrap);
  }

  get maxAppliedIndex(): number {
    return this.appliedTerm.length - 1;
  }

  /** appliedEntryAt returns the (term, key) committed at index, if some node applied it. */
  appliedEntryAt(index: number): { term: number; key: string } | null {
    const term = this.appliedTerm[index];
    return term === undefined ? null : { term, key: this.appliedKey[index]! };
  }

  /** onReady checks log matching on the entries a node is about to persist (its new log suffix). */
  onReady(h: HostView, node: RaftNode, rd: Ready): void {
    if (rd.softState.role === 'leader') this.noteLeader(h.id, rd.softState.term);
    this.membership.onReady(h.id, node, rd);
    if (rd.snapshot !== null) {
      const { index, term } = rd.snapshot.meta;
      const t = this.appliedTerm[index];
      if (index > 0 && t !== undefined && t !== term) {
        violated('state-machine-safety', `${h.id} receives snapshot (${index}, term ${term}) but index ${index} was applied with term ${t}`);
      }
    }
    let prevTerm: number | null = rd.entries.length > 0 ? node.termAt(rd.entries[0]!.index - 1) : null;
    for (const e of rd.entries) {
      this.checkLogEntry(h.id, e, prevTerm);
      prevTerm = e.term;
    }
  }

  /**
   * checkLogEntry is Log Matching (Raft §5.3): (index, term) names one entry
   * content and one predecessor term, in every log. By induction on index
   * that makes logs sharing (index, term) identical up to it.
   */
  private checkLogEntry(id: NodeId, e: Entry, prevTerm: number | null): void {
    const k = key(e.index, e.term);
    const content = e.type === 'config' ? `c:${entryKey(e)}` : `n:${entryKey(e)}`;
    const seen = this.logTable.get(k);
    if (seen === undefined) {
      this.logTable.set(k, { prevTerm, content });
      return;
    }
    if (seen.content !== content) {
      violated('log-matching', `${id} has entry (${e.index}, term ${e.term}) = ${JSON.stringify(content)} but another log has ${JSON.stringify(seen.content)}`);
    }
    if (prevTerm !== null) {
      if (seen.prevTerm === null) seen.prevTerm = prevTerm;
      else if (seen.prevTerm !== prevTerm) {
        violated('log-matching', `${id} has entry (${e.index}, term ${e.term}) after term ${prevTerm}, another log has it after term ${seen.prevTerm}`);
      }
    }
  }

  private noteLeader(id: NodeId, term: number): void {
    const other = this.leaderOfTerm.get(term);
    if (other === undefined) {
      this.leaderOfTerm.set(term, id);
      this.stats.leadersElected++;
    } else if (other !== id) {
      violated('election-safety', `two leaders in term ${term}: ${other} and ${id}`);
    }
  }

  /** chainAt is the hash chain after `index` as first applied anywhere (0 before index 1). */
  chainAt(index: number): number {
    const h = this.appliedHash[index];
    if (h === undefined) violated('snapshot', `a state at index ${index} is used, but no node has applied ${index}`);
    return h;
  }

  /**
   * onApply checks State Machine Safety (Raft §5.4.3) for one applied entry; `hashAfter` is the applier's chain with
   * the entry folded in. Returns true when this is the first application of the index anywhere.
   */
  onApply(h: HostView, e: Entry, k: string, hashAfter: number): boolean {
    this.stats.entriesApplied++;
    const t = this.appliedTerm[e.index];
    if (t !== undefined) {
      if (t !== e.term || this.appliedKey[e.index] !== k) {
        violated('state-machine-safety', `${h.id} applies (${e.index}, term ${e.term}, ${JSON.stringify(k)}) but another node applied (term ${t}, ${JSON.stringify(this.appliedKey[e.index])}) there`);
      }
      if (this.appliedHash[e.index] !== hashAfter) {
        violated('state-machine-safety', `${h.id} state after applying ${e.index} differs from another node's (a different result, or a divergence earlier in its history)`);
      }
      return false;
    }
    if (e.index !== this.appliedTerm.length) {
      violated('state-machine-safety', `${h.id} applies ${e.index} before any node applied ${this.appliedTerm.length}`);
    }
    let seenTerm = this.maxTermSeen;
    for (const o of this.hosts) if (o.node !== null && o.node.term > seenTerm) seenTerm = o.node.term;
    this.maxTermSeen = seenTerm;
    this.appliedTerm.push(e.term);
    this.appliedKey.push(k);
    this.appliedHash.push(hashAfter);
    this.appliedSeenTerm.push(seenTerm);
    this.membership.onFirstApply(e);
    this.checkCommitSafe(e);
    return true;
  }

  /** logTip is a node's current log as an election sees it: in memory when up, durable when down. */
  private logTip(h: HostView): LogTip {
    if (h.alive && h.node !== null) {
      const node = h.node;
      const lastIndex = node.lastIndex;
      const configs = (): Configs => ({ index: node.configurationIndex, latest: node.configuration(), before: node.configurationAt(node.configurationIndex - 1), commit: node.commitIndex });
      return { id: h.id, lastIndex, lastTerm: node.termAt(lastIndex) ?? 0, termAt: (i) => node.termAt(i), configs };
    }
    const disk = h.disk;
    return { id: h.id, lastIndex: disk.lastIndex, lastTerm: disk.termAt(disk.lastIndex) ?? 0, termAt: (i) => disk.termAt(i), configs: () => ({ ...disk.latestConfigs(), commit: disk.hardState.commit }) };
  }

  /**
   * electorate is the voters a node would count if it campaigned, or null when it never campaigns: a voter of its
   * latest configuration, or one that configuration removes while it is not committed (RaftState.mayCampaign).
   */
  private electorate(tip: LogTip): readonly NodeId[] | null {
    const { index, latest, before, commit } = tip.configs();
    if (latest.voters.includes(tip.id)) return latest.voters;
    return index > commit && before.voters.includes(tip.id) ? latest.voters : null;
  }

  /**
   * checkCommitSafe runs when an index is first applied (so it is committed):
   * no node whose log holds a different entry there may be able to win an
   * election, i.e. be a voter of its own configuration and collect a majority
   * of that configuration's voters whose logs it is at least as up to date as
   * (Raft §5.4.1). In correct Raft the commit put an entry of the commit term
   * at or after this index on a majority, whose last terms then exceed any
   * conflicting log's, and single-server changes make that majority overlap
   * every majority of the conflicting node's configuration. Counting replicas
   * of an earlier-term entry (Figure 8), or configurations that moved two
   * voters apart (the raft-dev bug of 2015), break exactly this.
   */
  private checkCommitSafe(e: Entry): void {
    const tips = this.hosts.map((h) => this.logTip(h));
    for (const cand of tips) {
      const t = cand.termAt(e.index);
      if (t === null || t === e.term) continue;
      const voters = this.electorate(cand);
      if (voters === null) continue; // never campaigns
      let votes = 0;
      for (const v of tips) {
        if (voters.includes(v.id) && (cand.lastTerm > v.lastTerm || (cand.lastTerm === v.lastTerm && cand.lastIndex >= v.lastIndex))) votes++;
      }
      if (votes > voters.length / 2) {
        violated(
          'commit-safety',
          `(${e.index}, term ${e.term}) is applied, but ${cand.id} holds term ${t} there and its log (last ${cand.lastIndex}/${cand.lastTerm}) could win an election with ${votes} of its ${voters.length} voters`,
        );
      }
    }
  }

  /**
   * onSnapshot checks a snapshot stored or installed at an index against every other one of that index: the same
   * bytes, because replicas that applied the same entries serialize the same table. And some node must have applied
   * the index (a snapshot is of applied state).
   */
  onSnapshot(h: HostView, snapshot: Snapshot, how: 'stored' | 'installed' | 'restored'): void {
    if (how === 'installed') this.stats.snapshotsInstalled++;
    const { index } = snapshot.meta;
    if (index === 0) return;
    if (this.appliedTerm[index] === undefined) violated('snapshot', `${h.id} ${how} a snapshot at ${index}, which no node has applied`);
    this.membership.checkSnapshot(h.id, snapshot, how);
    const digest = bytesDigest(snapshot.data);
    const seen = this.snapshotDigest.get(index);
    if (seen === undefined) this.snapshotDigest.set(index, digest);
    else if (seen !== digest) violated('state-machine-safety', `${h.id} ${how} a snapshot at ${index} whose state differs from another snapshot of ${index}`);
  }

  /** onAck records that a client was told its write (index, term) committed. */
  onAck(index: number, term: number): void {
    this.stats.acked++;
    if (this.acked === null || index > this.acked.index) this.acked = { index, term };
  }

  /**
   * onCrash checks that no acknowledged write can be lost: every majority of
   * the voters of the latest committed configuration (the one in force at the
   * highest applied index) must hold the highest acked entry durably (log or
   * snapshot), counting only synced writes; otherwise that majority could elect
   * a leader without it. Its commit put it on a majority of the configuration
   * the leader then used, which is that one or differs from it by one voter
   * (thesis §4.1), so its majorities overlap. Log matching makes this cover
   * every earlier acked entry.
   */
  onCrash(crashed: NodeId): void {
    const a = this.acked;
    if (a === null) return;
    const voters = this.membership.configAt(this.maxAppliedIndex).voters;
    let holders = 0;
    for (const h of this.hosts) if (voters.includes(h.id) && h.disk.containsCommitted(a.index, a.term)) holders++;
    // A majority avoids the holders exactly when the voters without the entry are a majority.
    if (voters.length - holders > voters.length / 2) {
      violated('durability', `after ${crashed} crashed, acknowledged entry (${a.index}, term ${a.term}) is durable on only ${holders} of the ${voters.length} voters' disks`);
    }
  }

  /** onRestart checks a fresh node starts from exactly its durable state. */
  onRestart(h: HostView): void {
    const node = h.node!;
    const snap = h.disk.snapshot.meta.index;
    if (node.commitIndex < h.disk.hardState.commit) {
      violated('commit-monotonic', `${h.id} restarts with commit ${node.commitIndex} below durable commit ${h.disk.hardState.commit}`);
    }
    if (node.appliedIndex !== snap || h.appliedIndex !== snap) {
      violated('applied-monotonic', `${h.id} restarts with applied ${node.appliedIndex} (host ${h.appliedIndex}), expected the snapshot index ${snap}`);
    }
    this.onSnapshot(h, h.disk.snapshot, 'restored');
    this.tracks.set(h.id, { incarnation: h.incarnation, commit: node.commitIndex, applied: node.appliedIndex, leaderTerm: 0 });
  }

  /** onReadIndexCall records the floor a later ReadState must meet. */
  onReadIndexCall(h: HostView, context: string): void {
    const k = readKey(h, context);
    if (this.reads.has(k)) throw new Error(`read context ${k} reused`);
    this.reads.set(k, { node: h.id, incarnation: h.incarnation, minIndex: this.maxAppliedIndex });
  }

  /**
   * onReadState checks linearizable reads (thesis §6.4): the read index is at
   * least every index committed before the call, and the answer reaches the
   * incarnation that asked, once.
   */
  onReadState(h: HostView, rs: ReadState): void {
    const k = readKey(h, rs.context);
    const read = this.reads.get(k);
    if (read === undefined) violated('read-index', `${h.id} got a read state for unknown or already answered context ${rs.context}`);
    if (read.node !== h.id || read.incarnation !== h.incarnation) {
      violated('read-index', `${h.id}#${h.incarnation} got read state ${rs.context} asked on ${read.node}#${read.incarnation}`);
    }
    if (rs.index < read.minIndex) {
      violated('read-index', `${h.id} read ${rs.context} at index ${rs.index}, but ${read.minIndex} was committed before the call (stale read)`);
    }
    if (h.node !== null && rs.index > h.node.commitIndex) {
      violated('read-index', `${h.id} read index ${rs.index} beyond its commit ${h.node.commitIndex}`);
    }
    this.reads.delete(k);
    this.stats.readsServed++;
  }

  /** afterEvent runs after every event: election safety, leader completeness on new leaders, monotonic cursors. */
  afterEvent(): void {
    for (const h of this.hosts) {
      const node = h.node;
      if (!h.alive || node === null) continue;
      const track = this.tracks.get(h.id)!;
      if (track.incarnation !== h.incarnation) throw new Error(`checker: ${h.id} restarted without onRestart`);
      const term = node.term;
      if (term > this.maxTermSeen) this.maxTermSeen = term;
      const commit = node.commitIndex;
      const applied = node.appliedIndex;
      if (commit < track.commit) violated('commit-monotonic', `${h.id} commit index went back ${track.commit} -> ${commit}`);
      if (applied < track.applied) violated('applied-monotonic', `${h.id} applied index went back ${track.applied} -> ${applied}`);
      if (applied > commit) violated('applied-monotonic', `${h.id} applied ${applied} beyond commit ${commit}`);
      if (commit < h.disk.hardState.commit) violated('commit-monotonic', `${h.id} commit ${commit} below its durable commit ${h.disk.hardState.commit}`);
      track.commit = commit;
      track.applied = applied;
      if (node.role === 'leader' && track.leaderTerm !== term) {
        track.leaderTerm = term;
        this.noteLeader(h.id, term);
        this.checkLeaderCompleteness(h, node);
      }
    }
  }

  /**
   * checkLeaderCompleteness is Raft §5.4 (Leader Completeness): a new leader
   * of term T holds every entry committed in an earlier term. An applied entry
   * was committed in a term no higher than the highest term seen when it was
   * first applied, so only those entries with that bound below T are required.
   * Entries at or below the leader's snapshot are covered by the snapshot hash checks.
   */
  private checkLeaderCompleteness(h: HostView, node: RaftNode): void {
    const T = node.term;
    const hi = this.maxAppliedIndex;
    const snap = node.firstIndex - 1;
    if (snap > 0 && snap <= hi && this.appliedSeenTerm[snap]! < T && node.termAt(snap) !== this.appliedTerm[snap]) {
      violated('leader-completeness', `${h.id} became leader of term ${T} on a snapshot at ${snap} of term ${node.termAt(snap)}, but term ${this.appliedTerm[snap]} was committed there`);
    }
    const lo = Math.max(snap + 1, 1);
    // appliedSeenTerm never decreases with the index, so the required entries are a prefix: find its end.
    let required = 0;
    for (let i = hi; i >= lo; i--) {
      if (this.appliedSeenTerm[i]! < T) {
        required = i;
        break;
      }
    }
    if (required === 0) return;
    if (node.lastIndex < required) {
      violated('leader-completeness', `${h.id} became leader of term ${T} with last index ${node.lastIndex}, missing committed entry ${required}`);
    }
    const entries = node.entries(lo, required);
    if (entries.length !== required - lo + 1) throw new Error(`checker: entries(${lo}, ${required}) returned ${entries.length} entries`);
    for (const e of entries) {
      if (e.term !== this.appliedTerm[e.index] || entryKey(e) !== this.appliedKey[e.index]) {
        violated('leader-completeness', `${h.id} became leader of term ${T} with (${e.index}, term ${e.term}) where (term ${this.appliedTerm[e.index]}) was committed`);
      }
    }
  }

  /** checkChain verifies a host's hash chain matches the history at its applied index (used at the end). */
  checkChain(h: HostView): void {
    const i = h.appliedIndex;
    if (i > 0 && this.appliedHash[i] !== h.chain) violated('state-machine-safety', `${h.id} state at ${i} differs from the applied history`);
  }
}

/** Configs are a node's latest configuration, where it comes from, the one before it, and the node's commit index. */
interface Configs {
  readonly index: number;
  readonly latest: ConfState;
  readonly before: ConfState;
  readonly commit: number;
}

/** LogTip is a node's log as an election sees it, and the configurations that decide whether and where it campaigns. */
interface LogTip {
  readonly id: NodeId;
  readonly lastIndex: number;
  readonly lastTerm: number;
  termAt(index: number): number | null;
  configs(): Configs;
}

/** readKey names a read by the incarnation that asked: a restarted host numbers its reads from 1 again. */
function readKey(h: HostView, context: string): string {
  return `${h.incarnation}/${context}`;
}
