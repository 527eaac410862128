import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type NodeId } from '../../src/raft/index.js';
import { ScriptedCluster, enc } from './harness.js';
import { isAppend } from './messages.js';

/**
 * Leader-side replication rules (Raft §5.3, §5.4.2; CheckQuorum, thesis §6.2) at the edges the other replication
 * tests leave open, found by mutation testing.
 */

const ABC: NodeId[] = ['a', 'b', 'c'];
const ET = DEFAULT_LIMITS.electionTicks;

describe('leader replication rules at the edges', () => {
  it('a heartbeat tells each follower to commit at most what the leader knows it holds: min(match, commit) (Raft §5.3)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    c.isolate('c'); // c keeps only the no-op at 1
    a.propose(enc('x'));
    c.deliverAll();
    expect(a.commitIndex).toBe(2);
    expect(a.progressOf('c')?.match).toBe(1);
    c.tick('a');
    const heartbeats = c.take((m) => m.type === 'heartbeat');
    expect(heartbeats.map((m) => [m.to, m.type === 'heartbeat' ? m.commit : -1])).toEqual([
      ['b', 2],
      ['c', 1],
    ]);
  });

  it('entries of an earlier term committed by a new leader do not lift its own uncommitted-bytes bound (maxUncommittedBytes)', () => {
    const c = new ScriptedCluster(ABC, { maxUncommittedBytes: 100, preVote: false, checkQuorum: false });
    c.elect('a');
    expect(c.node('a').propose(enc('o'.repeat(90)))).toMatchObject({ ok: true });
    // b and c store the entry; a never hears back, so it is uncommitted when b takes over.
    c.deliver((m) => isAppend(m));
    c.crash('a');
    c.elect('b');
    const b = c.node('b');
    expect(b.commitIndex).toBe(b.lastIndex); // the old entry committed with b's no-op (Raft §5.4.2)
    expect(b.propose(enc('x'.repeat(60)))).toMatchObject({ ok: true });
    expect(b.propose(enc('y'.repeat(60)))).toEqual({ ok: false, reason: 'overloaded', leader: 'b' });
  });

  it('CheckQuorum counts a follower heard through AppendEntries responses alone as active (thesis §6.2)', () => {
    const c = new ScriptedCluster(ABC);
    c.elect('a');
    const a = c.node('a');
    for (let i = 0; i < 3 * ET; i++) {
      c.tick('a');
      c.drop((m) => m.type === 'heartbeat'); // only replication traffic gets through
      a.propose(enc(`p${i}`));
      c.deliverAll();
    }
    expect(a.role).toBe('leader');
    expect(c.node('b').commitIndex).toBeGreaterThan(3 * ET - 2);
  });

  it('a new leader that hears from no follower steps down at its first CheckQuorum round: no follower counts as active before it answers (thesis §6.2)', () => {
    const c = new ScriptedCluster(ABC);
    c.campaign('a');
    for (const type of ['preVote', 'preVoteResponse', 'vote', 'voteResponse'] as const) c.deliver((m) => m.type === type);
    const a = c.node('a');
    expect(a.role).toBe('leader');
    c.isolate('a');
    c.drop(() => true);
    for (let i = 0; i < ET; i++) c.tick('a');
    expect(a.role).toBe('follower');
  });
});

