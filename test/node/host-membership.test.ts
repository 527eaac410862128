import { describe, expect, it } from 'vitest';
import type { MemberRecord, Message } from '../../src/raft/index.js';
import type { HostTransport } from '../../src/node/host-io.js';
import { HostMembership } from '../../src/node/host-membership.js';
import { ScriptedCluster } from '../raft/harness.js';

/** A host's side of membership: the transport follows the configuration, and non-members' messages are dropped. */
function recordingTransport(): { transport: HostTransport; told: MemberRecord[][] } {
  const told: MemberRecord[][] = [];
  const transport: HostTransport = {
    bind() {},
    open: () => Promise.resolve({ port: 0 }),
    send() {},
    flush() {},
    setPeers: (members) => void told.push([...members]),
    close: () => Promise.resolve(),
  };
  return { transport, told };
}

const SILENT = { info() {}, warn() {}, error() {}, debug() {} };

describe('HostMembership', () => {
  it('tells the transport of a member as soon as the configuration adding it is in the log, and of its removal', () => {
    const c = new ScriptedCluster(['a', 'b', 'c']);
    c.elect('a');
    const { transport, told } = recordingTransport();
    const membership = new HostMembership(c.node('a'), transport, SILENT);
    membership.syncPeers();
    expect(told.at(-1)!.map((m) => m.id)).toEqual(['b', 'c']);
    membership.syncPeers();
    expect(told).toHaveLength(1); // nothing changed, nothing told
    c.node('a').proposeConfChange({ type: 'addLearner', id: 'd', peerAddress: 'd:7000', httpUrl: 'http://d:8080' });
    membership.syncPeers();
    expect(told.at(-1)).toEqual([
      { id: 'b', peerAddress: '', httpUrl: '' },
      { id: 'c', peerAddress: '', httpUrl: '' },
      { id: 'd', peerAddress: 'd:7000', httpUrl: 'http://d:8080' },
    ]);
    c.deliverAll();
    c.node('a').proposeConfChange({ type: 'remove', id: 'd' });
    c.deliverAll();
    for (let i = 0; i < 30; i++) {
      c.tick('a');
      c.deliverAll();
    }
    membership.syncPeers();
    expect(told.at(-1)!.map((m) => m.id)).toEqual(['b', 'c']);
  });

  it("drops and counts a non-member's messages, but never a leader's traffic (thesis §4.1)", () => {
    const c = new ScriptedCluster(['a', 'b', 'c']);
    const membership = new HostMembership(c.node('b'), recordingTransport().transport, SILENT);
    const preVote: Message = { type: 'preVote', from: 'x', to: 'b', term: 5, lastLogIndex: 9, lastLogTerm: 4, transfer: false };
    const append: Message = { type: 'append', from: 'x', to: 'b', term: 5, prevLogIndex: 0, prevLogTerm: 0, entries: [], commit: 0 };
    expect(membership.admits(preVote)).toBe(false);
    expect(membership.admits({ ...preVote, from: 'c' })).toBe(true);
    expect(membership.admits(append)).toBe(true);
    expect(membership.view().droppedFromNonMembers).toBe(1);
  });
});
