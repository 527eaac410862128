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
    private readonly voters: readonly NodeId[] = ['n1', 'n2', 'n3'],
  ) {}
  members(): readonly NodeId[] {
    return this.voters;
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
  /** change applies a soft state and, unless `notify` is false, reports it through the watch as a host does. */
  change(s: SoftState, notify = true): void {
    this.role = s.role;
    this.leader = s.leader;
    this.term = s.term;
    if (notify) this.watch.notify(s);
  }
}

/** SteppingDownLeader steps down when asked to transfer, to `after`, without a new leader taking over in time. */
class SteppingDownLeader extends FakeLeader {
  constructor(
    watch: SoftStateWatch,
    private readonly after: SoftState,
    private readonly notifies: boolean,
  ) {
    super(watch, []);
  }
  override transferLeadership(to: NodeId): boolean {
    super.transferLeadership(to);
    setImmediate(() => this.change(this.after, this.notifies));
    return true;
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

  it('ranks a voter whose match index is known, even 0, before one whose match is unknown', () => {
    expect(rankTargets('n1', ['n1', 'n2', 'n3'], (p) => (p === 'n3' ? 0 : null))).toEqual(['n3', 'n2']);
  });

  it('breaks ties in match index by id, whatever the order of the voter list', () => {
    for (const voters of [['n1', 'n2', 'n3', 'n4', 'n5'], ['n5', 'n4', 'n1', 'n3', 'n2'], ['n3', 'n5', 'n2', 'n4', 'n1']]) {
      expect(rankTargets('n1', voters, () => 4)).toEqual(['n2', 'n3', 'n4', 'n5']);
    }
  });

  it('reports no_target and asks nobody when no other voter exists', async () => {
    const watch = new SoftStateWatch(EVENT_LOOP_SCHEDULER);
    const alone = new FakeLeader(watch, [], ['n1']);
    const r = await handOffLeadership({ host: alone, matchOf: () => 1, softStates: watch, attemptMs: 30, timeoutMs: 60, to: null });
    expect(r).toEqual({ outcome: 'no_target', from: 'n1', to: null, leader: 'n1', term: 4 });
  });

  it('asks nobody once its bound has run out', async () => {
    const watch = new SoftStateWatch(EVENT_LOOP_SCHEDULER);
    const host = new FakeLeader(watch, ['n2', 'n3']);
    const r = await handOffLeadership({ host, matchOf: () => 1, softStates: watch, attemptMs: 1_000, timeoutMs: 0, to: null });
    expect(r).toEqual({ outcome: 'timed_out', from: 'n1', to: null, leader: 'n1', term: 4 });
    expect(host.asked).toEqual([]);
  });

  it('asks no further voter once this member stopped leading, and times out if it never learns who leads', async () => {
    const watch = new SoftStateWatch(EVENT_LOOP_SCHEDULER);
    const host = new SteppingDownLeader(watch, { role: 'follower', leader: null, term: 5 }, true);
    const r = await handOffLeadership({ host, matchOf: (p) => (p === 'n3' ? 10 : 5), softStates: watch, attemptMs: 30, timeoutMs: 5_000, to: null });
    expect(r).toEqual({ outcome: 'timed_out', from: 'n1', to: 'n3', leader: null, term: 5 });
    expect(host.asked).toEqual(['n3']);
  });

  it('reports transferred when another member leads at the end, even if the watch missed the change', async () => {
    const watch = new SoftStateWatch(EVENT_LOOP_SCHEDULER);
    const host = new SteppingDownLeader(watch, { role: 'follower', leader: 'n3', term: 5 }, false);
    const r = await handOffLeadership({ host, matchOf: (p) => (p === 'n3' ? 10 : 5), softStates: watch, attemptMs: 30, timeoutMs: 5_000, to: null });
    expect(r).toEqual({ outcome: 'transferred', from: 'n1', to: 'n3', leader: 'n3', term: 5 });
    expect(host.asked).toEqual(['n3']);
  });
});
