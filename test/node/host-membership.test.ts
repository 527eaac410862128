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

  it("admits a leader's heartbeat and snapshot from a sender outside the configuration (a new member must catch up)", () => {
    const c = new ScriptedCluster(['a', 'b', 'c']);
    const membership = new HostMembership(c.node('b'), recordingTransport().transport, SILENT);
    const heartbeat: Message = { type: 'heartbeat', from: 'x', to: 'b', term: 5, commit: 0, context: null };
    const snapshot: Message = { type: 'snapshot', from: 'x', to: 'b', term: 5, meta: { index: 3, term: 2, config: { voters: ['x'], learners: [], members: [] } }, data: null };
    expect(membership.admits(heartbeat)).toBe(true);
    expect(membership.admits(snapshot)).toBe(true);
    expect(membership.view().droppedFromNonMembers).toBe(0);
  });

  it('admits a removed member the leader still replicates to, and keeps its address while it does', () => {
    const c = new ScriptedCluster(['a', 'b', 'c']);
    c.elect('a');
    const { transport, told } = recordingTransport();
    const membership = new HostMembership(c.node('a'), transport, SILENT);
    c.node('a').proposeConfChange({ type: 'addLearner', id: 'd', peerAddress: 'd:7000', httpUrl: 'http://d:8080' });
    c.deliverAll();
    membership.syncPeers(); // the host syncs after every Ready
    c.node('a').proposeConfChange({ type: 'remove', id: 'd' });
    c.deliverAll();
    membership.syncPeers();
    expect(c.node('a').configuration().learners).toEqual([]);
    expect(c.node('a').peerMembers()).toContain('d'); // not a member, still replicated to
    expect(told.at(-1)).toContainEqual({ id: 'd', peerAddress: 'd:7000', httpUrl: 'http://d:8080' });
    const fromD: Message = { type: 'appendResponse', from: 'd', to: 'a', term: c.node('a').term, reject: false, index: 1, hintIndex: 0, hintTerm: 0 };
    expect(membership.admits(fromD)).toBe(true);
    expect(membership.view().droppedFromNonMembers).toBe(0);
    // Once the leader stops replicating to it (the configuration itself unchanged), the transport is told so.
    const config = c.node('a').configuration();
    for (let i = 0; i < 30 && c.node('a').peerMembers().includes('d'); i++) {
      c.tick('a');
      c.deliverAll();
    }
    expect(c.node('a').configuration()).toBe(config);
    membership.syncPeers();
    expect(told.at(-1)!.map((m) => m.id)).toEqual(['b', 'c']);
  });

  it('leaves the transport alone on a joining member that does not know the configuration yet, and warns that it is no member', () => {
    const c = new ScriptedCluster(['a', 'b', 'c']);
    const warnings: [object, string | undefined][] = [];
    const logger = { ...SILENT, warn: (fields: object, message?: string) => void warnings.push([fields, message]) };
    const { transport, told } = recordingTransport();
    const joining = c.join('d');
    const membership = new HostMembership(joining, transport, logger);
    membership.syncPeers();
    expect(told).toEqual([]);
    expect(warnings).toEqual([[{ configuration: joining.configuration() }, expect.stringMatching(/not a member/)]]);
    const member = new HostMembership(c.node('a'), transport, logger);
    member.syncPeers();
    expect(warnings).toHaveLength(1);
  });

  it('views a configuration as committed only once the commit index reached it', () => {
    const c = new ScriptedCluster(['a', 'b', 'c']);
    c.elect('a');
    const membership = new HostMembership(c.node('a'), recordingTransport().transport, SILENT);
    expect(membership.view()).toMatchObject({ committed: true, progress: expect.any(Array) });
    c.isolate('a');
    c.node('a').proposeConfChange({ type: 'addLearner', id: 'd', peerAddress: 'd:7000', httpUrl: 'http://d:8080' });
    c.deliverAll();
    const pending = membership.view();
    expect(pending.configuration.learners).toEqual(['d']);
    expect(pending.configurationIndex).toBe(c.node('a').commitIndex + 1);
    expect(pending.committed).toBe(false);
    c.heal();
    for (let i = 0; i < 5 && c.node('a').commitIndex < pending.configurationIndex; i++) {
      c.tick('a', 3);
      c.deliverAll();
    }
    expect(c.node('a').commitIndex).toBe(pending.configurationIndex);
    expect(membership.view().committed).toBe(true);
  });
});
