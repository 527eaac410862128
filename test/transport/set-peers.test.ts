import { afterEach, describe, expect, it } from 'vitest';
import type { HeartbeatMessage } from '../../src/raft/types.js';
import { createNode, stopAll, type TestNode } from './helpers.js';

/** PeerTransport.setPeers: the members of a new configuration are dialed, removed ones dropped, starting peers kept. */
let open: TestNode[] = [];

afterEach(async () => {
  await stopAll(open);
  open = [];
});

function heartbeat(from: string, to: string): HeartbeatMessage {
  return { type: 'heartbeat', from, to, term: 1, commit: 0, context: null };
}

describe('PeerTransport.setPeers', () => {
  it('dials a member that joined, drops one that left, and keeps the peers it started with', async () => {
    const a = createNode('a', ['a', 'b']);
    const b = createNode('b', ['a', 'b']);
    const c = createNode('c', ['a', 'c']); // c knows a: it accepts a's connection once a dials it
    open = [a, b, c];
    for (const n of open) n.port = (await n.transport.start()).port;
    const addr = (n: TestNode) => ({ host: '127.0.0.1', port: n.port });
    a.transport.updatePeerAddress('b', addr(b));
    expect(a.transport.peerStats('c')).toBeNull();

    a.transport.setPeers(new Map([['b', addr(b)], ['c', addr(c)]]));
    a.transport.send([heartbeat('a', 'c'), heartbeat('a', 'b')]);
    await c.inbox.until((ms) => ms.length === 1, 'the heartbeat to the new member c');
    await b.inbox.until((ms) => ms.length === 1, 'the heartbeat to b');

    // c leaves the configuration: a forgets it. b is not listed either, but a was started with it.
    a.transport.setPeers(new Map());
    expect(a.transport.peerStats('c')).toBeNull();
    expect(a.transport.peerStats('b')).not.toBeNull();
    a.transport.send([heartbeat('a', 'c'), heartbeat('a', 'b')]);
    await b.inbox.until((ms) => ms.length === 2, 'a second heartbeat to b');
    expect(c.inbox.items).toHaveLength(1);
  });
});
