import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/transport/message-shape.js';

/** Configurations on the wire: peers from before learners send voters only; a malformed configuration is refused whole. */
function snapshotWith(config: unknown): unknown {
  return { type: 'snapshot', from: 'n1', to: 'n2', term: 3, meta: { index: 7, term: 3, config }, data: new Uint8Array(2) };
}

function appendWith(config: unknown): unknown {
  const entry = { index: 5, term: 3, type: 'config', data: new Uint8Array(0), config };
  return { type: 'append', from: 'n1', to: 'n2', term: 3, prevLogIndex: 4, prevLogTerm: 3, entries: [entry], commit: 4 };
}

describe('configurations on the wire', () => {
  it('a configuration from a peer that predates learners (voters only) parses as one without learners or records', () => {
    const m = parseMessage(snapshotWith({ voters: ['n1', 'n2'] }));
    expect(m?.type === 'snapshot' ? m.meta.config : null).toEqual({ voters: ['n1', 'n2'], learners: [], members: [] });
  });

  it('learners and member records are kept', () => {
    const config = { voters: ['n1', 'n2'], learners: ['n3'], members: [{ id: 'n3', peerAddress: 'h3:7000', httpUrl: 'http://h3:8080' }] };
    const m = parseMessage(appendWith(config));
    expect(m?.type === 'append' ? m.entries[0]!.config : null).toEqual(config);
  });

  it('a malformed configuration is refused: unsorted, a learner that votes, a record of a non-member, a bad record', () => {
    expect(parseMessage(appendWith({ voters: ['n2', 'n1'] }))).toBeNull();
    expect(parseMessage(appendWith({ voters: ['n1', 'n2'], learners: ['n2'] }))).toBeNull();
    expect(parseMessage(appendWith({ voters: ['n1'], learners: [], members: [{ id: 'n9', peerAddress: '', httpUrl: '' }] }))).toBeNull();
    expect(parseMessage(appendWith({ voters: ['n1'], learners: [], members: [{ id: 'n1', peerAddress: 7 }] }))).toBeNull();
    expect(parseMessage(snapshotWith({ voters: ['n1'], learners: 'n2' }))).toBeNull();
  });
});
