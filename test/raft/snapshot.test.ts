import { describe, expect, it } from 'vitest';
import { InvariantError, type NodeId, type SnapshotMessage } from '../../src/raft/index.js';
import { ScriptedCluster, cycle, dec, enc, entriesOf, standaloneNode } from './harness.js';
import { isAppendResponse } from './messages.js';

const ABC: NodeId[] = ['a', 'b', 'c'];

function payloads(c: ScriptedCluster, id: NodeId): string[] {
  return c.applied.get(id)!.filter((e) => e.data.length > 0).map((e) => dec(e.data));
}

function snapshotMsg(from: NodeId, to: NodeId, term: number, index: number, snapTerm: number, data: string): SnapshotMessage {
  return { type: 'snapshot', from, to, term, meta: { index, term: snapTerm, config: { voters: ABC, learners: [], members: [] } }, data: enc(data) };
}

describe('log compaction (Raft §7)', () => {
  it('snapshotMetaAt names an applied index with its term and config; compact drops the log up to it', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    for (let i = 0; i < 5; i++) a.propose(enc(`p${i}`));
    c.deliverAll();
    expect(a.appliedIndex).toBe(6);
    expect(a.snapshotMetaAt(4)).toEqual({ index: 4, term: 1, config: { voters: ABC, learners: [], members: [] } });
    expect(() => a.snapshotMetaAt(7)).toThrow(InvariantError); // not applied (not even in the log)
    c.compact('a');
    expect(a.firstIndex).toBe(7);
    expect(a.lastIndex).toBe(6);
    expect(a.termAt(6)).toBe(1); // the snapshot's own index keeps its term for consistency checks
    expect(a.termAt(5)).toBe(null);
    expect(a.voters()).toEqual(ABC);
    expect(() => a.snapshotMetaAt(5)).toThrow(InvariantError); // below the snapshot
    expect(a.propose(enc('next'))).toMatchObject({ ok: true, index: 7 });
    c.deliverAll();
    expect(a.commitIndex).toBe(7);
  });

  it('a follower behind the compaction point gets a snapshot message, its Ready carries the snapshot, and it catches up', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    c.crash('c');
    for (let i = 0; i < 5; i++) a.propose(enc(`p${i}`));
    c.deliverAll();
    c.compact('a', enc('image@6'));
    expect(a.firstIndex).toBe(7);
    c.reconnect('c');
    a.propose(enc('after'));
    c.readyLog = [];
    const snapshots: SnapshotMessage[] = [];
    for (let round = 0; round < 50 && (c.drain(), c.inbox.length > 0); round++) {
      for (const m of c.take()) {
        if (m.type === 'snapshot') snapshots.push(m);
        c.node(m.to).step(m);
      }
    }
    expect(snapshots).toHaveLength(1);
    expect(snapshots[0]!.meta).toMatchObject({ index: 6, term: 1 });
    const withSnapshot = c.readyLog.filter((r) => r.id === 'c' && r.ready.snapshot !== null);
    expect(withSnapshot).toHaveLength(1);
    const rd = withSnapshot[0]!.ready;
    expect(rd.snapshot!.meta.index).toBe(6);
    expect(dec(rd.snapshot!.data)).toBe('image@6');
    expect(rd.committedEntries).toEqual([]); // the image is installed before anything after it is applied
    // Its acknowledgement of index 6 travels with the snapshot it acknowledges.
    expect(rd.messages.filter(isAppendResponse)).toEqual([expect.objectContaining({ reject: false, index: 6 })]);

    const cNode = c.node('c');
    expect(cNode.lastIndex).toBe(a.lastIndex);
    expect(cNode.commitIndex).toBe(7);
    expect(cNode.firstIndex).toBe(7);
    expect(c.disks.get('c')!.snapshot.meta.index).toBe(6);
    expect(payloads(c, 'c')).toEqual(['after']); // entries after the image are applied from the log
    expect(a.progressOf('c')).toMatchObject({ match: 7, state: 'replicate' });
  });

  it('a node restarts from its snapshot plus the log after it', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    for (let i = 0; i < 4; i++) a.propose(enc(`p${i}`));
    c.deliverAll();
    c.compact('b');
    c.node('a').propose(enc('tail'));
    c.deliverAll();
    const before = { term: c.node('b').term, last: c.node('b').lastIndex };
    c.restart('b');
    const b = c.node('b');
    expect({ term: b.term, last: b.lastIndex, first: b.firstIndex }).toEqual({ ...before, first: 6 });
    c.drain();
    expect(payloads(c, 'b')).toEqual(['tail']);
    expect(b.appliedIndex).toBe(6);
  });

  it('a snapshot whose last entry the follower already holds keeps the entries after it; one at or below commit changes nothing', () => {
    const f = standaloneNode('b', ABC, { term: 1, commit: 2, entries: entriesOf([1, 1, 1, 1, 1]) });
    f.step(snapshotMsg('a', 'b', 1, 3, 1, 'image@3'));
    let rd = cycle(f);
    expect(rd.snapshot).toBe(null);
    expect(f.lastIndex).toBe(5);
    expect(f.commitIndex).toBe(3);
    expect(rd.messages).toEqual([expect.objectContaining({ type: 'appendResponse', reject: false, index: 3 })]);

    f.step(snapshotMsg('a', 'b', 1, 2, 1, 'image@2'));
    rd = cycle(f);
    expect(rd.snapshot).toBe(null);
    expect(f.commitIndex).toBe(3);
    expect(rd.messages).toEqual([expect.objectContaining({ type: 'appendResponse', reject: false, index: 3 })]);

    // An AppendEntries from below the commit point is answered with the commit index: everything up to it matches.
    f.step({ type: 'append', from: 'a', to: 'b', term: 1, prevLogIndex: 1, prevLogTerm: 1, entries: entriesOf([1], 2), commit: 3 });
    rd = cycle(f);
    expect(rd.messages).toEqual([expect.objectContaining({ type: 'appendResponse', reject: false, index: 3 })]);
    expect(f.lastIndex).toBe(5);

    // A snapshot that conflicts with the log (different term at its index) replaces the whole log.
    f.step(snapshotMsg('a', 'b', 2, 4, 2, 'image@4'));
    rd = cycle(f);
    expect(rd.snapshot?.meta).toMatchObject({ index: 4, term: 2 });
    expect(f.lastIndex).toBe(4);
    expect(f.firstIndex).toBe(5);
    expect(f.commitIndex).toBe(4);
  });

  it('a failed snapshot send (reportSnapshot false) is retried after the next heartbeat', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    c.crash('c');
    for (let i = 0; i < 3; i++) a.propose(enc(`p${i}`));
    c.deliverAll();
    c.compact('a');
    c.reconnect('c');
    a.propose(enc('after'));
    c.deliver((m) => m.to === 'c');
    c.deliver((m) => m.from === 'c'); // c's rejection makes a fall back to a snapshot
    expect(c.drop((m) => m.type === 'snapshot')).toBe(1); // the transfer fails
    expect(a.progressOf('c')?.state).toBe('snapshot');
    a.reportSnapshot('c', false);
    expect(a.progressOf('c')?.state).toBe('probe');
    c.tick('a');
    c.deliverAll();
    expect(c.node('c').lastIndex).toBe(a.lastIndex);
    expect(payloads(c, 'c')).toEqual(['after']);
  });
});
