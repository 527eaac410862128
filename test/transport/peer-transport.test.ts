import { afterEach, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import type { AppendMessage, Message, SnapshotMessage } from '../../src/raft/types.js';
import { decodeFrames, encodeFrame } from '../../src/transport/frame-codec.js';
import { connectBothWays, createNode, heartbeat, sampleMessages, startCluster, stopAll, type NodeOverrides, type TestNode } from './helpers.js';
import { rawPeer, secretHandshake, type RawPeer } from './raw-peer.js';

let open: TestNode[] = [];
const sockets: Socket[] = [];

function node(id: string, peers: readonly string[], overrides: NodeOverrides = {}, listenPort = 0): TestNode {
  const n = createNode(id, peers, overrides, listenPort);
  open.push(n);
  return n;
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await stopAll(open);
  open = [];
});

function append(from: string, to: string, index: number, bytes = 64): AppendMessage {
  return {
    type: 'append',
    from,
    to,
    term: 1,
    prevLogIndex: index - 1,
    prevLogTerm: 1,
    commit: index - 1,
    entries: [{ index, term: 1, type: 'normal', data: new Uint8Array(bytes).fill(index & 0xff) }],
  };
}

/** rawClient opens a plain socket to a transport and collects what it sends back. */
function rawClient(port: number): RawPeer {
  return rawPeer(port, sockets);
}

describe('PeerTransport between live nodes', () => {
  it('round-trips every message kind deep-equal in both directions, bytes preserved', async () => {
    const a = node('a', ['a', 'b']);
    const b = node('b', ['a', 'b']);
    // Snapshots to a peer that is not connected fail fast, so let both connections come up first.
    await connectBothWays(a, b);
    const toB = sampleMessages('a', 'b');
    const toA = sampleMessages('b', 'a');
    a.transport.send(toB);
    b.transport.send(toA);
    await b.inbox.until((ms) => ms.length === toB.length, 'all messages at b');
    await a.inbox.until((ms) => ms.length === toA.length, 'all messages at a');
    // Small messages keep their order; the snapshot travels on its own path.
    const small = (ms: readonly Message[]): Message[] => ms.filter((m) => m.type !== 'snapshot');
    expect(small(b.inbox.items)).toStrictEqual(small(toB));
    expect(small(a.inbox.items)).toStrictEqual(small(toA));
    expect(b.inbox.items.find((m) => m.type === 'snapshot')).toStrictEqual(toB.find((m) => m.type === 'snapshot'));
    const entry = (b.inbox.items.find((m) => m.type === 'append' && m.entries.length === 3) as AppendMessage).entries[1]!;
    expect(entry.data).toBeInstanceOf(Uint8Array);
    expect(entry.data.byteLength).toBe(300);
    await a.snapshotsSent.until((s) => s.length === 1, 'snapshot report');
    expect(a.snapshotsSent.items).toEqual([{ peer: 'b', ok: true }]);
  });

  it('connects three nodes pairwise', async () => {
    const ids = ['n1', 'n2', 'n3'];
    const nodes = ids.map((id) => node(id, ids));
    await startCluster(nodes);
    for (const from of nodes) {
      from.transport.send(ids.filter((to) => to !== from.id).map((to, i) => heartbeat(from.id, to, i)));
    }
    for (const n of nodes) {
      await n.inbox.until((ms) => ms.length === 2, `two heartbeats at ${n.id}`);
      expect(new Set(n.inbox.items.map((m) => m.from))).toEqual(new Set(ids.filter((id) => id !== n.id)));
      expect(n.inbox.items.every((m) => m.to === n.id)).toBe(true);
    }
  });

  it('sends the messages of one event-loop turn in order, in one frame', async () => {
    const a = node('a', ['a', 'b']);
    const b = node('b', ['a', 'b']);
    await startCluster([a, b]);
    a.transport.send([heartbeat('a', 'b', 0)]);
    await b.inbox.until((ms) => ms.length === 1, 'first heartbeat (connection up)');
    const framesBefore = a.transport.peerStats('b')!.framesSent;
    const n = 5000;
    for (let i = 1; i <= n; i++) a.transport.send([append('a', 'b', i, 16)]);
    await b.inbox.until((ms) => ms.length === n + 1, 'all appends');
    const indexes = b.inbox.items.slice(1).map((m) => (m as AppendMessage).entries[0]!.index);
    expect(indexes).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(a.transport.peerStats('b')!.framesSent - framesBefore).toBe(1);
  });

  it('streams a 20 MB snapshot in chunks, intact, without holding back later heartbeats', async () => {
    const a = node('a', ['a', 'b']);
    const b = node('b', ['a', 'b']);
    await startCluster([a, b]);
    a.transport.send([heartbeat('a', 'b', 0)]);
    await b.inbox.until((ms) => ms.length === 1, 'connection up');
    const data = new Uint8Array(20 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) & 0xff;
    data[data.length - 1] = 0x5a;
    const snap: SnapshotMessage = { type: 'snapshot', from: 'a', to: 'b', term: 3, meta: { index: 999, term: 3, config: { voters: ['a', 'b'], learners: [], members: [] } }, data };
    const framesBefore = a.transport.peerStats('b')!.framesSent;
    a.transport.send([snap]);
    // Next turn: the snapshot's first window is already written; this heartbeat must not wait for the rest.
    await new Promise<void>((resolve) => setImmediate(resolve));
    a.transport.send([heartbeat('a', 'b', 1)]);
    await a.snapshotsSent.until((s) => s.length === 1, 'snapshot report');
    expect(a.snapshotsSent.items).toEqual([{ peer: 'b', ok: true }]);
    await b.inbox.until((ms) => ms.some((m) => m.type === 'snapshot'), 'snapshot delivered');
    const kinds = b.inbox.items.map((m) => m.type);
    expect(kinds).toEqual(['heartbeat', 'heartbeat', 'snapshot']);
    const got = b.inbox.items[2] as SnapshotMessage;
    expect(got.meta).toEqual(snap.meta);
    expect(got.data!.byteLength).toBe(data.byteLength);
    expect(Buffer.compare(got.data!, data)).toBe(0);
    // 40 chunks of 512 KiB plus the heartbeat frame.
    expect(a.transport.peerStats('b')!.framesSent - framesBefore).toBe(41);
  });

  it('reports a snapshot to a peer that is down as not sent', async () => {
    const a = node('a', ['a', 'b']);
    await startCluster([a]);
    a.transport.send([{ type: 'snapshot', from: 'a', to: 'b', term: 1, meta: { index: 1, term: 1, config: { voters: ['a', 'b'], learners: [], members: [] } }, data: new Uint8Array(10) }]);
    await a.snapshotsSent.until((s) => s.length === 1, 'snapshot report');
    expect(a.snapshotsSent.items).toEqual([{ peer: 'b', ok: false }]);
    await a.unreachable.until((u) => u.length === 1, 'unreachable report');
  });

  it('refuses a snapshot over the receiver limit: connection dropped, reported false, traffic resumes', async () => {
    const a = node('a', ['a', 'b']);
    const b = node('b', ['a', 'b'], { maxSnapshotBytes: 1024 });
    await startCluster([a, b]);
    a.transport.send([heartbeat('a', 'b', 0)]);
    await b.inbox.until((ms) => ms.length === 1, 'connection up');
    a.transport.send([{ type: 'snapshot', from: 'a', to: 'b', term: 1, meta: { index: 1, term: 1, config: { voters: ['a', 'b'], learners: [], members: [] } }, data: new Uint8Array(4096) }]);
    await a.snapshotsSent.until((s) => s.length === 1, 'snapshot report');
    expect(a.snapshotsSent.items).toEqual([{ peer: 'b', ok: false }]);
    expect(b.log.items.some((e) => e.level === 'warn' && String(e.obj['reason']).includes('exceeds the limit'))).toBe(true);
    expect(b.inbox.items.some((m) => m.type === 'snapshot')).toBe(false);
    a.transport.send([heartbeat('a', 'b', 7)]);
    await b.inbox.until((ms) => ms.some((m) => m.type === 'heartbeat' && m.commit === 7), 'heartbeat after reconnect');
  });

  it('keeps the queue bounded for a dead peer, reports it unreachable, and resumes when it restarts', async () => {
    const a = node('a', ['a', 'b'], { maxQueuedMessagesPerPeer: 1000 });
    const b = node('b', ['a', 'b']);
    await startCluster([a, b]);
    a.transport.send([heartbeat('a', 'b', 0)]);
    await b.inbox.until((ms) => ms.length === 1, 'connection up');
    const reportsBefore = a.unreachable.items.length;
    await b.transport.stop();
    await a.unreachable.until((u) => u.length > reportsBefore, 'b reported unreachable after it stopped');
    expect(a.unreachable.items.at(-1)).toBe('b');
    expect(a.transport.isConnected('b')).toBe(false);
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 1; i <= 100_000; i++) a.transport.send([append('a', 'b', i, 32)]);
    const stats = a.transport.peerStats('b')!;
    expect(stats.queuedMessages).toBe(1000);
    expect(stats.droppedMessages).toBe(99_000);
    expect(stats.queuedBytes).toBeLessThanOrEqual(1000 * 200);
    // 1000 retained appends are well under 1 MB; allow generously for the garbage of the 99 000 dropped ones.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(200 * 1024 * 1024);

    // b restarts on a new port; a is told and redials at once.
    const b2 = node('b', ['a', 'b']);
    const port = (await b2.transport.start()).port;
    b2.transport.updatePeerAddress('a', { host: '127.0.0.1', port: a.port });
    a.transport.updatePeerAddress('b', { host: '127.0.0.1', port });
    // The newest 1000 queued appends are delivered on reconnect, oldest dropped.
    await b2.inbox.until((ms) => ms.length === 1000, 'queued appends after reconnect');
    expect((b2.inbox.items[0] as AppendMessage).entries[0]!.index).toBe(99_001);
    expect((b2.inbox.items[999] as AppendMessage).entries[0]!.index).toBe(100_000);
    b2.transport.send([heartbeat('b', 'a', 42)]);
    await a.inbox.until((ms) => ms.some((m) => m.type === 'heartbeat' && m.commit === 42), 'reverse traffic');
    expect(a.transport.peerStats('b')!.connects).toBe(2);
  });

  it('redials with backoff until the peer comes up, reporting unreachable at most once per attempt', async () => {
    const a = node('a', ['a', 'b']);
    await startCluster([a]);
    // A port where nothing listens: bound by a transport that is then stopped.
    const probe = node('b', ['a', 'b']);
    const port = (await probe.transport.start()).port;
    await probe.transport.stop();
    a.transport.updatePeerAddress('b', { host: '127.0.0.1', port });
    const dialFailures = (): number => a.log.items.filter((e) => e.msg === 'dial failed').length;
    // Keep sending while at least three dials fail; each failure is one backoff step.
    for (let step = 1; step <= 3; step++) {
      for (let i = 0; i < 100; i++) a.transport.send([heartbeat('a', 'b', step)]);
      await a.log.until(() => dialFailures() >= step, `dial failure ${step}`);
    }
    const dials = a.transport.peerStats('b')!.dials;
    expect(dials).toBeGreaterThanOrEqual(3);
    expect(a.unreachable.items.length).toBeGreaterThanOrEqual(1);
    expect(a.unreachable.items.length).toBeLessThanOrEqual(dials + 1);
    const b = node('b', ['a', 'b'], {}, port);
    await b.transport.start();
    // The queued heartbeats go out once the next backoff step connects.
    await b.inbox.until((ms) => ms.some((m) => m.type === 'heartbeat' && m.commit === 3), 'queued heartbeat after peer came up');
    expect(a.transport.isConnected('b')).toBe(true);
  });
});

describe('PeerTransport handshake and hostile input', () => {
  it('refuses a peer with the wrong secret: nothing delivered, warning logged', async () => {
    const a = node('a', ['a', 'b'], { security: { mode: 'secret', secret: 'right' } });
    const b = node('b', ['a', 'b'], { security: { mode: 'secret', secret: 'wrong' } });
    await startCluster([a, b]);
    b.transport.send([heartbeat('b', 'a', 1)]);
    await a.log.until((l) => l.some((e) => e.level === 'warn' && e.obj['reason'] === 'auth_failed'), 'auth failure warning at a');
    await b.log.until((l) => l.some((e) => e.level === 'warn' && e.msg === 'peer refused our handshake'), 'refusal seen by b');
    const warn = a.log.items.find((e) => e.obj['reason'] === 'auth_failed')!;
    expect(String(warn.obj['remote'])).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(a.inbox.items).toEqual([]);
    expect(b.transport.isConnected('a')).toBe(false);
    await b.unreachable.until((u) => u.includes('a'), 'b reports a unreachable');
  });

  it('connects with the same secret', async () => {
    const a = node('a', ['a', 'b'], { security: { mode: 'secret', secret: 'same' } });
    const b = node('b', ['a', 'b'], { security: { mode: 'secret', secret: 'same' } });
    await startCluster([a, b]);
    b.transport.send([heartbeat('b', 'a', 1)]);
    await a.inbox.until((ms) => ms.length === 1, 'message with secret');
  });

  it('refuses a wrong clusterId and an unknown sender', async () => {
    const a = node('a', ['a', 'b']);
    const b = node('b', ['a', 'b'], { clusterId: 'other-cluster' });
    const c = node('c', ['a', 'c']);
    await startCluster([a, b]);
    c.port = (await c.transport.start()).port;
    c.transport.updatePeerAddress('a', { host: '127.0.0.1', port: a.port });
    b.transport.send([heartbeat('b', 'a', 1)]);
    c.transport.send([heartbeat('c', 'a', 1)]);
    await a.log.until((l) => l.some((e) => e.obj['reason'] === 'cluster_mismatch'), 'cluster mismatch warning');
    await a.log.until((l) => l.some((e) => e.obj['reason'] === 'unknown_node'), 'unknown node warning');
    await c.log.until((l) => l.some((e) => e.msg === 'peer refused our handshake'), 'refusal seen by c');
    expect(a.inbox.items).toEqual([]);
  });

  it('drops a raw connection that sends garbage or a huge length prefix, and keeps serving peers', async () => {
    const a = node('a', ['a', 'b']);
    const b = node('b', ['a', 'b']);
    await startCluster([a, b]);
    const garbage = rawClient(a.port);
    garbage.socket.write(Buffer.from([0, 0, 0, 4, 0xc1, 0xc1, 0xc1, 0xc1]));
    await garbage.closed;
    const huge = rawClient(a.port);
    huge.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    await huge.closed;
    const wrongShape = rawClient(a.port);
    wrongShape.socket.write(encodeFrame({ k: 'msgs', m: [] })); // messages before hello
    await wrongShape.closed;
    await a.log.until((l) => l.filter((e) => e.level === 'warn').length >= 1, 'protocol warning');
    expect(a.log.items.some((e) => e.level === 'warn' && /^127\.0\.0\.1:/.test(String(e.obj['remote'])))).toBe(true);
    b.transport.send([heartbeat('b', 'a', 9)]);
    await a.inbox.until((ms) => ms.length === 1, 'legit traffic still flows');
  });

  it('drops messages whose from/to do not match an authenticated connection, and a malformed batch', async () => {
    const secret = 'k'.repeat(16);
    const a = node('a', ['a', 'b', 'c'], { security: { mode: 'secret', secret } });
    await startCluster([a]);
    const raw = rawClient(a.port);
    await secretHandshake(raw, secret, 'b', 'a', 'test-cluster');
    raw.send({ k: 'msgs', m: [heartbeat('c', 'a', 1), heartbeat('b', 'c', 2), heartbeat('b', 'a', 3)] });
    await a.inbox.until((ms) => ms.length === 1, 'the one well-addressed message');
    expect(a.inbox.items).toEqual([heartbeat('b', 'a', 3)]);
    expect(a.log.items.some((e) => e.msg.includes('does not match'))).toBe(true);
    raw.send({ k: 'msgs', m: [{ type: 'heartbeat', from: 'b', to: 'a', term: 'x' }] });
    await raw.closed;
    expect(a.inbox.items).toHaveLength(1);
  });

  it('closes unauthenticated connections beyond the pending-handshake bound', async () => {
    const a = node('a', ['a', 'b'], { maxPendingHandshakes: 2 });
    await startCluster([a]);
    const clients = [rawClient(a.port), rawClient(a.port)];
    await Promise.all(clients.map((c) => c.frames.until((f) => f.length === 1, 'challenge')));
    const third = rawClient(a.port);
    await third.closed;
    expect(a.log.items.some((e) => e.msg === 'too many unauthenticated connections, refusing')).toBe(true);
    expect(decodeFrames(Buffer.alloc(0)).values).toEqual([]);
  });
});
