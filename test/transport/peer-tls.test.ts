import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect as tlsConnect } from 'node:tls';
import { encodeFrame } from '../../src/transport/frame-codec.js';
import { makeTestPki, tlsSecurity, type TestPki } from '../support/test-pki.js';
import { connectBothWays, createNode, heartbeat, sampleMessages, startCluster, TestResources, type NodeOverrides, type TestNode } from './helpers.js';
import { rawPeer } from './raw-peer.js';

/**
 * Peer traffic over mutual TLS: members whose certificates the cluster CA
 * signed and that name them connect and carry every message kind; anything
 * else is refused before a single Raft message is read: a plain-TCP client,
 * a TLS client with no certificate, one from another CA, and a member that
 * claims another member's id (its certificate names it, not the one it claims).
 */

const res = new TestResources();
const { sockets } = res;
let pki: TestPki;
let otherPki: TestPki;

beforeAll(async () => {
  pki = await makeTestPki('test-cluster', ['a', 'b', 'c']);
  otherPki = await makeTestPki('test-cluster', ['a', 'b']);
});

afterEach(() => res.release());

function node(id: string, peers: readonly string[], overrides: NodeOverrides = {}): TestNode {
  const n = createNode(id, peers, { security: tlsSecurity(pki, pki.members[id]!), ...overrides });
  res.nodes.push(n);
  return n;
}

/** tryBothWays starts two nodes and has each send the other a heartbeat (which a refusal keeps from arriving). */
async function tryBothWays(a: TestNode, b: TestNode): Promise<void> {
  await startCluster([a, b]);
  b.transport.send([heartbeat(b.id, a.id, 1)]);
  a.transport.send([heartbeat(a.id, b.id, 1)]);
}

describe('PeerTransport over mutual TLS', () => {
  it('connects members of one CA and carries every message kind both ways', async () => {
    const a = node('a', ['a', 'b']);
    const b = node('b', ['a', 'b']);
    await connectBothWays(a, b);
    const toB = sampleMessages('a', 'b');
    a.transport.send(toB);
    await b.inbox.until((ms) => ms.length === toB.length, 'all messages at b');
    expect(b.inbox.items.filter((m) => m.type !== 'snapshot')).toStrictEqual(toB.filter((m) => m.type !== 'snapshot'));
    expect(b.log.items.some((e) => e.msg === 'accepted peer connection' && e.obj['security'] === 'tls')).toBe(true);
    expect(a.transport.securityStats()).toEqual({ refusedHandshakes: 0, tlsFailures: 0, badMacFrames: 0, nonMemberMessages: 0 });
  });

  it('refuses a member whose certificate another CA signed, both ways', async () => {
    const a = node('a', ['a', 'b']);
    const b = node('b', ['a', 'b'], { security: tlsSecurity(otherPki, otherPki.members['b']!) });
    await tryBothWays(a, b);
    await a.log.until((l) => l.some((e) => e.msg === 'refused inbound peer connection: TLS handshake failed'), 'a refuses b');
    await b.log.until((l) => l.some((e) => e.msg === 'refused inbound peer connection: TLS handshake failed'), 'b refuses a');
    expect(a.inbox.items).toEqual([]);
    expect(b.inbox.items).toEqual([]);
    expect(a.transport.securityStats().tlsFailures).toBeGreaterThan(0);
  });

  it('refuses a member that claims another member\'s id, as listener and as dialer', async () => {
    // "b" holds c's certificate: the CA signed it, but it names c.
    const a = node('a', ['a', 'b']);
    const b = node('b', ['a', 'b'], { security: tlsSecurity(pki, pki.members['c']!) });
    await tryBothWays(a, b);
    await a.log.until((l) => l.some((e) => e.obj['reason'] === 'identity_mismatch'), 'a refuses the hello of b');
    await a.log.until((l) => l.some((e) => e.msg === 'refused peer: its certificate does not name it'), 'a refuses to dial into b');
    const refusal = a.log.items.find((e) => e.obj['reason'] === 'identity_mismatch')!;
    expect(String(refusal.obj['detail'])).toMatch(/does not name b of cluster test-cluster/);
    expect(a.inbox.items).toEqual([]);
    expect(b.inbox.items).toEqual([]);
  });

  it('refuses a plain-TCP client and a TLS client without a certificate, and keeps serving members', async () => {
    const a = node('a', ['a', 'b']);
    const b = node('b', ['a', 'b']);
    await startCluster([a, b]);
    const plain = rawPeer(a.port, sockets);
    plain.socket.write(encodeFrame({ k: 'msgs', m: [heartbeat('b', 'a', 7)] }));
    await plain.closed;
    const anonymous = tlsConnect({ host: '127.0.0.1', port: a.port, ca: pki.ca.certPem, checkServerIdentity: () => undefined });
    sockets.push(anonymous);
    anonymous.on('error', () => {});
    anonymous.on('secureConnect', () => anonymous.write(encodeFrame({ k: 'msgs', m: [heartbeat('b', 'a', 8)] })));
    await new Promise<void>((resolve) => anonymous.on('close', () => resolve()));
    await a.log.until((l) => l.filter((e) => e.msg === 'refused inbound peer connection: TLS handshake failed').length >= 1, 'TLS refusals logged');
    expect(a.transport.securityStats().tlsFailures).toBeGreaterThanOrEqual(2);
    b.transport.send([heartbeat('b', 'a', 9)]);
    await a.inbox.until((ms) => ms.length === 1, 'the member still gets through');
    expect(a.inbox.items).toEqual([heartbeat('b', 'a', 9)]);
  });
});
