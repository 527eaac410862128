import {
  DEFAULT_LIMITS,
  RaftNode,
  SeededRandom,
  bootstrapState,
  type DurableState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type RaftConfig,
  type Snapshot,
} from '../../src/raft/index.js';

/** MemoryDisk is what one node has made durable; the scripted harness persists every Ready at once. */
export interface MemoryDisk {
  hardState: HardState;
  snapshot: Snapshot;
  entries: Entry[];
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

  constructor(readonly ids: NodeId[], readonly overrides: Partial<RaftConfig> = {}, seed = 1) {
    for (const [i, id] of ids.entries()) {
      const durable = bootstrapState(ids);
      this.disks.set(id, { hardState: durable.hardState, snapshot: { meta: durable.snapshotMeta, data: new Uint8Array() }, entries: [] });
      this.applied.set(id, []);
      this.nodes.set(id, this.makeNode(id, durable, seed + i));
    }
  }

  makeNode(id: NodeId, durable: DurableState, seed: number): RaftNode {
    return new RaftNode({ ...DEFAULT_LIMITS, ...this.overrides, id, random: new SeededRandom(seed) }, durable);
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
          for (const m of rd.messages) {
            if (m.type === 'snapshot' && m.data === null) this.inbox.push({ ...m, data: disk.snapshot.data });
            else this.inbox.push(m);
          }
          this.applied.get(id)!.push(...rd.committedEntries);
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
    for (const other of this.ids) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** restart rebuilds a node from its disk only. */
  restart(id: NodeId, seed = 99): void {
    const disk = this.disks.get(id)!;
    this.nodes.set(id, this.makeNode(id, { hardState: disk.hardState, snapshotMeta: disk.snapshot.meta, entries: disk.entries }, seed));
    this.applied.set(id, []);
  }
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
