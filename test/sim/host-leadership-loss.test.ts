import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../src/raft/index.js';
import { electedLeader, quietCluster } from './quiet-cluster.js';

/**
 * What a leader that loses its leadership owes its callers, at once rather than at their timeouts: a read waiting
 * on a leadership it no longer has is answered not_leader (its caller retries elsewhere); a proposal whose index a
 * newer leader's snapshot covers is answered outcome_unknown (whose entry landed there cannot be told).
 */
describe('RaftHost: a deposed leader answers its waiting callers at once', () => {
  it('a pending read is answered not_leader as soon as the leader steps down, long before its timeout', () => {
    const cluster = quietCluster();
    const old = electedLeader(cluster);
    cluster.network.isolate(old);
    const reads: { err: Error | null; atMs: number }[] = [];
    const askedAtMs = cluster.nowMs;
    cluster.member(old).host!.requestRead(60_000, (err) => reads.push({ err, atMs: cluster.nowMs }));
    cluster.runUntil(cluster.nowMs + 3_000, () => cluster.ids.some((id) => id !== old && cluster.member(id).node!.role === 'leader'));
    expect(reads).toEqual([]);
    cluster.network.healAll();
    cluster.runUntil(cluster.nowMs + 3_000, () => reads.length > 0);
    expect(reads).toHaveLength(1);
    expect((reads[0]!.err as { code?: string } | null)?.code).toBe('not_leader');
    expect(reads[0]!.atMs - askedAtMs).toBeLessThan(10_000);
  });

  it('a pending proposal that a newer leader\'s snapshot covers is answered outcome_unknown before its timeout', () => {
    const cluster = quietCluster({ snapshotEvery: 5 });
    const old = electedLeader(cluster);
    cluster.network.isolate(old);
    const answers: { code: string | undefined; atMs: number }[] = [];
    const askedAtMs = cluster.nowMs;
    cluster.submit(old, { type: 'createSession', sessionId: 'lost', ttlMs: 60_000 }, (err) => answers.push({ code: (err as { code?: string } | null)?.code, atMs: cluster.nowMs }));
    cluster.runUntil(cluster.nowMs + 3_000, () => cluster.ids.some((id) => id !== old && cluster.member(id).node!.role === 'leader'));
    const next = cluster.ids.find((id) => id !== old && cluster.member(id).node!.role === 'leader') as NodeId;
    const acked: number[] = [];
    for (let i = 0; i < 20; i++) cluster.submit(next, { type: 'createSession', sessionId: `s${i}`, ttlMs: 60_000 }, (err) => err === null && acked.push(i));
    cluster.runUntil(cluster.nowMs + 1_000, () => acked.length === 20);
    // Time for the new leader to encode its snapshot in slices, store it and compact its log.
    cluster.runUntil(cluster.nowMs + 300);
    expect(cluster.member(next).host!.firstIndex).toBeGreaterThan(3);
    expect(answers).toEqual([]);
    cluster.network.healAll();
    cluster.runUntil(cluster.nowMs + 3_000, () => answers.length > 0);
    expect(answers.map((a) => a.code)).toEqual(['outcome_unknown']);
    // The simulation's proposal timeout is 2,000 ms: this answer came from the snapshot, not the timer.
    expect(answers[0]!.atMs - askedAtMs).toBeLessThan(2_000);
    expect(cluster.member(old).host!.stats.snapshotsInstalled).toBeGreaterThanOrEqual(1);
  });
});
