import { describe, expect, it } from 'vitest';
import { handOffLeadership, rankTargets } from '../../src/node/leader-hand-off.js';
import { EVENT_LOOP_SCHEDULER } from '../../src/node/production-io.js';
import { SoftStateWatch } from '../../src/node/soft-state-watch.js';
import type { NodeId, Role, SoftState } from '../../src/raft/index.js';

/** FakeLeader is a leader whose transfers succeed only to `willing` members, reported through the watch like a host. */
class FakeLeader {
  readonly id = 'n1';
  role: Role = 'leader';
  leader: NodeId | null = 'n1';
  term = 4;
  readonly asked: NodeId[] = [];
  constructor(
    private readonly watch: SoftStateWatch,
    private readonly willing: readonly NodeId[],
  ) {}
  members(): readonly NodeId[] {
    return ['n1', 'n2', 'n3'];
  }
  transferLeadership(to: NodeId): boolean {
    this.asked.push(to);
    if (this.willing.includes(to)) {
      // The transferee campaigns: this leader steps down at its term, then hears from it as the new leader.
      setImmediate(() => this.change({ role: 'follower', leader: null, term: 5 }));
      setImmediate(() => this.change({ role: 'follower', leader: to, term: 5 }));
    }
    return true;
  }
  private change(s: SoftState): void {
    this.role = s.role;
    this.leader = s.leader;
    this.term = s.term;
    this.watch.notify(s);
  }
}

describe('leader hand-off', () => {
  it('ranks the other voters by match index, most caught-up first', () => {
    const match: Record<string, number> = { n2: 7, n3: 9, n4: 9 };
    expect(rankTargets('n1', ['n1', 'n2', 'n3', 'n4', 'n5'], (p) => match[p] ?? null)).toEqual(['n3', 'n4', 'n2', 'n5']);
  });

  it('hands over to the most caught-up voter and returns once the new leader is known', async () => {
    const watch = new SoftStateWatch(EVENT_LOOP_SCHEDULER);
    const host = new FakeLeader(watch, ['n3']);
    const r = await handOffLeadership({ host, matchOf: (p) => (p === 'n3' ? 10 : 5), softStates: watch, attemptMs: 1_000, timeoutMs: 2_000, to: null });
    expect(r).toEqual({ outcome: 'transferred', from: 'n1', to: 'n3', leader: 'n3', term: 5 });
    expect(host.asked).toEqual(['n3']);
  });

  it('tries the next voter when the first does not take over within one attempt, within the bound', async () => {
    const watch = new SoftStateWatch(EVENT_LOOP_SCHEDULER);
    const host = new FakeLeader(watch, ['n2']);
    const r = await handOffLeadership({ host, matchOf: (p) => (p === 'n3' ? 10 : 5), softStates: watch, attemptMs: 50, timeoutMs: 1_000, to: null });
    expect(r.outcome).toBe('transferred');
    expect(host.asked).toEqual(['n3', 'n2']);
  });

  it('times out when nobody takes over, and does nothing on a follower', async () => {
    const watch = new SoftStateWatch(EVENT_LOOP_SCHEDULER);
    const stuck = new FakeLeader(watch, []);
    const r = await handOffLeadership({ host: stuck, matchOf: () => 1, softStates: watch, attemptMs: 30, timeoutMs: 60, to: 'n2' });
    expect(r).toMatchObject({ outcome: 'timed_out', to: 'n2', leader: 'n1' });
    expect(stuck.asked).toEqual(['n2']);
    const follower = new FakeLeader(watch, ['n2']);
    follower.role = 'follower';
    expect((await handOffLeadership({ host: follower, matchOf: () => 1, softStates: watch, attemptMs: 30, timeoutMs: 60, to: null })).outcome).toBe('not_leader');
    expect(follower.asked).toEqual([]);
  });
});
