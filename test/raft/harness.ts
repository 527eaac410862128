import {
  DEFAULT_LIMITS,
  RaftNode,
  SeededRandom,
  bootstrapState,
  joiningState,
  type DurableState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type RaftConfig,
  type ReadState,
  type Ready,
  type Snapshot,
  type SnapshotMessage,
} from '../../src/raft/index.js';

/** MemoryDisk is what one node has made durable; the scripted harness persists every Ready at once. */
export interface MemoryDisk {
  hardState: HardState;
  snapshot: Snapshot;
  entries: Entry[];
}

/** NodeFactory builds a node; tests pass one to run a deliberately broken RaftNode subclass. */
export type NodeFactory = (config: RaftConfig, durable: DurableState) => RaftNode;

/** SafetyViolation records two different entries applied at the same index (State Machine Safety, Raft Figure 3). */
export interface SafetyViolation {
  readonly index: number;
  readonly first: { readonly node: NodeId; readonly term: number };
  readonly second: { readonly node: NodeId; readonly term: number };
}

/**
 * ScriptedCluster drives RaftNodes with a synchronous, lossless-by-default
 * network the test controls message by message: interaction tests read like
 * the protocol they check. Nothing here is random except the seeded election
 * timeouts.
 */
export class ScriptedCluster {
  readonly nodes = new Map<NodeId, RaftNode>();
  readonly disks = new Map<NodeId, MemoryDisk>();
  readonly applied = new Map<NodeId, Entry[]>();
  /** Messages sent and not yet delivered, in send order. */
  inbox: Message[] = [];
  /** Directed links that drop everything: "a->b". */
  readonly cut = new Set<string>();
  /** Nodes taken down with crash() and not yet reconnected. */
  readonly crashed = new Set<NodeId>();
  /** Read states handed out by each node's Readys, in order. */
  readonly readStates = new Map<NodeId, ReadState[]>();
  /** Every applied entry by index, across nodes and restarts: the first one applied there. */
  private readonly firstApplied = new Map<number, { node: NodeId; term: number }>();
  /** Two nodes (or one node across a restart) applied different entries at one index. */
  readonly violations: SafetyViolation[] = [];
  private readonly factory: NodeFactory;
  /** Every Ready the harness processed, in order (for persistence-ordering assertions); clear it freely. */
  readyLog: { readonly id: NodeId; readonly ready: Ready }[] = [];

  constructor(readonly ids: NodeId[], readonly overrides: Partial<RaftConfig> = {}, seed = 1, options: { factory?: NodeFactory } = {}) {
    this.factory = options.factory ?? ((config, durable) => new RaftNode(config, durable));
    for (const [i, id] of ids.entries()) {
      const durable = bootstrapState(ids);
      this.disks.set(id, { hardState: durable.hardState, snapshot: { meta: durable.snapshotMeta, data: new Uint8Array() }, entries: [] });
      this.applied.set(id, []);
      this.readStates.set(id, []);
      this.nodes.set(id, this.makeNode(id, durable, seed + i));
    }
  }

  /** join starts a member the cluster is adding (thesis §4.1): an empty store, its configuration unknown until the leader's log or snapshot arrives. */
  join(id: NodeId, seed = 50): RaftNode {
    if (this.nodes.has(id)) throw new Error(`${id} is already running`);
    const durable = joiningState();
    this.disks.set(id, { hardState: durable.hardState, snapshot: { meta: durable.snapshotMeta, data: new Uint8Array() }, entries: [] });
    this.applied.set(id, []);
    this.readStates.set(id, []);
    const node = this.makeNode(id, durable, seed);
    this.nodes.set(id, node);
    return node;
  }

  makeNode(id: NodeId, durable: DurableState, seed: number): RaftNode {
    return this.factory({ ...DEFAULT_LIMITS, ...this.overrides, id, random: new SeededRandom(seed) }, durable);
  }

  node(id: NodeId): RaftNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** drain processes every Ready of every node: persist, queue messages, apply. */
  drain(): void {
    for (let round = 0; round < 1000; round++) {
      let any = false;
      for (const [id, n] of this.nodes) {
        while (n.hasReady()) {
          any = true;
          const rd = n.ready();
          if (this.readyLog.length >= 100_000) this.readyLog.splice(0, 50_000); // bounded: long scripts keep the recent half
          this.readyLog.push({ id, ready: rd });
          const disk = this.disks.get(id)!;
          if (rd.snapshot) {
            disk.snapshot = rd.snapshot;
            disk.entries = [];
            this.applied.set(id, []);
          }
          if (rd.entries.length > 0) {
            const first = rd.entries[0]!.index;
            disk.entries = disk.entries.filter((e) => e.index < first).concat(rd.entries);
          }
          if (rd.hardState) disk.hardState = rd.hardState;
          for (const m of [...rd.earlyMessages, ...rd.messages]) {
            if (m.type === 'snapshot' && m.data === null) this.inbox.push({ ...m, data: disk.snapshot.data });
            else this.inbox.push(m);
          }
          this.applied.get(id)!.push(...rd.committedEntries);
          for (const e of rd.committedEntries) this.recordApplied(id, e);
          this.readStates.get(id)!.push(...rd.readStates);
          n.advance(rd);
        }
      }
      if (!any) return;
    }
    throw new Error('drain did not settle in 1000 rounds');
  }

  /** deliver sends every queued message (subject to cuts) until the network is quiet. */
  deliverAll(maxMessages = 100_000): void {
    let delivered = 0;
    this.drain();
    while (this.inbox.length > 0) {
      const batch = this.inbox;
      this.inbox = [];
      for (const m of batch) {
        if (this.cut.has(`${m.from}->${m.to}`)) continue;
        const target = this.nodes.get(m.to);
        if (target === undefined) continue;
        target.step(m);
        if (++delivered > maxMessages) throw new Error('network did not settle');
      }
      this.drain();
    }
  }

  /** take removes and returns the queued messages matching the filter (for step-by-step scripts). */
  take(filter: (m: Message) => boolean = () => true): Message[] {
    this.drain();
    const taken = this.inbox.filter(filter);
    this.inbox = this.inbox.filter((m) => !filter(m));
    return taken;
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.node(id).tick();
    this.drain();
  }

  /** elect makes `id` campaign (by ticking it past its timeout) and delivers until settled. */
  elect(id: NodeId): void {
    const n = this.node(id);
    for (let i = 0; i < 100 && n.role !== 'leader'; i++) {
      n.tick();
      this.deliverAll();
    }
    if (n.role !== 'leader') throw new Error(`${id} did not become leader`);
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
    this.crashed.clear();
  }

  /** restart rebuilds a node from its disk only. */
  restart(id: NodeId, seed = 99): void {
    const disk = this.disks.get(id)!;
    this.nodes.set(id, this.makeNode(id, { hardState: disk.hardState, snapshotMeta: disk.snapshot.meta, entries: disk.entries }, seed));
    this.applied.set(id, []);
  }

  private recordApplied(id: NodeId, e: Entry): void {
    const seen = this.firstApplied.get(e.index);
    if (seen === undefined) this.firstApplied.set(e.index, { node: id, term: e.term });
    else if (seen.term !== e.term) this.violations.push({ index: e.index, first: seen, second: { node: id, term: e.term } });
  }

  /** deliver steps the queued messages matching the filter once (subject to cuts), then drains; returns how many were stepped. */
  deliver(filter: (m: Message) => boolean): number {
    let stepped = 0;
    for (const m of this.take(filter)) {
      if (this.cut.has(`${m.from}->${m.to}`)) continue;
      const target = this.nodes.get(m.to);
      if (target === undefined) continue;
      target.step(m);
      stepped++;
    }
    this.drain();
    return stepped;
  }

  /** drop discards the queued messages matching the filter (message loss); returns how many. */
  drop(filter: (m: Message) => boolean): number {
    return this.take(filter).length;
  }

  /** tickUntil ticks `id` (draining after each tick, delivering nothing) until `done` holds; throws after maxTicks. */
  tickUntil(id: NodeId, done: (n: RaftNode) => boolean, maxTicks = 1000): number {
    for (let i = 0; i < maxTicks; i++) {
      if (done(this.node(id))) return i;
      this.tick(id);
    }
    if (done(this.node(id))) return maxTicks;
    throw new Error(`${id}: condition not reached in ${maxTicks} ticks`);
  }

  /** campaign ticks `id` until it starts an election or pre-election (its term rises or it becomes pre-candidate). */
  campaign(id: NodeId): void {
    const term = this.node(id).term;
    this.tickUntil(id, (n) => n.term > term || n.role === 'preCandidate' || n.role === 'leader', 100);
  }

  /** crash cuts every link of `id` and drops what it had queued; untick it and it is as good as stopped. Bring it back with reconnect(). */
  crash(id: NodeId): void {
    this.crashed.add(id);
    this.isolate(id);
    this.drop((m) => m.from === id);
  }

  /** reconnect restores the links between `id` and every node not crashed, optionally restarting it from its disk first. */
  reconnect(id: NodeId, restartSeed?: number): void {
    this.crashed.delete(id);
    for (const link of [...this.cut]) {
      const [from, to] = link.split('->') as [NodeId, NodeId];
      const other = from === id ? to : to === id ? from : null;
      if (other !== null && !this.crashed.has(other)) this.cut.delete(link);
    }
    if (restartSeed !== undefined) this.restart(id, restartSeed);
  }

  /** wipe stops `id` and deletes its disk, as an operator replacing a machine does; join() starts it again empty. */
  wipe(id: NodeId): void {
    this.crash(id);
    this.crashed.delete(id);
    this.nodes.delete(id);
    this.disks.delete(id);
    this.drop((m) => m.to === id);
    this.heal();
  }

  /** compact has `id` snapshot its state at appliedIndex (data = the applied payloads so far) and drop the log prefix. */
  compact(id: NodeId, data: Uint8Array = new Uint8Array([1, 2, 3])): void {
    const n = this.node(id);
    const disk = this.disks.get(id)!;
    const meta = n.snapshotMetaAt(n.appliedIndex);
    disk.snapshot = { meta, data };
    disk.entries = disk.entries.filter((e) => e.index > meta.index);
    n.compact(meta);
  }
}

/** standaloneNode builds one node outside any cluster, from a durable state, for scripts that step messages by hand. */
export function standaloneNode(
  id: NodeId,
  voters: NodeId[],
  durable: Partial<{ term: number; vote: NodeId | null; commit: number; entries: Entry[] }> = {},
  overrides: Partial<RaftConfig> = {},
  seed = 7,
): RaftNode {
  const base = bootstrapState(voters);
  const state: DurableState = {
    hardState: { term: durable.term ?? 0, vote: durable.vote ?? null, commit: durable.commit ?? 0 },
    snapshotMeta: base.snapshotMeta,
    entries: durable.entries ?? [],
  };
  return new RaftNode({ ...DEFAULT_LIMITS, ...overrides, id, random: new SeededRandom(seed) }, state);
}

/** cycle takes one Ready from a node outside a cluster and advances it at once (as if persisted and sent). */
export function cycle(n: RaftNode): Ready {
  const rd = n.ready();
  n.advance(rd);
  return rd;
}

/** entriesOf builds entries from a list of terms, starting at index `from` (1 unless told). */
export function entriesOf(terms: number[], from = 1): Entry[] {
  return terms.map((term, i) => ({ index: from + i, term, type: 'normal' as const, data: enc(`e${from + i}t${term}`) }));
}

/** termsOf lists the terms of a node's log from firstIndex to lastIndex. */
export function termsOf(n: RaftNode): number[] {
  return n.entries(n.firstIndex, n.lastIndex).map((e) => e.term);
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** cMissedThreeEntries: 'a' leads a, b, c and committed three entries while c was down; c is still down (crash). */
export function cMissedThreeEntries(overrides: Partial<RaftConfig> = {}): ScriptedCluster {
  const c = new ScriptedCluster(['a', 'b', 'c'], overrides);
  c.elect('a');
  c.crash('c');
  for (let i = 0; i < 3; i++) {
    c.node('a').propose(enc(`p${i}`));
    c.drain();
  }
  c.deliverAll();
  return c;
}

/**
 * snapshotPendingForC: as cMissedThreeEntries, then 'a' compacts its log and c comes back, so a falls back to sending
 * c a snapshot (Raft §7). The snapshot message is taken off the network undelivered: the host is "still sending" it.
 */
export function snapshotPendingForC(): { c: ScriptedCluster; snapshot: SnapshotMessage } {
  const c = cMissedThreeEntries();
  c.compact('a');
  c.reconnect('c');
  c.node('a').propose(enc('after'));
  c.deliver((m) => m.to === 'c');
  c.deliver((m) => m.from === 'c'); // c's rejection makes a fall back to a snapshot
  const snapshots = c.take((m) => m.type === 'snapshot');
  if (snapshots.length !== 1 || c.node('a').progressOf('c')?.state !== 'snapshot') throw new Error('a did not fall back to one snapshot for c');
  return { c, snapshot: snapshots[0] as SnapshotMessage };
}
