import { afterEach, describe, expect, it } from 'vitest';
import { PeerRefusalTap } from '../../src/node/peer-refusal-tap.js';
import { capturingLogger, createNode, startCluster, stopAll, type TestNode } from '../transport/helpers.js';

let nodes: TestNode[] = [];
afterEach(async () => {
  await stopAll(nodes);
  nodes = [];
});

describe('PeerRefusalTap over real transports', () => {
  it('sees the peers that refuse this member for its cluster id, and the refusals it makes itself', async () => {
    let nowMs = 1_000;
    const tapA = new PeerRefusalTap(() => nowMs);
    const tapB = new PeerRefusalTap(() => nowMs);
    const logA = capturingLogger();
    const logB = capturingLogger();
    const a = createNode('a', ['a', 'b'], { clusterId: 'cluster-1', logger: tapA.logger(logA.logger) });
    const b = createNode('b', ['a', 'b'], { clusterId: 'cluster-2', logger: tapB.logger(logB.logger) });
    nodes = [a, b];
    await startCluster(nodes);
    await logB.entries.until((l) => l.some((e) => e.obj['reason'] === 'cluster_mismatch' && e.obj['peer'] === 'a'), 'a refusing b');
    await logA.entries.until((l) => l.some((e) => e.obj['reason'] === 'cluster_mismatch' && e.obj['from'] === 'b'), 'a logging its refusal');
    expect(tapB.peersRefusingClusterId(30_000)).toEqual(['a']);
    expect(tapA.refusals).toEqual(expect.arrayContaining([{ direction: 'inbound', reason: 'cluster_mismatch', count: 1 }]));
    // The tap forwards everything to the logger it wraps.
    expect(logB.entries.items.some((e) => e.msg === 'peer refused our handshake')).toBe(true);
    // Refusals age out of the window.
    nowMs += 60_000;
    expect(tapB.peersRefusingClusterId(30_000)).toEqual([]);
  });

  it('adds the number of refusals the transport suppressed between two warnings', () => {
    const tap = new PeerRefusalTap(() => 0);
    const inner = capturingLogger();
    const logger = tap.logger(inner.logger);
    logger.warn({ peer: 'x', reason: 'auth_failed' }, 'peer refused our handshake');
    logger.warn({ peer: 'x', reason: 'auth_failed', suppressed: 4 }, 'peer refused our handshake');
    logger.warn({ reason: 'auth_failed' }, 'something else');
    expect(tap.refusals).toEqual([{ direction: 'outbound', reason: 'auth_failed', count: 6 }]);
    expect(tap.peersRefusingClusterId(1)).toEqual([]);
  });
});

describe('PeerRefusalTap on its own', () => {
  it('passes every log call on to the logger it wraps, at its level', () => {
    const tap = new PeerRefusalTap(() => 0);
    const inner = capturingLogger();
    const logger = tap.logger(inner.logger);
    logger.debug({ n: 1 }, 'd');
    logger.info({ n: 2 }, 'i');
    logger.warn({ n: 3 }, 'w');
    logger.error({ n: 4 }, 'e');
    expect(inner.entries.items).toEqual([
      { level: 'debug', obj: { n: 1 }, msg: 'd' },
      { level: 'info', obj: { n: 2 }, msg: 'i' },
      { level: 'warn', obj: { n: 3 }, msg: 'w' },
      { level: 'error', obj: { n: 4 }, msg: 'e' },
    ]);
  });

  it('counts a refusal logged without a reason as unknown', () => {
    const tap = new PeerRefusalTap(() => 0);
    tap.logger(capturingLogger().logger).warn({ peer: 'x', reason: 7 }, 'refused inbound peer connection');
    expect(tap.refusals).toEqual([{ direction: 'inbound', reason: 'unknown', count: 1 }]);
  });

  it('counts as refusing our cluster id only a named peer that refused us (outbound) for cluster_mismatch', () => {
    let nowMs = 100;
    const tap = new PeerRefusalTap(() => nowMs);
    const logger = tap.logger(capturingLogger().logger);
    logger.warn({ peer: 'in', reason: 'cluster_mismatch' }, 'refused inbound peer connection'); // we refused it
    logger.warn({ peer: 'auth', reason: 'auth_failed' }, 'peer refused our handshake');
    logger.warn({ reason: 'cluster_mismatch' }, 'peer refused our handshake'); // no peer named
    logger.warn({ peer: 'out', reason: 'cluster_mismatch' }, 'peer refused our handshake');
    expect(tap.peersRefusingClusterId(10)).toEqual(['out']);
    // The window includes its edge: a refusal exactly windowMs ago still counts.
    nowMs = 110;
    expect(tap.peersRefusingClusterId(10)).toEqual(['out']);
    nowMs = 111;
    expect(tap.peersRefusingClusterId(10)).toEqual([]);
  });
});
