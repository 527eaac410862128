import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Socket } from 'node:net';
import type { SnapshotMessage } from '../../src/raft/types.js';
import { encodeFrame, FrameDecoder } from '../../src/transport/frame-codec.js';
import { newNonce } from '../../src/transport/handshake-auth.js';
import { makeTestPki, tlsSecurity } from '../support/test-pki.js';
import { createNode, startCluster, stopAll, TestResources, Watched } from './helpers.js';

const res = new TestResources();
const { sockets, servers, nodes: open } = res;
afterEach(() => res.release());

/**
 * fakeListener accepts the handshake of any dialer, then misbehaves as told:
 * it never pings (a black hole) and/or never acknowledges snapshot chunks.
 */
async function fakeListener(opts: { ping: boolean }): Promise<{ port: number; accepted: Watched<Socket>; chunks: Watched<unknown> }> {
  const accepted = new Watched<Socket>();
  const chunks = new Watched<unknown>();
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    const decoder = new FrameDecoder();
    let timer: NodeJS.Timeout | null = null;
    socket.on('close', () => {
      if (timer !== null) clearInterval(timer);
    });
    socket.on('data', (chunk: Buffer) => {
      for (const v of decoder.push(chunk)) {
        const frame = v as { k: string };
        if (frame.k === 'hello') {
          socket.write(encodeFrame({ k: 'welcome', auth: null }));
          if (opts.ping) timer = setInterval(() => socket.write(encodeFrame({ k: 'ping' })), 50);
        } else if (frame.k === 'snap') {
          chunks.push(frame);
        }
      }
    });
    socket.write(encodeFrame({ k: 'challenge', nonce: newNonce() }));
    accepted.push(socket);
  });
  servers.push(server);
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  return { port, accepted, chunks };
}

describe('PeerTransport liveness', () => {
  it('drops and redials a connection on which the listener went silent', async () => {
    const fake = await fakeListener({ ping: false });
    const a = createNode('a', ['a', 'b'], { keepaliveIntervalMs: 50, idleTimeoutMs: 200 });
    open.push(a);
    await startCluster([a]);
    a.transport.updatePeerAddress('b', { host: '127.0.0.1', port: fake.port });
    await fake.accepted.until((s) => s.length >= 2, 'a redial after the idle timeout');
    expect(a.log.items.some((e) => e.msg === 'connection to peer lost' && String(e.obj['err']).includes('silent'))).toBe(true);
    await a.unreachable.until((u) => u.includes('b'), 'unreachable after idle timeout');
  });

  it('fails a snapshot whose acknowledgements stall, within the window', async () => {
    const fake = await fakeListener({ ping: true });
    const a = createNode('a', ['a', 'b'], { snapshotAckTimeoutMs: 300, keepaliveIntervalMs: 50, snapshotChunkBytes: 64 * 1024, snapshotWindowChunks: 3 });
    open.push(a);
    await startCluster([a]);
    a.transport.updatePeerAddress('b', { host: '127.0.0.1', port: fake.port });
    await a.log.until((l) => l.some((e) => e.msg === 'connected to peer'), 'connected to the fake listener');
    const snap: SnapshotMessage = { type: 'snapshot', from: 'a', to: 'b', term: 1, meta: { index: 5, term: 1, config: { voters: ['a', 'b'], learners: [], members: [] } }, data: new Uint8Array(1024 * 1024) };
    a.transport.send([snap]);
    await a.snapshotsSent.until((s) => s.length === 1, 'snapshot failure report');
    expect(a.snapshotsSent.items).toEqual([{ peer: 'b', ok: false }]);
    // Without acks the sender stopped at the window: 3 chunks of 64 KiB, not the 16 of the whole snapshot.
    expect(fake.chunks.items).toHaveLength(3);
  });

  it('closes an accepted connection that never says hello', async () => {
    const a = createNode('a', ['a', 'b'], { handshakeTimeoutMs: 200 });
    open.push(a);
    await startCluster([a]);
    const { connect } = await import('node:net');
    const raw = connect({ host: '127.0.0.1', port: a.port });
    sockets.push(raw);
    raw.on('error', () => {});
    raw.resume(); // read, so the server's close is seen
    await new Promise<void>((resolve) => raw.on('close', () => resolve()));
    expect(a.log.items.some((e) => e.msg === 'inbound handshake timed out, closing')).toBe(true);
  });

  it.each(['insecure', 'tls'] as const)('releases every socket, server and timer on stop (%s)', async (mode) => {
    const pki = mode === 'tls' ? await makeTestPki('test-cluster', ['n1', 'n2', 'n3']) : null;
    const count = (): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
      return out;
    };
    const before = count();
    const ids = ['n1', 'n2', 'n3'];
    const nodes = ids.map((id) => createNode(id, ids, pki === null ? {} : { security: tlsSecurity(pki, pki.members[id]!) }));
    open.push(...nodes);
    await startCluster(nodes);
    nodes[0]!.transport.send([{ type: 'timeoutNow', from: 'n1', to: 'n2', term: 1 }, { type: 'timeoutNow', from: 'n1', to: 'n3', term: 1 }]);
    await nodes[1]!.inbox.until((m) => m.length === 1, 'n2 got it');
    await nodes[2]!.inbox.until((m) => m.length === 1, 'n3 got it');
    const during = count();
    expect(during['TCPSocketWrap'] ?? 0).toBeGreaterThan(before['TCPSocketWrap'] ?? 0);
    await stopAll(nodes);
    const after = count();
    expect(after['TCPSocketWrap'] ?? 0).toBeLessThanOrEqual(before['TCPSocketWrap'] ?? 0);
    expect(after['TCPServerWrap'] ?? 0).toBeLessThanOrEqual(before['TCPServerWrap'] ?? 0);
    expect(after['Timeout'] ?? 0).toBeLessThanOrEqual(before['Timeout'] ?? 0);
  });
});
