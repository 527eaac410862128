/**
 * Test helpers for the transport: in-memory inboxes and loggers whose events
 * can be awaited (no sleeps), and a cluster builder on 127.0.0.1 port 0.
 */
import type { Server, Socket } from 'node:net';
import { PeerTransport, type PeerTransportOptions, type TransportLogger } from '../../src/transport/index.js';
import type { HeartbeatMessage, Message, NodeId } from '../../src/raft/types.js';

/** Waiters resolves promises when a predicate over a growing list first holds; rejects after a deadline with a description. */
export class Watched<T> {
  readonly items: T[] = [];
  private waiters: { pred: (items: readonly T[]) => boolean; resolve: () => void }[] = [];

  push(item: T): void {
    this.items.push(item);
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.pred(this.items)) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  /** until resolves once pred(items) holds; rejects after timeoutMs (a failure guard, not a sleep). */
  until(pred: (items: readonly T[]) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (pred(this.items)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (have ${this.items.length} items)`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ pred, resolve: done });
    });
  }
}

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

/** capturingLogger records every log call. */
export function capturingLogger(): { logger: TransportLogger; entries: Watched<LogEntry> } {
  const entries = new Watched<LogEntry>();
  const at = (level: LogEntry['level']) => (obj: object, msg: string) => entries.push({ level, obj: obj as Record<string, unknown>, msg });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, entries };
}

export interface TestNode {
  readonly id: NodeId;
  transport: PeerTransport;
  port: number;
  readonly inbox: Watched<Message>;
  readonly unreachable: Watched<NodeId>;
  readonly snapshotsSent: Watched<{ peer: NodeId; ok: boolean }>;
  readonly log: Watched<LogEntry>;
}

export type NodeOverrides = Partial<Omit<PeerTransportOptions, 'id' | 'listen' | 'peers' | 'onMessage' | 'onUnreachable' | 'onSnapshotSent'>>;

/** createNode builds (but does not start) a transport with recording callbacks. Peer ports start unknown (0). */
export function createNode(id: NodeId, peerIds: readonly NodeId[], overrides: NodeOverrides = {}, listenPort = 0): TestNode {
  const inbox = new Watched<Message>();
  const unreachable = new Watched<NodeId>();
  const snapshotsSent = new Watched<{ peer: NodeId; ok: boolean }>();
  const { logger, entries } = capturingLogger();
  const peers: Record<NodeId, { host: string; port: number }> = {};
  for (const p of peerIds) if (p !== id) peers[p] = { host: '127.0.0.1', port: 0 };
  const transport = new PeerTransport({
    clusterId: 'test-cluster',
    // The transport's own behaviour is the same in every mode; tests of security pass theirs.
    security: { mode: 'insecure' },
    logger,
    ...overrides,
    id,
    listen: { host: '127.0.0.1', port: listenPort },
    peers,
    onMessage: (m) => inbox.push(m),
    onUnreachable: (p) => unreachable.push(p),
    onSnapshotSent: (peer, ok) => snapshotsSent.push({ peer, ok }),
  });
  return { id, transport, port: 0, inbox, unreachable, snapshotsSent, log: entries };
}

/** startCluster starts every node, then tells each the others' ports. */
export async function startCluster(nodes: readonly TestNode[]): Promise<void> {
  for (const n of nodes) n.port = (await n.transport.start()).port;
  for (const n of nodes) for (const o of nodes) if (o !== n) n.transport.updatePeerAddress(o.id, { host: '127.0.0.1', port: o.port });
}

/** stopAll stops every transport (idempotent, safe in finally/afterEach). */
export async function stopAll(nodes: readonly TestNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.transport.stop()));
}

/** TestResources collects what a test opens (transports, raw sockets, servers); afterEach releases it all. */
export class TestResources {
  readonly nodes: TestNode[] = [];
  readonly sockets: Socket[] = [];
  readonly servers: Server[] = [];

  /** release destroys the sockets, stops the transports and closes the servers, and forgets them. */
  async release(): Promise<void> {
    for (const s of this.sockets.splice(0)) s.destroy();
    await stopAll(this.nodes.splice(0));
    await Promise.all(this.servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** heartbeat is a small message from `from` to `to`; `commit` tells them apart. */
export function heartbeat(from: NodeId, to: NodeId, commit: number): HeartbeatMessage {
  return { type: 'heartbeat', from, to, term: 1, commit, context: null };
}

/** connectBothWays starts two nodes, waits until a heartbeat went through each way, and empties their inboxes. */
export async function connectBothWays(a: TestNode, b: TestNode): Promise<void> {
  await startCluster([a, b]);
  a.transport.send([heartbeat(a.id, b.id, 0)]);
  b.transport.send([heartbeat(b.id, a.id, 0)]);
  await b.inbox.until((ms) => ms.length === 1, `${a.id}->${b.id} up`);
  await a.inbox.until((ms) => ms.length === 1, `${b.id}->${a.id} up`);
  a.inbox.items.length = 0;
  b.inbox.items.length = 0;
}

/** sampleMessages returns one message of every kind from `from` to `to`, with non-trivial byte payloads. */
export function sampleMessages(from: NodeId, to: NodeId): Message[] {
  const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
  return [
    { type: 'vote', from, to, term: 3, lastLogIndex: 10, lastLogTerm: 2, transfer: false },
    { type: 'preVote', from, to, term: 4, lastLogIndex: 11, lastLogTerm: 3, transfer: true },
    { type: 'voteResponse', from, to, term: 3, reject: false },
    { type: 'preVoteResponse', from, to, term: 4, reject: true },
    {
      type: 'append',
      from,
      to,
      term: 5,
      prevLogIndex: 9,
      prevLogTerm: 4,
      commit: 8,
      entries: [
        { index: 10, term: 5, type: 'normal', data: new Uint8Array(0) },
        { index: 11, term: 5, type: 'normal', data: bytes(300, 1) },
        { index: 12, term: 5, type: 'config', data: bytes(3, 2), config: { voters: ['n1', 'n2', 'n3'], learners: [], members: [] } },
      ],
    },
    { type: 'append', from, to, term: 5, prevLogIndex: 12, prevLogTerm: 5, commit: 12, entries: [] },
    { type: 'appendResponse', from, to, term: 5, reject: true, index: 12, hintIndex: 7, hintTerm: 2 },
    { type: 'heartbeat', from, to, term: 5, commit: 12, context: 'read-42' },
    { type: 'heartbeat', from, to, term: 5, commit: 12, context: null },
    { type: 'heartbeatResponse', from, to, term: 5, context: 'read-42' },
    { type: 'heartbeatResponse', from, to, term: 5, context: null },
    { type: 'snapshot', from, to, term: 6, meta: { index: 100, term: 5, config: { voters: ['n1', 'n2'], learners: [], members: [] } }, data: bytes(1000, 3) },
    { type: 'timeoutNow', from, to, term: 6 },
    { type: 'append', from, to, term: 2 ** 40, prevLogIndex: 2 ** 50, prevLogTerm: 2 ** 40, commit: 2 ** 50, entries: [] },
  ];
}
