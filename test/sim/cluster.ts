import {
  DEFAULT_LIMITS,
  RaftNode,
  SeededRandom,
  bootstrapState,
  type DurableState,
  type Message,
  type NodeId,
  type ProposeResult,
  type RaftConfig,
  type Ready,
  type SnapshotMeta,
} from '../../src/raft/index.js';
import { EventQueue } from './event-queue.js';
import { SimNetwork } from './network.js';
import { SimDisk } from './disk.js';
import { ToyStateMachine, entryKey } from './state-machine.js';
import { InvariantChecker, type HostView } from './invariants.js';
import { violated } from './sim-violation.js';

/** NodeFactory builds a RaftNode; broken variants substitute a subclass. */
export type NodeFactory = (config: RaftConfig, durable: DurableState) => RaftNode;

/** ClusterOptions fix everything about a cluster except what the schedule does to it. */
export interface ClusterOptions {
  readonly ids: readonly NodeId[];
  /** Root generator of this run; every other generator is forked from it in a fixed order. */
  readonly random: SeededRandom;
  readonly createNode: NodeFactory;
  /** Broken host (variant c): send a Ready's messages before its write is durable. */
  readonly sendBeforeDurable: boolean;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Virtual ms per tick for each node, in `ids` order (slightly different values model clock drift). */
  readonly tickMs: readonly number[];
  readonly electionTicks: number;
  readonly maxAppendBytes: number;
  readonly maxInflightAppends: number;
  /** Host takes a snapshot and compacts after this many entries applied beyond its last snapshot. */
  readonly snapshotEvery: number;
  /** Disk write latency: usually in [1, fastDiskMaxMs], with probability slowDiskProbability in [slowDiskMinMs, slowDiskMaxMs]. */
  readonly fastDiskMaxMs: number;
  readonly slowDiskProbability: number;
  readonly slowDiskMinMs: number;
  readonly slowDiskMaxMs: number;
  /** When set, every event is described to this sink (replay / debugging only: it is slow). */
  readonly trace: ((line: string) => void) | null;
}

type SimEvent =
  | { readonly kind: 'tick'; readonly id: NodeId; readonly incarnation: number }
  | { readonly kind: 'deliver'; readonly msg: Message; readonly senderIncarnation: number; readonly primary: boolean }
  | { readonly kind: 'diskDone'; readonly id: NodeId; readonly incarnation: number }
  | { readonly kind: 'snapshotDropped'; readonly from: NodeId; readonly to: NodeId; readonly senderIncarnation: number }
  | { readonly kind: 'action'; readonly label: string; readonly run: () => void };

/** Host is one simulated server: a RaftNode (volatile), its disk (durable) and its state machine (volatile, rebuilt from the snapshot). */
class Host implements HostView {
  alive = true;
  node: RaftNode | null = null;
  sm = new ToyStateMachine();
  incarnation = 0;
  /** The Ready whose write is in flight (at most one, as the host loop requires). */
  inFlight: Ready | null = null;

  constructor(
    readonly id: NodeId,
    readonly disk: SimDisk,
    readonly tickMs: number,
  ) {}
}

interface PendingProposal {
  readonly id: NodeId;
  readonly incarnation: number;
  readonly index: number;
  readonly term: number;
}

/** Bounds that keep a broken core from running away with the test process. */
const MAX_QUEUED_EVENTS = 1_000_000;
const MAX_READIES_PER_PUMP = 10_000;
/** A schedule runs ~5-30k events; far more means a message storm or a busy loop in virtual time. */
const MAX_EVENTS_PER_RUN = 5_000_000;

/**
 * SimCluster is the host loop of core-api.md for every node, driven by one
 * event queue on a virtual integer-ms clock. It owns the network, the disks
 * and the state machines, calls the invariant checker after every event, and
 * offers the client and fault operations a schedule uses.
 */
export class SimCluster {
  nowMs = 0;
  events = 0;
  readonly network: SimNetwork;
  readonly checker: InvariantChecker;
  readonly stats = { messagesSent: 0, messagesDropped: 0, crashes: 0, restarts: 0, proposals: 0, reads: 0, transfers: 0, snapshotsTaken: 0 };
  private readonly queue = new EventQueue<SimEvent>(MAX_QUEUED_EVENTS);
  private readonly hosts: Host[];
  private readonly byId = new Map<NodeId, Host>();
  private readonly diskRandom: SeededRandom;
  private readonly nodeSeeds: SeededRandom;
  private readonly proposals = new Map<string, PendingProposal>();
  /** Probability that a disk write is slow; the liveness phase sets it to 0 ("heal everything"). */
  slowDiskProbability: number;

  constructor(private readonly opts: ClusterOptions) {
    this.slowDiskProbability = opts.slowDiskProbability;
    // Fork order is part of the replay contract: add new forks at the end only.
    this.network = new SimNetwork(opts.ids, opts.random.fork(), { minDelayMs: opts.minDelayMs, maxDelayMs: opts.maxDelayMs });
    this.diskRandom = opts.random.fork();
    this.nodeSeeds = opts.random.fork();
    const boot = bootstrapState(opts.ids);
    const emptyImage = new ToyStateMachine().encode();
    this.hosts = opts.ids.map((id, i) => new Host(id, new SimDisk(id, boot, emptyImage), opts.tickMs[i]!));
    for (const h of this.hosts) this.byId.set(h.id, h);
    this.checker = new InvariantChecker(this.hosts, opts.ids.length);
    for (const h of this.hosts) this.start(h);
  }

  get ids(): readonly NodeId[] {
    return this.opts.ids;
  }

  host(id: NodeId): HostView {
    return this.mustHost(id);
  }

  private mustHost(id: NodeId): Host {
    const h = this.byId.get(id);
    if (h === undefined) throw new Error(`unknown node ${id}`);
    return h;
  }

  private trace(line: string): void {
    this.opts.trace?.(`${String(this.nowMs).padStart(6)} ${line}`);
  }

  /** note adds a line to the trace (schedules describe their faults with it). */
  note(line: string): void {
    this.trace(line);
  }

  // ---- Event loop -------------------------------------------------------------

  /** at schedules a scripted action (client request, fault) at absolute virtual time atMs. */
  at(atMs: number, label: string, run: () => void): void {
    this.queue.push(Math.max(atMs, this.nowMs), { kind: 'action', label, run });
  }

  /** runUntil processes events up to and including endMs, or until `stop` returns true after an event. */
  runUntil(endMs: number, stop?: () => boolean): void {
    for (;;) {
      const t = this.queue.peekTime();
      if (t === null || t > endMs) break;
      const ev = this.queue.pop()!;
      this.nowMs = ev.timeMs;
      if (++this.events > MAX_EVENTS_PER_RUN) throw new Error(`more than ${MAX_EVENTS_PER_RUN} events in one run (message storm?)`);
      this.dispatch(ev.item);
      this.checker.afterEvent();
      if (stop?.()) return;
    }
    this.nowMs = Math.max(this.nowMs, endMs);
  }

  private dispatch(ev: SimEvent): void {
    switch (ev.kind) {
      case 'tick': {
        const h = this.mustHost(ev.id);
        if (!h.alive || h.incarnation !== ev.incarnation) return;
        h.node!.tick();
        this.pump(h);
        this.queue.push(this.nowMs + h.tickMs, ev);
        return;
      }
      case 'deliver':
        this.deliver(ev.msg, ev.senderIncarnation, ev.primary);
        return;
      case 'diskDone': {
        const h = this.mustHost(ev.id);
        if (!h.alive || h.incarnation !== ev.incarnation) return;
        const rd = h.inFlight!;
        h.inFlight = null;
        h.disk.sync();
        this.trace(`${h.id} synced ${describeWrite(rd)}`);
        this.finishReady(h, rd);
        this.pump(h);
        return;
      }
      case 'snapshotDropped': {
        const sender = this.mustHost(ev.from);
        if (!sender.alive || sender.incarnation !== ev.senderIncarnation) return;
        sender.node!.reportSnapshot(ev.to, false);
        this.pump(sender);
        return;
      }
      case 'action':
        this.trace(`action ${ev.label}`);
        ev.run();
        return;
    }
  }

  // ---- Host loop (core-api.md) ---------------------------------------------------

  /**
   * pump runs the host loop while the node has work and no write is in flight:
   * take a Ready, stage its persistence as one write, and finish it when the
   * simulated fsync completes. A Ready with nothing to persist finishes at once.
   */
  private pump(h: Host): void {
    for (let i = 0; ; i++) {
      if (i >= MAX_READIES_PER_PUMP) throw new Error(`${h.id}: more than ${MAX_READIES_PER_PUMP} Readys in one pump (livelock?)`);
      if (!h.alive || h.inFlight !== null) return;
      const node = h.node!;
      if (!node.hasReady()) return;
      const rd = node.ready();
      this.checker.onReady(h, node, rd);
      if (this.opts.sendBeforeDurable) this.send(h, rd.messages); // broken variant (c)
      if (rd.hardState === null && rd.entries.length === 0 && rd.snapshot === null) {
        this.finishReady(h, rd);
        continue;
      }
      h.inFlight = rd;
      h.disk.stage(rd);
      this.queue.push(this.nowMs + this.diskLatency(), { kind: 'diskDone', id: h.id, incarnation: h.incarnation });
    }
  }

  private diskLatency(): number {
    const r = this.diskRandom;
    const o = this.opts;
    if (this.slowDiskProbability > 0 && r.next() < this.slowDiskProbability) return o.slowDiskMinMs + r.nextInt(o.slowDiskMaxMs - o.slowDiskMinMs + 1);
    return 1 + r.nextInt(o.fastDiskMaxMs);
  }

  /** finishReady does the rest of the host loop once the Ready's write is durable: send, install, apply, hand out reads, advance. */
  private finishReady(h: Host, rd: Ready): void {
    const node = h.node!;
    if (!this.opts.sendBeforeDurable) this.send(h, rd.messages);
    if (rd.snapshot !== null) {
      h.sm.restore(rd.snapshot.data);
      this.checker.onSnapshotInstall(h, rd.snapshot, h.sm);
      this.trace(`${h.id} installed snapshot ${rd.snapshot.meta.index}/${rd.snapshot.meta.term}`);
    }
    for (const e of rd.committedEntries) {
      const key = entryKey(e);
      h.sm.apply(e, key);
      this.checker.onApply(h, e, key, h.sm.hash);
      const p = key === '' ? undefined : this.proposals.get(key);
      if (p !== undefined && p.id === h.id && p.incarnation === h.incarnation) {
        // The node that accepted the proposal applied it: this is when a real server answers the client "committed".
        if (p.index !== e.index || p.term !== e.term) {
          violated('state-machine-safety', `${key} accepted at (${p.index}, term ${p.term}) but applied at (${e.index}, term ${e.term})`);
        }
        this.proposals.delete(key);
        this.checker.onAck(e.index, e.term);
      }
    }
    for (const rs of rd.readStates) this.checker.onReadState(h, rs);
    node.advance(rd);
    if (node.appliedIndex !== h.sm.appliedIndex) {
      throw new Error(`${h.id}: core applied index ${node.appliedIndex} != state machine ${h.sm.appliedIndex} after advance`);
    }
    this.maybeSnapshot(h, node);
  }

  /** maybeSnapshot takes a snapshot every snapshotEvery applied entries, stores it durably, then compacts the core's log. */
  private maybeSnapshot(h: Host, node: RaftNode): void {
    const applied = h.sm.appliedIndex;
    if (applied - h.disk.snapshot.meta.index < this.opts.snapshotEvery || h.disk.hasPending) return;
    // A snapshot from the leader stepped in after this Ready was taken already replaced the log; the next Ready installs it.
    if (applied < node.firstIndex - 1) return;
    const meta = node.snapshotMetaAt(applied);
    h.disk.storeSnapshot({ meta, data: h.sm.encode() });
    node.compact(meta);
    this.stats.snapshotsTaken++;
    this.trace(`${h.id} snapshot+compact at ${meta.index}/${meta.term}`);
  }

  private send(h: Host, messages: readonly Message[]): void {
    for (const m of messages) {
      if (m.from !== h.id) throw new Error(`${h.id} sent a message from ${m.from}`);
      if (!this.byId.has(m.to)) throw new Error(`${h.id} sent a message to unknown ${m.to}`);
      let out: Message = m;
      if (m.type === 'snapshot') out = { ...m, ...this.snapshotFor(h, m.meta.index) };
      this.stats.messagesSent++;
      const delays = this.network.plan();
      if (delays.length === 0) {
        this.stats.messagesDropped++;
        if (m.type === 'snapshot') {
          this.queue.push(this.nowMs + this.opts.maxDelayMs, { kind: 'snapshotDropped', from: h.id, to: m.to, senderIncarnation: h.incarnation });
        }
      }
      delays.forEach((d, i) => this.queue.push(this.nowMs + d, { kind: 'deliver', msg: out, senderIncarnation: h.incarnation, primary: i === 0 }));
    }
  }

  /**
   * snapshotFor attaches a snapshot image to a snapshot message the core
   * emitted with `data: null` (core-api.md). The core may have queued the
   * message before the host compacted again, so the host sends its latest
   * stored snapshot (meta and data together) when it is at least as new as the
   * one the core named; the follower answers with that higher index and the
   * leader's progress moves past it.
   */
  private snapshotFor(h: Host, index: number): { meta: SnapshotMeta; data: Uint8Array } {
    const stored = h.disk.snapshot;
    if (stored.meta.index >= index) return { meta: stored.meta, data: stored.data };
    const pending = h.disk.pendingWrite?.snapshot;
    if (this.opts.sendBeforeDurable && pending != null && pending.meta.index >= index) return { meta: pending.meta, data: pending.data };
    throw new Error(`${h.id} core sends snapshot ${index} but the host only stores ${stored.meta.index}`);
  }

  private deliver(msg: Message, senderIncarnation: number, primary: boolean): void {
    const to = this.mustHost(msg.to);
    const from = this.mustHost(msg.from);
    const senderSame = from.alive && from.incarnation === senderIncarnation;
    if (!this.network.linkUp(msg.from, msg.to) || !to.alive) {
      this.stats.messagesDropped++;
      if (senderSame) {
        // The transport notices a failed send (etcd's ReportUnreachable); a lost snapshot is reported as failed.
        from.node!.reportUnreachable(msg.to);
        if (primary && msg.type === 'snapshot') from.node!.reportSnapshot(msg.to, false);
        this.pump(from);
      }
      return;
    }
    this.trace(`${msg.from}->${msg.to} ${describeMessage(msg)}`);
    to.node!.step(msg);
    this.pump(to);
    if (primary && msg.type === 'snapshot' && senderSame) {
      from.node!.reportSnapshot(msg.to, true);
      this.pump(from);
    }
  }

  // ---- Lifecycle --------------------------------------------------------------------

  private config(id: NodeId): RaftConfig {
    return {
      ...DEFAULT_LIMITS,
      id,
      electionTicks: this.opts.electionTicks,
      maxAppendBytes: this.opts.maxAppendBytes,
      maxInflightAppends: this.opts.maxInflightAppends,
      random: this.nodeSeeds.fork(),
    };
  }

  private start(h: Host): void {
    h.node = this.opts.createNode(this.config(h.id), h.disk.durableState());
    h.sm = new ToyStateMachine();
    h.sm.restore(h.disk.snapshot.data);
    h.alive = true;
    // A random phase so nodes do not tick in lockstep.
    this.queue.push(this.nowMs + 1 + this.diskRandom.nextInt(h.tickMs), { kind: 'tick', id: h.id, incarnation: h.incarnation });
  }

  isAlive(id: NodeId): boolean {
    return this.mustHost(id).alive;
  }

  /** crash drops the node and all volatile state; an unsynced write is lost. */
  crash(id: NodeId): void {
    const h = this.mustHost(id);
    if (!h.alive) return;
    h.alive = false;
    h.node = null;
    h.inFlight = null;
    h.disk.loseUnsynced();
    h.incarnation++;
    this.stats.crashes++;
    this.trace(`${id} CRASH (durable term ${h.disk.hardState.term} vote ${h.disk.hardState.vote} commit ${h.disk.hardState.commit} last ${h.disk.lastIndex})`);
    this.checker.onCrash(id);
  }

  /** restart builds a new RaftNode from the durable state and restores the state machine from the durable snapshot. */
  restart(id: NodeId): void {
    const h = this.mustHost(id);
    if (h.alive) return;
    this.start(h);
    this.stats.restarts++;
    this.trace(`${id} RESTART (term ${h.disk.hardState.term} commit ${h.disk.hardState.commit} snapshot ${h.disk.snapshot.meta.index} last ${h.disk.lastIndex})`);
    this.checker.onRestart(h);
    this.pump(h);
  }

  // ---- Clients ------------------------------------------------------------------------

  /** leaders returns the live nodes that currently believe they lead (more than one only across terms). */
  leaders(): NodeId[] {
    const out: NodeId[] = [];
    for (const h of this.hosts) if (h.alive && h.node!.role === 'leader') out.push(h.id);
    return out;
  }

  /** leader is the live leader with the highest term, or null. */
  leader(): NodeId | null {
    let best: Host | null = null;
    for (const h of this.hosts) {
      if (h.alive && h.node!.role === 'leader' && (best === null || h.node!.term > best.node!.term)) best = h;
    }
    return best?.id ?? null;
  }

  /** propose sends a unique payload to node `id`; a non-leader must refuse with not_leader. */
  propose(id: NodeId, payload: string): ProposeResult | null {
    const h = this.mustHost(id);
    if (!h.alive) return null;
    if (this.proposals.has(payload)) throw new Error(`payload ${payload} reused`);
    const node = h.node!;
    const wasLeader = node.role === 'leader';
    const r = node.propose(new TextEncoder().encode(payload));
    this.stats.proposals++;
    if (!wasLeader && (r.ok || r.reason !== 'not_leader')) {
      violated('client', `${id} (${node.role}) answered a proposal with ${JSON.stringify(r)}, expected not_leader`);
    }
    if (r.ok) {
      if (node.termAt(r.index) !== r.term || r.term !== node.term) violated('client', `${id} accepted ${payload} at (${r.index}, ${r.term}) but its log disagrees`);
      this.proposals.set(payload, { id, incarnation: h.incarnation, index: r.index, term: r.term });
    }
    this.trace(`${id} propose ${payload} -> ${r.ok ? `${r.index}/${r.term}` : r.reason}`);
    this.pump(h);
    return r;
  }

  /** readIndex asks node `id` for a linearizable read point; a non-leader must refuse. */
  readIndex(id: NodeId, context: string): boolean {
    const h = this.mustHost(id);
    if (!h.alive) return false;
    const node = h.node!;
    const wasLeader = node.role === 'leader';
    if (wasLeader) this.checker.onReadIndexCall(h, context);
    const r = node.readIndex(context);
    this.stats.reads++;
    if (!wasLeader && r.ok) violated('client', `${id} (${node.role}) accepted readIndex ${context}`);
    this.pump(h);
    return r.ok;
  }

  /** transfer asks node `id` to hand leadership to `to`. */
  transfer(id: NodeId, to: NodeId): void {
    const h = this.mustHost(id);
    if (!h.alive) return;
    this.stats.transfers++;
    const ok = h.node!.transferLeadership(to);
    this.trace(`${id} transfer to ${to}: ${ok}`);
    this.pump(h);
  }

  /** appliedIndexOf is a live node's state machine position (null when down). */
  appliedIndexOf(id: NodeId): number | null {
    const h = this.mustHost(id);
    return h.alive ? h.sm.appliedIndex : null;
  }

  /** describeNodes renders every node's state, for traces and failure reports. */
  describeNodes(): string {
    return this.hosts
      .map((h) => {
        if (!h.alive) return `${h.id}:down(term ${h.disk.hardState.term}, last ${h.disk.lastIndex})`;
        const n = h.node!;
        return `${h.id}:${n.role}(term ${n.term}, commit ${n.commitIndex}, applied ${h.sm.appliedIndex}, log ${n.firstIndex}..${n.lastIndex})`;
      })
      .join(' ');
  }
}

function describeWrite(rd: Ready): string {
  const parts: string[] = [];
  if (rd.snapshot !== null) parts.push(`snap ${rd.snapshot.meta.index}/${rd.snapshot.meta.term}`);
  if (rd.entries.length > 0) parts.push(`entries ${rd.entries[0]!.index}..${rd.entries[rd.entries.length - 1]!.index}`);
  if (rd.hardState !== null) parts.push(`hs term ${rd.hardState.term} vote ${rd.hardState.vote} commit ${rd.hardState.commit}`);
  return parts.join(', ');
}

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
