import { describe, expect, it } from 'vitest';
import type { CommandResult, LockCommand, LockEvent } from '../../src/locks/index.js';
import { LeaseTable } from '../../src/locks/index.js';
import { LockService, type LockServiceOptions } from '../../src/node/lock-service.js';
import { encodeCommand } from '../../src/node/command-codec.js';
import type { HostScheduler, TimerHandle } from '../../src/node/host-io.js';
import type { NodeId } from '../../src/raft/index.js';
import type { SimCluster } from './cluster.js';
import { electedLeader, quietCluster } from './quiet-cluster.js';

/**
 * The real LockService on the real host over the simulation's I/O: expiry is proposed by the leader only, once its
 * term has a lease time base; waiters hear of their grants; the long-poll bound; what it counts for /metrics.
 */

const SILENT = { info() {}, warn() {}, error() {}, debug() {} };


/** run submits `command` on `id` and runs the cluster until it is answered. */
function run(cluster: SimCluster, id: NodeId, command: LockCommand): CommandResult {
  let answer: { err: Error | null; result?: CommandResult } | null = null;
  cluster.submit(id, command, (err, result) => (answer = { err, result }));
  cluster.runUntil(cluster.nowMs + 1_000, () => answer !== null);
  const a = answer as { err: Error | null; result?: CommandResult } | null;
  if (a === null) throw new Error(`no answer to ${command.type}`);
  if (a.err !== null) throw a.err;
  return a.result!;
}

const acquire = (owner: string, ttlMs: number, extra: Partial<LockCommand> = {}): LockCommand =>
  ({ type: 'acquire', name: 'x', owner, mode: 'exclusive', ttlMs, waitMs: 0, ...extra }) as LockCommand;

describe('LockService on the host: expiry, time and counters', () => {
  it('the leader alone takes a time base, proposes expire once a lease passed, and every member counts what expired', () => {
    const cluster = quietCluster();
    const leader = electedLeader(cluster);
    const locks = (id: NodeId) => cluster.member(id).locks!;
    for (const id of cluster.ids) expect(locks(id).counters.leaseTimeBases).toBe(id === leader ? 1 : 0);
    const appliedBefore = new Map(cluster.ids.map((id) => [id, locks(id).counters.applied]));
    const granted = run(cluster, leader, acquire('a', 1_000));
    expect(granted.ok).toBe(true);
    run(cluster, leader, { type: 'createSession', sessionId: 's1', owner: 'b', ttlMs: 1_000 });
    // A waiter for 50 ms behind the hold, with its own id.
    const queued = run(cluster, leader, acquire('c', 1_000, { waitMs: 50, requestId: 'w1' } as Partial<LockCommand>));
    expect(queued.ok && 'queued' in queued ? queued.queued : queued).toBe(true);
    cluster.runUntil(cluster.nowMs + 1_600);
    for (const id of cluster.ids) {
      const c = locks(id).counters;
      expect(c.expired).toEqual({ holds: 1, sessions: 1, waits: 1 });
      if (id !== leader) expect(c.expireProposals).toBe(0);
      expect(c.applied - appliedBefore.get(id)!).toBeGreaterThanOrEqual(4);
      expect(c.grantsUndone).toBe(0);
    }
    expect(locks(leader).counters.expireProposals).toBeGreaterThanOrEqual(1);
    expect(locks(leader).lockTable.get('x')?.holders ?? []).toEqual([]);
  });

  it('on the leader table time runs with its monotonic clock; elsewhere it is the newest applied stamp', () => {
    const cluster = quietCluster();
    const leader = electedLeader(cluster);
    const f = cluster.ids.find((id) => id !== leader)!;
    run(cluster, leader, acquire('a', 10_000));
    cluster.runUntil(cluster.nowMs + 100);
    const t0 = cluster.tableNowMs(leader);
    const f0 = cluster.tableNowMs(f);
    cluster.runUntil(cluster.nowMs + 1_000);
    expect(cluster.tableNowMs(leader) - t0).toBeGreaterThanOrEqual(999);
    expect(cluster.tableNowMs(leader) - t0).toBeLessThanOrEqual(1_001);
    // Nothing applied meanwhile (no deadline passed): the follower's table time did not move.
    expect(cluster.tableNowMs(f)).toBe(f0);
    expect(cluster.tableNowMs(f)).toBe(cluster.member(f).locks!.lockTable.nowMs);
    expect(cluster.tableNowMs(leader)).toBeGreaterThan(cluster.member(leader).locks!.lockTable.nowMs);
  });

  it('a detached service proposes no expiry', () => {
    const cluster = quietCluster();
    const leader = electedLeader(cluster);
    const locks = cluster.member(leader).locks!;
    expect(run(cluster, leader, acquire('a', 1_000)).ok).toBe(true);
    locks.detach();
    locks.detach();
    cluster.runUntil(cluster.nowMs + 1_500);
    expect(locks.counters.expireProposals).toBe(0);
    expect(locks.lockTable.get('x')?.holders).toHaveLength(1);
  });

  it('execute resolves with the result, and rejects with the host\'s refusal on a follower', async () => {
    const cluster = quietCluster();
    const leader = electedLeader(cluster);
    const f = cluster.ids.find((id) => id !== leader)!;
    const ok = cluster.member(leader).locks!.execute(acquire('a', 10_000));
    const refused = cluster.member(f).locks!.execute(acquire('b', 10_000));
    cluster.runUntil(cluster.nowMs + 500);
    await expect(ok).resolves.toMatchObject({ ok: true, token: expect.any(Number) });
    await expect(refused).rejects.toMatchObject({ code: 'not_leader' });
  });
});

describe('LockService: waiters', () => {
  it('wakes the registered waiter with its grant; one registration per id; the bound on open long-polls', () => {
    const cluster = quietCluster();
    const leader = electedLeader(cluster);
    const locks = cluster.member(leader).locks!;
    const granted = run(cluster, leader, acquire('a', 10_000)) as { token: number };
    const events: LockEvent[] = [];
    const leave = locks.registerWaiter('w1', (e) => events.push(e));
    expect(leave).not.toBeNull();
    expect(locks.registerWaiter('w1', () => {})).toBeNull();
    run(cluster, leader, acquire('b', 10_000, { waitMs: 5_000, requestId: 'w1' } as Partial<LockCommand>));
    run(cluster, leader, { type: 'release', name: 'x', owner: 'a', token: granted.token });
    expect(events.map((e) => [e.kind, e.waiterId])).toEqual([['granted', 'w1']]);
    // Leaving frees the id; a stale leave does not remove the next registration.
    leave!();
    const later: LockEvent[] = [];
    expect(locks.registerWaiter('w1', (e) => later.push(e))).not.toBeNull();
    leave!();
    expect(locks.registerWaiter('w1', () => {})).toBeNull();
    // The simulation's bound is 1,000 open long-polls (one is open above).
    for (let i = 0; i < 999; i++) expect(locks.registerWaiter(`q${i}`, () => {})).not.toBeNull();
    expect(locks.registerWaiter('one-too-many', () => {})).toBeNull();
  });
});

/** A scheduler for a LockService that is never attached to a host. */
const NO_TIMERS: HostScheduler = {
  defer: (fn) => fn(),
  after: (): TimerHandle => ({ timerId: 0 }),
  every: (): TimerHandle => ({ timerId: 0 }),
  cancel: () => {},
};

describe('LockService as a replicated app (no host)', () => {
  function service(snapshotStepRecords?: number, onApplied?: LockServiceOptions['onApplied']): LockService {
    const clock = { wallMs: () => 0, monotonicMs: () => 0 };
    return new LockService({
      logger: SILENT,
      maxWaiters: 10,
      expiryCheckMs: 10,
      clock,
      scheduler: NO_TIMERS,
      ...(snapshotStepRecords === undefined ? {} : { snapshotStepRecords }),
      ...(onApplied === undefined ? {} : { onApplied }),
    });
  }

  it('encodes a snapshot in slices of the default size identical to the whole snapshot, and restores from it', () => {
    const a = service();
    const applied: string[] = [];
    const b = service(undefined, (c, r, i) => applied.push(`${i}:${c.type}:${r.ok}`));
    for (let i = 1; i <= 5; i++) {
      const data = encodeCommand(1_000 * i, { type: 'createSession', sessionId: `s${i}`, ttlMs: 60_000 });
      a.applyEntry(data, i);
      b.applyEntry(data, i);
    }
    expect(applied).toEqual(['1:createSession:true', '2:createSession:true', '3:createSession:true', '4:createSession:true', '5:createSession:true']);
    expect(a.counters.applied).toBe(5);
    const whole = a.snapshot();
    /** steps encodes `svc`'s table in slices and returns how many steps it took; the bytes must be the whole snapshot. */
    const steps = (svc: LockService): number => {
      const enc = svc.snapshotEncoder();
      for (let n = 1; n <= 100; n++) {
        const out = enc.step();
        if (out !== null) {
          expect([...out]).toEqual([...whole]);
          return n;
        }
      }
      throw new Error('the encoding did not end');
    };
    // Five records fit in one slice of the default size (then one step assembles); slices of one take more steps.
    expect(steps(a)).toBe(2);
    const c = service(1);
    c.restore(whole);
    expect(steps(c)).toBeGreaterThan(4);
    expect(c.lockTable.appliedIndex).toBe(5);
    expect(c.stats()).toEqual(a.lockTable.stats());
    expect(c.stats().sessions).toBe(5);
    // A restored table's watches know that anything up to its index may have changed.
    expect(c.watches.indexOf('x')).toBe(5);
    expect(LeaseTable.restore(whole).appliedIndex).toBe(5);
  });

  it('is used only once attached to a host', () => {
    expect(() => service().submit({ type: 'expire' }, () => {})).toThrow(/before attach/);
    expect(service().tableNowMs()).toBe(0);
  });
});
