import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, entryBytes, type NodeId } from '../../src/raft/index.js';
import { ScriptedCluster, dec, enc } from './harness.js';
import { isAppend } from './messages.js';

const ABC: NodeId[] = ['a', 'b', 'c'];
const ABCDE: NodeId[] = ['a', 'b', 'c', 'd', 'e'];
const ET = DEFAULT_LIMITS.electionTicks;

function runFor(c: ScriptedCluster, rounds: number, ids: readonly NodeId[]): void {
  for (let i = 0; i < rounds; i++) {
    for (const id of ids) c.tick(id);
    c.deliverAll();
  }
}

function payloads(c: ScriptedCluster, id: NodeId): string[] {
  return c.applied.get(id)!.filter((e) => e.data.length > 0).map((e) => dec(e.data));
}

describe('batching and flow control', () => {
  it('several proposals between two Readys go out as one AppendEntries per follower carrying all of them', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    expect(a.progressOf('b')?.state).toBe('replicate');
    c.readyLog = [];
    for (let i = 0; i < 5; i++) expect(a.propose(enc(`p${i}`)).ok).toBe(true);
    c.drain();
    const leaderReadies = c.readyLog.filter((r) => r.id === 'a');
    expect(leaderReadies).toHaveLength(1);
    const rd = leaderReadies[0]!.ready;
    expect(rd.entries.map((e) => dec(e.data))).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
    // Thesis §10.2.1: the leader's appends may leave before its own write is durable.
    const appends = rd.earlyMessages.filter(isAppend);
    expect(rd.messages.filter(isAppend)).toEqual([]);
    expect(appends.map((m) => m.to).sort()).toEqual(['b', 'c']);
    for (const m of appends) expect(m.entries.map((e) => e.index)).toEqual([2, 3, 4, 5, 6]);
    c.deliverAll();
    for (const id of ABC) expect(payloads(c, id)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
  });

  it('maxAppendBytes bounds the entries of one AppendEntries (an oversized entry still travels alone)', () => {
    const maxAppendBytes = 100;
    const c = new ScriptedCluster(ABC, { maxAppendBytes });
    c.elect('a');
    const a = c.node('a');
    const data = 'x'.repeat(20); // 44 counted bytes: two fit, three do not
    for (let i = 0; i < 7; i++) a.propose(enc(`${i}${data}`.slice(0, 20)));
    a.propose(enc('y'.repeat(300)));
    const sizes: number[][] = [];
    for (let round = 0; round < 100 && (c.drain(), c.inbox.length > 0); round++) {
      for (const m of c.take()) {
        if (isAppend(m) && m.to === 'b') sizes.push(m.entries.map(entryBytes));
        c.node(m.to).step(m);
      }
    }
    const withEntries = sizes.filter((s) => s.length > 0);
    expect(withEntries.length).toBeGreaterThanOrEqual(5);
    for (const s of withEntries) {
      if (s.length > 1) expect(s.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(maxAppendBytes);
    }
    expect(withEntries.some((s) => s.length === 2)).toBe(true);
    expect(withEntries).toContainEqual([324]);
    expect(c.node('b').lastIndex).toBe(a.lastIndex);
    expect(payloads(c, 'b')).toHaveLength(8);
  });

  it('pipelining: several AppendEntries are in flight to a follower in replicate state, capped at maxInflightAppends', () => {
    const c = new ScriptedCluster(ABC, { maxInflightAppends: 3 });
    c.elect('a');
    const a = c.node('a');
    for (let i = 0; i < 5; i++) {
      a.propose(enc(`p${i}`));
      c.drain(); // one Ready per proposal, nothing delivered
    }
    const toB = c.inbox.filter((m) => isAppend(m) && m.to === 'b');
    expect(toB).toHaveLength(3);
    expect(toB.map((m) => (isAppend(m) ? m.entries.map((e) => e.index) : []))).toEqual([[2], [3], [4]]);
    expect(a.progressOf('b')).toMatchObject({ state: 'replicate', inflight: 3 });
    // The first acknowledgement frees a slot; the waiting entries go out together in the next AppendEntries.
    c.deliver((m) => m.type === 'append' && m.to === 'b' && m.prevLogIndex === 1);
    c.deliver((m) => m.type === 'appendResponse' && m.from === 'b');
    const next = c.inbox.filter((m) => isAppend(m) && m.to === 'b').pop();
    expect(next !== undefined && isAppend(next) ? next.entries.map((e) => e.index) : null).toEqual([5, 6]);
    expect(a.progressOf('b')?.inflight).toBe(3);
    c.deliverAll();
    expect(a.progressOf('b')).toMatchObject({ match: 6, inflight: 0 });
  });
});

describe('Leaders retry AppendEntries RPCs indefinitely until all followers eventually store all log entries (§5.3)', () => {
  it('an AppendEntries lost on the way to a follower in replicate state is sent again on idle heartbeats, with no new proposal', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    a.propose(enc('x'));
    // A short blip on the link to c loses both the AppendEntries carrying x and the one announcing its commit.
    expect(c.drop((m) => isAppend(m) && m.to === 'c')).toBe(1);
    c.deliver((m) => m.to === 'b');
    c.deliver((m) => m.from === 'b');
    expect(a.commitIndex).toBe(2); // committed through b
    expect(c.drop((m) => isAppend(m) && m.to === 'c')).toBe(1);
    c.deliverAll();
    runFor(c, 3 * ET, ABC); // the cluster idles: only heartbeats
    expect(c.node('c').lastIndex).toBe(2);
    expect(payloads(c, 'c')).toEqual(['x']);
  });

  it('AppendEntries lost while the in-flight window is full do not stall that follower forever', () => {
    const c = new ScriptedCluster(ABC, { maxInflightAppends: 2 });
    c.elect('a');
    const a = c.node('a');
    for (let i = 0; i < 2; i++) {
      a.propose(enc(`lost${i}`));
      c.drain();
    }
    expect(c.drop((m) => isAppend(m) && m.to === 'c')).toBe(2);
    c.deliverAll();
    // Traffic goes on; c must eventually get everything.
    for (let i = 0; i < 3; i++) {
      a.propose(enc(`more${i}`));
      runFor(c, ET, ABC);
    }
    expect(c.node('c').lastIndex).toBe(a.lastIndex);
    expect(payloads(c, 'c')).toEqual(['lost0', 'lost1', 'more0', 'more1', 'more2']);
    // Why it matters: with b gone, a and c are still a majority and must keep committing.
    c.crash('b');
    a.propose(enc('without-b'));
    runFor(c, ET, ['a', 'c']);
    expect(payloads(c, 'a')).toContain('without-b');
  });
});

describe('proposals', () => {
  it('a non-leader refuses a proposal with not_leader and names the leader it knows', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    expect(c.node('b').propose(enc('x'))).toEqual({ ok: false, reason: 'not_leader', leader: 'a' });
    expect(c.node('b').lastIndex).toBe(1);
    const fresh = new ScriptedCluster(ABC);
    expect(fresh.node('a').propose(enc('x'))).toEqual({ ok: false, reason: 'not_leader', leader: null });
  });

  it('a leader answers overloaded while more than maxUncommittedBytes of proposals are uncommitted, and accepts again after commit', () => {
    const c = new ScriptedCluster(ABC, { maxUncommittedBytes: 100 });
    c.elect('a');
    const a = c.node('a');
    // Nothing is delivered, so nothing commits.
    expect(a.propose(enc('x'.repeat(60)))).toMatchObject({ ok: true, index: 2 });
    expect(a.propose(enc('y'.repeat(60)))).toEqual({ ok: false, reason: 'overloaded', leader: 'a' });
    expect(a.propose(enc('z'.repeat(40)))).toMatchObject({ ok: true, index: 3 }); // exactly 100
    expect(a.propose(enc('w'))).toMatchObject({ ok: false, reason: 'overloaded' });
    expect(a.lastIndex).toBe(3);
    c.deliverAll();
    expect(a.commitIndex).toBe(3);
    expect(a.propose(enc('y'.repeat(60)))).toMatchObject({ ok: true, index: 4 });
    // A single proposal larger than the bound is taken when nothing else is pending, so it cannot starve.
    c.deliverAll();
    expect(a.propose(enc('big'.repeat(50)))).toMatchObject({ ok: true });
  });
});

describe('5-node clusters', () => {
  it('elect, replicate and commit with two servers down; stall with three down; resume when one returns', () => {
    const c = new ScriptedCluster(ABCDE);
    c.elect('c');
    const leader = c.node('c');
    leader.propose(enc('all'));
    c.deliverAll();
    for (const id of ABCDE) expect(payloads(c, id), id).toEqual(['all']);

    c.crash('d');
    c.crash('e');
    leader.propose(enc('three'));
    c.deliverAll();
    expect(leader.commitIndex).toBe(3);

    c.crash('b');
    leader.propose(enc('two'));
    c.deliverAll();
    expect(leader.commitIndex).toBe(3); // c and a are 2 of 5

    c.reconnect('b');
    leader.propose(enc('back'));
    runFor(c, 2, ['c']);
    expect(leader.commitIndex).toBe(5);
    expect(payloads(c, 'b')).toEqual(['all', 'three', 'two', 'back']);

    // The two that were down rejoin and catch up; a later leader can be any of the five.
    c.reconnect('d');
    c.reconnect('e');
    leader.propose(enc('final'));
    runFor(c, 2, ['c']);
    for (const id of ABCDE) expect(payloads(c, id), id).toEqual(['all', 'three', 'two', 'back', 'final']);
    expect(leader.transferLeadership('e')).toBe(true);
    c.deliverAll();
    expect(c.node('e').role).toBe('leader');
    expect(c.violations).toEqual([]);
  });
});
