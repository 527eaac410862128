import { describe, expect, it } from 'vitest';
import type { LockCommand } from '../../src/locks/index.js';
import type { NodeId } from '../../src/raft/index.js';
import type { SimCluster } from './cluster.js';
import { electedLeader, quietCluster } from './quiet-cluster.js';

/**
 * The real RaftHost over the simulation's I/O, one behaviour at a time: how a request's outcome reaches its caller
 * (never inside the call, exactly once), the bound on pending proposals, shutting down, what the host counts for
 * /metrics, replication lag, and snapshots taken and installed.
 */

type Answer = { err: Error | null; result?: unknown };

function session(i: number): LockCommand {
  return { type: 'createSession', sessionId: `s${i}`, owner: 'o', ttlMs: 60_000 };
}


function follower(cluster: SimCluster, leader: NodeId): NodeId {
  return cluster.ids.find((id) => id !== leader)!;
}

describe('RaftHost: how an outcome reaches its caller', () => {
  it('a refused proposal or read is answered after the call returns (never inside it), once, and counted', () => {
    const cluster = quietCluster();
    const leader = electedLeader(cluster);
    const f = follower(cluster, leader);
    const host = cluster.member(f).host!;
    const answers: Answer[] = [];
    const reads: (Error | null)[] = [];
    host.submit(new Uint8Array([1]), (err, result) => answers.push({ err, result }));
    host.requestRead(500, (err) => reads.push(err));
    expect(answers).toEqual([]);
    expect(reads).toEqual([]);
    cluster.runUntil(cluster.nowMs + 1);
    expect(answers).toHaveLength(1);
    expect((answers[0]!.err as { code?: string }).code).toBe('not_leader');
    expect(answers[0]!.err!.message).toContain(leader);
    expect(reads).toHaveLength(1);
    expect((reads[0] as { code?: string }).code).toBe('not_leader');
    expect(host.stats.proposalsFailed).toBe(1);
    expect(host.stats.proposals).toBe(0);
  });

  it('bounds the pending proposals: past maxPendingProposals a proposal is answered overloaded, not queued', () => {
    const cluster = quietCluster();
    const leader = electedLeader(cluster);
    const host = cluster.member(leader).host!;
    const answers: Answer[] = [];
    // Counted from here: the leader has already proposed its own entries of the term (the session lease restart).
    const proposedBefore = host.stats.proposals;
    // The simulation's bound is 1,000 (production's proposal queue), all proposed in one turn.
    for (let i = 0; i < 1_001; i++) cluster.submit(leader, session(i), (err, result) => answers.push({ err, result }));
    expect(host.stats.proposals - proposedBefore).toBe(1_000);
    cluster.runUntil(cluster.nowMs + 1);
    expect(answers.map((a) => (a.err as { code?: string } | null)?.code)).toEqual(['overloaded']);
    cluster.runUntil(cluster.nowMs + 2_000, () => answers.length === 1_001);
    expect(answers).toHaveLength(1_001);
    expect(answers.slice(1).every((a) => a.err === null)).toBe(true);
  });

  it('stop answers what is pending (outcome_unknown, shutting_down) and refuses what comes after', async () => {
    const cluster = quietCluster();
    const leader = electedLeader(cluster);
    const host = cluster.member(leader).host!;
    const answers: string[] = [];
    cluster.submit(leader, session(1), (err) => answers.push(`propose:${(err as { code?: string } | null)?.code}:${err?.message}`));
    host.requestRead(1_000, (err) => answers.push(`read:${(err as { code?: string } | null)?.code}`));
    const stopped = host.stop();
    expect(host.stop()).toBe(stopped);
    cluster.runUntil(cluster.nowMs + 50);
    await stopped;
    expect(answers).toEqual(['propose:outcome_unknown:the node is shutting down', 'read:shutting_down']);
    host.submit(new Uint8Array([1]), (err) => answers.push(`late propose:${(err as { code?: string } | null)?.code}`));
    host.requestRead(1_000, (err) => answers.push(`late read:${(err as { code?: string } | null)?.code}`));
    cluster.runUntil(cluster.nowMs + 1);
    expect(answers.slice(2)).toEqual(['late propose:shutting_down', 'late read:shutting_down']);
  });

  it('a read on the leader is served once everything committed before it applied here', () => {
    const cluster = quietCluster();
    const leader = electedLeader(cluster);
    const host = cluster.member(leader).host!;
    const acked: number[] = [];
    for (let i = 0; i < 5; i++) cluster.submit(leader, session(i), (err) => err === null && acked.push(i));
    cluster.runUntil(cluster.nowMs + 500, () => acked.length === 5);
    const reads: (Error | null)[] = [];
    host.requestRead(1_000, (err) => reads.push(err));
    cluster.runUntil(cluster.nowMs + 500, () => reads.length > 0);
    expect(reads).toEqual([null]);
    expect(host.appliedIndex).toBe(host.commitIndex);
  });
});

describe('RaftHost: what it counts and reports', () => {
  it('counts proposals, synced writes and entries and their fsync time, and one leader change per member per election', () => {
    const cluster = quietCluster();
    const leader = electedLeader(cluster);
    for (const id of cluster.ids) expect(cluster.member(id).host!.stats.leaderChanges).toBe(1);
    const before = new Map(cluster.ids.map((id) => [id, { ...cluster.member(id).host!.stats }]));
    const observed = new Map<NodeId, number[]>(cluster.ids.map((id) => [id, []]));
    for (const id of cluster.ids) cluster.member(id).host!.onSyncMs = (ms) => observed.get(id)!.push(ms);
    const acked: number[] = [];
    for (let i = 0; i < 7; i++) cluster.submit(leader, session(i), (err) => err === null && acked.push(i));
    cluster.runUntil(cluster.nowMs + 1_000, () => acked.length === 7);
    cluster.runUntil(cluster.nowMs + 200);
    expect(acked).toHaveLength(7);
    for (const id of cluster.ids) {
      const s = cluster.member(id).host!.stats;
      const b = before.get(id)!;
      const ms = observed.get(id)!;
      expect(s.proposals - b.proposals).toBe(id === leader ? 7 : 0);
      // Each member wrote exactly the 7 entries, in at least one synced write; each write takes at least 1 ms here.
      expect(s.syncedEntries - b.syncedEntries).toBe(7);
      expect(s.syncs - b.syncs).toBeGreaterThanOrEqual(1);
      expect(ms).toHaveLength(s.syncs - b.syncs);
      // Each write takes 1-2 ms here (a few queue behind one another): the time is measured from its issue.
      expect(ms.every((x) => x >= 1 && x <= 50)).toBe(true);
      expect(s.syncMsTotal - b.syncMsTotal).toBe(ms.reduce((a, x) => a + x, 0));
      expect(s.lastSyncMs).toBe(ms[ms.length - 1]);
    }
    // A hand-off is a new leader for everyone.
    const next = follower(cluster, leader);
    cluster.transfer(leader, next);
    cluster.runUntil(cluster.nowMs + 2_000, () => cluster.leader() === next && cluster.ids.every((id) => cluster.member(id).node!.leader === next));
    cluster.runUntil(cluster.nowMs + 100);
    for (const id of cluster.ids) expect(cluster.member(id).host!.stats.leaderChanges).toBe(2);
  });

  it('reports replication lag on the leader only: each other voter, growing for one cut off, 0 once caught up', () => {
    const cluster = quietCluster();
    const leader = electedLeader(cluster);
    const [f1, f2] = cluster.ids.filter((id) => id !== leader) as [NodeId, NodeId];
    const host = cluster.member(leader).host!;
    expect([...host.replicationLag().keys()].sort()).toEqual([f1, f2].sort());
    expect(cluster.member(f1).host!.replicationLag().size).toBe(0);
    cluster.network.isolate(f1);
    const acked: number[] = [];
    for (let i = 0; i < 4; i++) cluster.submit(leader, session(i), (err) => err === null && acked.push(i));
    cluster.runUntil(cluster.nowMs + 500, () => acked.length === 4);
    cluster.runUntil(cluster.nowMs + 100);
    expect(host.replicationLag().get(f1)).toBeGreaterThanOrEqual(4);
    expect(host.replicationLag().get(f2)).toBe(0);
    cluster.network.healAll();
    cluster.runUntil(cluster.nowMs + 1_000, () => host.replicationLag().get(f1) === 0);
    expect(host.replicationLag().get(f1)).toBe(0);
    expect([...host.membershipView().configuration.voters].sort()).toEqual([...cluster.ids].sort());
  });

  it('takes snapshots at its phase and compacts; a member cut off catches up by installing the leader\'s snapshot', () => {
    const cluster = quietCluster({ snapshotEvery: 5 });
    const leader = electedLeader(cluster);
    const f = follower(cluster, leader);
    cluster.network.isolate(f);
    const acked: number[] = [];
    for (let i = 0; i < 30; i++) cluster.submit(leader, session(i), (err) => err === null && acked.push(i));
    cluster.runUntil(cluster.nowMs + 1_000, () => acked.length === 30);
    cluster.runUntil(cluster.nowMs + 200);
    const host = cluster.member(leader).host!;
    expect(host.stats.snapshotsTaken).toBeGreaterThanOrEqual(1);
    expect(host.firstIndex).toBeGreaterThan(1);
    expect(host.lastIndex).toBe(host.commitIndex);
    const lagging = cluster.member(f).host!;
    expect(lagging.stats.snapshotsInstalled).toBe(0);
    cluster.network.healAll();
    cluster.runUntil(cluster.nowMs + 3_000, () => lagging.appliedIndex === host.appliedIndex);
    expect(lagging.appliedIndex).toBe(host.appliedIndex);
    expect(lagging.stats.snapshotsInstalled).toBeGreaterThanOrEqual(1);
  });
});
