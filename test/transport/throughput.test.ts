import { afterEach, expect, it } from 'vitest';
import type { AppendMessage } from '../../src/raft/types.js';
import type { PeerSecurity } from '../../src/transport/index.js';
import { makeTestPki, tlsSecurity } from '../support/test-pki.js';
import { createNode, startCluster, stopAll, type TestNode } from './helpers.js';

let open: TestNode[] = [];
afterEach(async () => {
  await stopAll(open);
  open = [];
});

/** securityOf builds each end's PeerSecurity for one mode. */
async function securityOf(mode: PeerSecurity['mode']): Promise<(id: string) => PeerSecurity> {
  if (mode === 'insecure') return () => ({ mode });
  if (mode === 'secret') return () => ({ mode, secret: 'throughput-test-secret' });
  const pki = await makeTestPki('test-cluster', ['a', 'b']);
  return (id) => tlsSecurity(pki, pki.members[id]!);
}

/**
 * Throughput of small AppendEntries between two transports on loopback, in
 * each peer-security mode (what TLS and the per-frame MAC cost, without a
 * disk in the way). The sender keeps at most WINDOW messages unacknowledged
 * by the receiver's inbox (as Raft's inflight window would), sending BATCH
 * per event-loop turn.
 */
it.each(['insecure', 'secret', 'tls'] as const)('measures messages/s for 100k small append messages (%s)', async (mode) => {
  const security = await securityOf(mode);
  const a = createNode('a', ['a', 'b'], { security: security('a') });
  const b = createNode('b', ['a', 'b'], { security: security('b') });
  open = [a, b];
  await startCluster(open);
  const total = 100_000;
  const BATCH = 1000;
  const WINDOW = 8000;
  const payload = new Uint8Array(64).fill(7);
  const msg = (index: number): AppendMessage => ({
    type: 'append',
    from: 'a',
    to: 'b',
    term: 1,
    prevLogIndex: index - 1,
    prevLogTerm: 1,
    commit: index - 1,
    entries: [{ index, term: 1, type: 'normal', data: payload }],
  });
  a.transport.send([{ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0, context: null }]);
  await b.inbox.until((ms) => ms.length === 1, 'connection up');
  b.inbox.items.length = 0;

  const startMs = performance.now();
  let sent = 0;
  // Bounded: each iteration sends BATCH more (total / BATCH iterations).
  while (sent < total) {
    await b.inbox.until((ms) => sent - ms.length <= WINDOW - BATCH, 'window space');
    const batch: AppendMessage[] = [];
    for (let i = 0; i < BATCH; i++) batch.push(msg(++sent));
    a.transport.send(batch);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await b.inbox.until((ms) => ms.length === total, 'all messages');
  const elapsedMs = performance.now() - startMs;
  const perSecond = Math.round((total / elapsedMs) * 1000);
  console.log(`transport throughput (${mode}): ${total} small appends in ${elapsedMs.toFixed(0)} ms = ${perSecond} msg/s`);
  expect(a.transport.peerStats('b')!.droppedMessages).toBe(0);
  const last = b.inbox.items[total - 1] as AppendMessage;
  expect(last.entries[0]!.index).toBe(total);
  // A floor far below what loopback does (100k+ msg/s on an idle 2-core box), to catch an accidental per-message write or timer, not to benchmark.
  expect(perSecond).toBeGreaterThan(5_000);
});
