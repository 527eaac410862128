import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Backoff } from '../../src/transport/backoff.js';
import { BoundedQueue } from '../../src/transport/bounded-queue.js';
import { decodePayload, encodeFrame } from '../../src/transport/frame-codec.js';
import { computeProof, newNonce, verifyProof, type HandshakeTranscript } from '../../src/transport/handshake-auth.js';
import { parseMessage } from '../../src/transport/message-shape.js';
import { SnapshotAssembler } from '../../src/transport/snapshot-assembler.js';
import { parseDialerFrame, parseListenerFrame, type SnapshotChunkFrame } from '../../src/transport/wire-protocol.js';
import type { SnapshotMessage } from '../../src/raft/types.js';
import { sampleMessages } from './helpers.js';

/** wire sends a value through msgpack like the transport does. */
function wire(x: unknown): unknown {
  return decodePayload(encodeFrame(x).subarray(4));
}

describe('parseMessage', () => {
  it('accepts every message kind after a msgpack round trip and rebuilds it deep-equal with plain Uint8Arrays', () => {
    for (const m of sampleMessages('n1', 'n2')) {
      const parsed = parseMessage(wire(m));
      expect(parsed).toStrictEqual(m);
    }
  });

  it('rejects wrong field types, unknown kinds and missing fields', () => {
    const good = sampleMessages('n1', 'n2');
    const bad: unknown[] = [
      null,
      42,
      [],
      { ...good[0], type: 'bogus' },
      { ...good[0], term: -1 },
      { ...good[0], term: 1.5 },
      { ...good[0], from: '' },
      { ...good[0], to: 7 },
      { ...good[0], transfer: 'yes' },
      { ...good[4], entries: [{ index: 1, term: 1, type: 'normal', data: 'not bytes' }] },
      { ...good[4], entries: [{ index: 1, term: 1, type: 'config', data: new Uint8Array(0) }] },
      { ...good[4], entries: {} },
      { ...good[6], hintTerm: null },
      { ...good[7], context: 5 },
      { ...good[11], data: null },
      { ...good[11], meta: { index: 1, term: 1, config: { voters: [1], learners: [], members: [] } } },
    ];
    for (const b of bad) expect(parseMessage(wire(b))).toBeNull();
  });

  it('never throws on arbitrary decoded values (property)', () => {
    fc.assert(
      fc.property(fc.anything({ withTypedArray: true, withNullPrototype: true }), (x) => {
        expect(() => parseMessage(x)).not.toThrow();
        expect(() => parseDialerFrame(x)).not.toThrow();
        expect(() => parseListenerFrame(x)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });
});

describe('BoundedQueue', () => {
  it('drops the oldest items beyond the count bound', () => {
    const q = new BoundedQueue<number>(3, 1000);
    for (let i = 0; i < 10; i++) q.push(i, 1);
    expect(q.length).toBe(3);
    expect(q.dropped).toBe(7);
    expect([q.shift(), q.shift(), q.shift(), q.shift()]).toEqual([7, 8, 9, undefined]);
  });

  it('drops the oldest items beyond the byte bound, and refuses an item bigger than the bound', () => {
    const q = new BoundedQueue<string>(100, 10);
    q.push('a', 4);
    q.push('b', 4);
    q.push('c', 4);
    expect(q.bytes).toBe(8);
    expect(q.shift()).toBe('b');
    expect(q.push('huge', 11)).toBe(1);
    expect(q.length).toBe(1);
  });

  it('stays FIFO and bounded through many pushes and shifts (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 50 })), { maxLength: 3000 }), (ops) => {
        const q = new BoundedQueue<number>(100, 2000);
        let next = 0;
        let lastOut = -1;
        for (const op of ops) {
          if (op < 0) {
            const v = q.shift();
            if (v !== undefined) {
              expect(v).toBeGreaterThan(lastOut);
              lastOut = v;
            }
          } else {
            q.push(next++, op);
          }
          expect(q.length).toBeLessThanOrEqual(100);
          expect(q.bytes).toBeLessThanOrEqual(2000);
        }
      }),
    );
  });
});

describe('Backoff', () => {
  it('grows exponentially within [min, max] and resets', () => {
    const low = new Backoff(50, 2000, () => 0);
    const high = new Backoff(50, 2000, () => 0.999999);
    const highs: number[] = [];
    for (let i = 0; i < 10; i++) {
      expect(low.nextDelayMs()).toBe(50);
      highs.push(high.nextDelayMs());
    }
    expect(highs).toEqual([50, 100, 200, 400, 800, 1600, 2000, 2000, 2000, 2000]);
    high.reset();
    expect(high.nextDelayMs()).toBe(50);
  });
});

describe('handshake auth', () => {
  it('accepts the right proof and rejects any change of secret, either nonce, field or label', () => {
    const t: HandshakeTranscript = { listenerNonce: newNonce(), dialerNonce: newNonce(), from: 'n1', to: 'n2', clusterId: 'c' };
    const tag = computeProof('s3cret', 'hello', t);
    expect(verifyProof('s3cret', 'hello', t, tag)).toBe(true);
    expect(verifyProof('other', 'hello', t, tag)).toBe(false);
    expect(verifyProof('s3cret', 'welcome', t, tag)).toBe(false);
    expect(verifyProof('s3cret', 'hello', { ...t, listenerNonce: newNonce() }, tag)).toBe(false);
    expect(verifyProof('s3cret', 'hello', { ...t, dialerNonce: newNonce() }, tag)).toBe(false);
    expect(verifyProof('s3cret', 'hello', { ...t, from: 'n3' }, tag)).toBe(false);
    expect(verifyProof('s3cret', 'hello', { ...t, to: 'n3' }, tag)).toBe(false);
    expect(verifyProof('s3cret', 'hello', { ...t, clusterId: 'd' }, tag)).toBe(false);
    expect(verifyProof('s3cret', 'hello', t, tag.subarray(1))).toBe(false);
    expect(verifyProof('s3cret', 'hello', t, null)).toBe(false);
  });
});

describe('SnapshotAssembler', () => {
  const head: SnapshotMessage = { type: 'snapshot', from: 'n1', to: 'n2', term: 2, meta: { index: 5, term: 2, config: { voters: ['n1', 'n2'], learners: [], members: [] } }, data: null };
  const chunk = (seq: number, off: number, total: number, bytes: number[], withHead = off === 0): SnapshotChunkFrame => ({
    k: 'snap',
    seq,
    off,
    total,
    head: withHead ? head : null,
    chunk: Uint8Array.from(bytes),
  });

  it('reassembles in-order chunks into one message', () => {
    const a = new SnapshotAssembler(100);
    expect(a.accept(chunk(1, 0, 5, [1, 2]))).toEqual({ ok: true, received: 2, complete: null });
    const last = a.accept(chunk(1, 2, 5, [3, 4, 5]));
    expect(last.ok && last.complete).toEqual({ ...head, data: Uint8Array.from([1, 2, 3, 4, 5]) });
    expect(a.bufferedBytes).toBe(0);
  });

  it('delivers an empty snapshot from its single header chunk', () => {
    const r = new SnapshotAssembler(100).accept(chunk(1, 0, 0, []));
    expect(r.ok && r.complete?.data).toEqual(new Uint8Array(0));
  });

  it('refuses oversize, out-of-order, overlong and headerless chunks', () => {
    expect(new SnapshotAssembler(4).accept(chunk(1, 0, 5, [1])).ok).toBe(false);
    expect(new SnapshotAssembler(100).accept(chunk(1, 0, 5, [1], false)).ok).toBe(false);
    expect(new SnapshotAssembler(100).accept(chunk(1, 3, 5, [1])).ok).toBe(false);
    const a = new SnapshotAssembler(100);
    a.accept(chunk(1, 0, 5, [1, 2]));
    expect(a.accept(chunk(1, 3, 5, [4])).ok).toBe(false);
    const b = new SnapshotAssembler(100);
    b.accept(chunk(1, 0, 5, [1, 2]));
    expect(b.accept(chunk(1, 2, 5, [3, 4, 5, 6])).ok).toBe(false);
    const c = new SnapshotAssembler(100);
    c.accept(chunk(1, 0, 5, [1, 2]));
    expect(c.accept(chunk(2, 2, 5, [3])).ok).toBe(false);
  });

  it('lets a new snapshot replace an unfinished one', () => {
    const a = new SnapshotAssembler(100);
    a.accept(chunk(1, 0, 5, [1, 2]));
    const r = a.accept(chunk(2, 0, 1, [9]));
    expect(r.ok && r.complete?.data).toEqual(Uint8Array.from([9]));
  });
});
