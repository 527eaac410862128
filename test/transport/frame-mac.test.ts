import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { encodeFrame, FrameDecoder, FRAME_HEADER_BYTES } from '../../src/transport/frame-codec.js';
import { deriveFrameKeys, FrameOpener, FrameSealer, MAC_BYTES } from '../../src/transport/frame-mac.js';
import { newNonce } from '../../src/transport/handshake-auth.js';
import { createNode, heartbeat, startCluster, TestResources, type TestNode } from './helpers.js';
import { rawPeer, secretHandshake, type RawPeer } from './raw-peer.js';

/**
 * The shared-secret mode authenticates every frame, not only the hello: a
 * peer that completed the handshake (it knows the secret) still cannot get a
 * replayed, reordered, altered or unsealed frame accepted, and a listener
 * that does not know the secret never gets a dialer's messages.
 */

const SECRET = 'correct horse battery staple';
const res = new TestResources();
const { sockets, servers, nodes: open } = res;
afterEach(() => res.release());

function payloadOf(frame: Buffer): Buffer {
  return frame.subarray(FRAME_HEADER_BYTES);
}

describe('FrameSealer and FrameOpener', () => {
  const keys = deriveFrameKeys(SECRET, newNonce(), newNonce(), 'c', 'n1', 'n2');

  it('open accepts the frames of seal in order and returns each payload', () => {
    const sealer = new FrameSealer(keys.dialerToListener);
    const opener = new FrameOpener(keys.dialerToListener);
    for (let i = 0; i < 5; i++) {
      const frame = encodeFrame({ i });
      const sealed = sealer.seal(frame);
      expect(sealed.length).toBe(frame.length + MAC_BYTES);
      expect(sealed.readUInt32BE(0)).toBe(sealed.length - FRAME_HEADER_BYTES);
      expect(Buffer.from(opener.open(payloadOf(sealed))!)).toEqual(payloadOf(frame));
    }
  });

  it('rejects a replayed, reordered, altered, truncated or other-direction frame', () => {
    const sealer = new FrameSealer(keys.dialerToListener);
    const first = sealer.seal(encodeFrame({ n: 1 }));
    const second = sealer.seal(encodeFrame({ n: 2 }));
    const replay = new FrameOpener(keys.dialerToListener);
    expect(replay.open(payloadOf(first))).not.toBeNull();
    expect(replay.open(payloadOf(first))).toBeNull();
    expect(new FrameOpener(keys.dialerToListener).open(payloadOf(second))).toBeNull();
    const altered = Buffer.from(first);
    altered.writeUInt8(altered.readUInt8(FRAME_HEADER_BYTES + 1) ^ 0x01, FRAME_HEADER_BYTES + 1);
    expect(new FrameOpener(keys.dialerToListener).open(payloadOf(altered))).toBeNull();
    expect(new FrameOpener(keys.dialerToListener).open(payloadOf(first).subarray(0, MAC_BYTES - 1))).toBeNull();
    expect(new FrameOpener(keys.listenerToDialer).open(payloadOf(first))).toBeNull();
  });

  it('derives different keys for other nonces, another secret, or another pair of members', () => {
    const nL = newNonce();
    const nD = newNonce();
    const base = deriveFrameKeys(SECRET, nL, nD, 'c', 'n1', 'n2');
    expect(base.dialerToListener.equals(base.listenerToDialer)).toBe(false);
    for (const other of [
      deriveFrameKeys(SECRET, newNonce(), nD, 'c', 'n1', 'n2'),
      deriveFrameKeys(SECRET, nL, newNonce(), 'c', 'n1', 'n2'),
      deriveFrameKeys('another secret entirely', nL, nD, 'c', 'n1', 'n2'),
      deriveFrameKeys(SECRET, nL, nD, 'c', 'n2', 'n1'),
      deriveFrameKeys(SECRET, nL, nD, 'd', 'n1', 'n2'),
    ]) {
      expect(other.dialerToListener.equals(base.dialerToListener)).toBe(false);
    }
  });
});

describe('PeerTransport in secret mode authenticates every frame', () => {
  async function listener(): Promise<{ a: TestNode; raw: RawPeer }> {
    const a = createNode('a', ['a', 'b'], { security: { mode: 'secret', secret: SECRET } });
    open.push(a);
    await startCluster([a]);
    const raw = rawPeer(a.port, sockets);
    await secretHandshake(raw, SECRET, 'b', 'a', 'test-cluster');
    return { a, raw };
  }

  /** expectBadMac waits for the connection to close on a bad MAC, counted and logged. */
  async function expectBadMac(a: TestNode, raw: RawPeer): Promise<void> {
    await raw.closed;
    await a.log.until((l) => l.some((e) => e.msg === 'protocol error on inbound connection, closing' && /bad MAC/.test(String(e.obj['reason']))), 'bad MAC logged');
    expect(a.transport.securityStats().badMacFrames).toBe(1);
  }

  it('delivers sealed frames, and closes on a replayed one', async () => {
    const { a, raw } = await listener();
    const first = raw.seal({ k: 'msgs', m: [heartbeat('b', 'a', 1)] });
    raw.socket.write(first);
    await a.inbox.until((ms) => ms.length === 1, 'the sealed frame');
    raw.socket.write(first);
    await expectBadMac(a, raw);
    expect(a.inbox.items).toEqual([heartbeat('b', 'a', 1)]);
  });

  it('closes on frames written out of order', async () => {
    const { a, raw } = await listener();
    const first = raw.seal({ k: 'msgs', m: [heartbeat('b', 'a', 1)] });
    const second = raw.seal({ k: 'msgs', m: [heartbeat('b', 'a', 2)] });
    raw.socket.write(Buffer.concat([second, first]));
    await expectBadMac(a, raw);
    expect(a.inbox.items).toEqual([]);
  });

  it('closes on an altered frame and on an unsealed one', async () => {
    const { a, raw } = await listener();
    const frame = raw.seal({ k: 'msgs', m: [heartbeat('b', 'a', 1)] });
    // Flip a bit of the commit index inside the payload: still valid msgpack, but not what was sealed.
    const altered = Buffer.from(frame);
    altered.writeUInt8(altered.readUInt8(altered.length - MAC_BYTES - 1) ^ 0x01, altered.length - MAC_BYTES - 1);
    raw.socket.write(altered);
    await expectBadMac(a, raw);
    const second = rawPeer(a.port, sockets);
    await secretHandshake(second, SECRET, 'b', 'a', 'test-cluster');
    second.socket.write(encodeFrame({ k: 'msgs', m: [heartbeat('b', 'a', 2)] }));
    await second.closed;
    expect(a.transport.securityStats().badMacFrames).toBe(2);
    expect(a.inbox.items).toEqual([]);
  });

  it('sends a listener that cannot prove the secret nothing', async () => {
    // A fake listener on b's address: it challenges and welcomes, but with a proof it cannot make.
    const hellos: unknown[] = [];
    const afterHello: unknown[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      const decoder = new FrameDecoder();
      socket.on('data', (chunk: Buffer) => {
        for (const v of decoder.push(chunk)) {
          if ((v as { k: string }).k === 'hello') {
            hellos.push(v);
            socket.write(encodeFrame({ k: 'welcome', auth: new Uint8Array(32) }));
          } else {
            afterHello.push(v);
          }
        }
      });
      socket.write(encodeFrame({ k: 'challenge', nonce: newNonce() }));
    });
    servers.push(server);
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    const a = createNode('a', ['a', 'b'], { security: { mode: 'secret', secret: SECRET } });
    open.push(a);
    await startCluster([a]);
    a.transport.updatePeerAddress('b', { host: '127.0.0.1', port });
    a.transport.send([heartbeat('a', 'b', 1)]);
    await a.log.until((l) => l.some((e) => e.obj['reason'] === 'the listener did not prove the cluster secret'), 'the dialer refuses the fake');
    expect(hellos.length).toBeGreaterThan(0);
    expect(afterHello).toEqual([]);
    expect(a.transport.isConnected('b')).toBe(false);
    expect(a.transport.securityStats().refusedHandshakes).toBeGreaterThan(0);
  });
});
