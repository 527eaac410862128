import { describe, expect, it } from 'vitest';
import type { CommandResult, LockCommand, LockEvent } from '../../src/locks/index.js';
import { decodeCommand, encodeCommand } from '../../src/node/command-codec.js';
import type { HostScheduler, TimerHandle } from '../../src/node/host-io.js';
import { LockService, type CommandDone, type LockServiceOptions } from '../../src/node/lock-service.js';
import type { RaftHost } from '../../src/node/raft-host.js';
import type { SoftState } from '../../src/raft/index.js';

/**
 * The rules by which LockService turns lock calls into log entries and reports their outcomes (issue 17: what
 * mutation testing of src/node/lock-service.ts showed untested). The host is a stand-in that holds every proposal
 * and ReadIndex round until the test commits or answers it, so each rule is checked at the step it is about.
 */

const SILENT = { info() {}, warn() {}, error() {}, debug() {} };
/** The soft states the host reports; the service reads only the role. */
const LEADING: SoftState = { role: 'leader', leader: 'n1', term: 0 };
const FOLLOWING: SoftState = { role: 'follower', leader: null, term: 0 };

/** TestScheduler holds every timer and deferred call until the test runs it; its monotonic clock moves only when set. */
class TestScheduler implements HostScheduler {
  nowMs = 0;
  private next = 1;
  readonly deferred: (() => void)[] = [];
  readonly timers = new Map<number, { ms: number; fn: () => void; repeat: boolean }>();
  defer(fn: () => void): void {
    this.deferred.push(fn);
  }
  after(ms: number, fn: () => void): TimerHandle {
    return this.add(ms, fn, false);
  }
  every(ms: number, fn: () => void): TimerHandle {
    return this.add(ms, fn, true);
  }
  cancel(timer: TimerHandle): void {
    this.timers.delete(timer.timerId);
  }
  private add(ms: number, fn: () => void, repeat: boolean): TimerHandle {
    const timerId = this.next++;
    this.timers.set(timerId, { ms, fn, repeat });
    return { timerId };
  }
  /** runDeferred runs the calls deferred so far. */
  runDeferred(): void {
    for (const fn of this.deferred.splice(0)) fn();
  }
  /** fireRepeating runs each periodic timer once (the expiry check). */
  fireRepeating(): void {
    for (const t of [...this.timers.values()]) if (t.repeat) t.fn();
  }
  /** fireOnce runs the one-shot timers armed so far, and says with which delays they were armed. */
  fireOnce(): number[] {
    const once = [...this.timers].filter(([, t]) => !t.repeat);
    for (const [id] of once) this.timers.delete(id);
    for (const [, t] of once) t.fn();
    return once.map(([, t]) => t.ms);
  }
}

/** FakeHost is the part of RaftHost a LockService uses; proposals and reads wait for the test. */
class FakeHost {
  term = 1;
  leader = true;
  readonly proposals: { data: Uint8Array; done: CommandDone }[] = [];
  readonly reads: { timeoutMs: number; done: (err: Error | null) => void }[] = [];
  isLeader(): boolean {
    return this.leader;
  }
  submit(data: Uint8Array, done: CommandDone): void {
    this.proposals.push({ data, done });
  }
  requestRead(timeoutMs: number, done: (err: Error | null) => void): void {
    this.reads.push({ timeoutMs, done });
  }
}

interface Rig {
  readonly svc: LockService;
  readonly host: FakeHost;
  readonly sched: TestScheduler;
  /** The commands proposed and not yet committed, oldest first, with the table time stamped into each. */
  pending(): { timeMs: number; command: LockCommand }[];
  /** commit applies the oldest proposal at the next index and answers its proposer; returns its command and stamp. */
  commit(): { timeMs: number; command: LockCommand; result: CommandResult };
  /** apply applies an entry as a follower would (nobody here proposed it). */
  apply(timeMs: number, command: LockCommand): CommandResult;
  /** lead makes the service lead `term` with the table at its current time: the term's no-op applied, reset committed. */
  lead(term: number): void;
  readonly applied: string[];
}

interface RigOptions {
  maxWaiters?: number;
  keepaliveConfirmTimeoutMs?: number;
  snapshotStepRecords?: number;
  /** Builds the service (a subclass overriding a hook); default the LockService itself. */
  create?: (options: LockServiceOptions) => LockService;
}

function rig(options: RigOptions = {}): Rig {
  const sched = new TestScheduler();
  const host = new FakeHost();
  const applied: string[] = [];
  const svc = (options.create ?? ((o) => new LockService(o)))({
    logger: SILENT,
    maxWaiters: options.maxWaiters ?? 10,
    expiryCheckMs: 10,
    clock: { wallMs: () => 9_999_999, monotonicMs: () => sched.nowMs },
    scheduler: sched,
    onApplied: (command, result, index) => applied.push(`${index}:${command.type}:${result.ok}`),
    ...(options.keepaliveConfirmTimeoutMs === undefined ? {} : { keepaliveConfirmTimeoutMs: options.keepaliveConfirmTimeoutMs }),
    ...(options.snapshotStepRecords === undefined ? {} : { snapshotStepRecords: options.snapshotStepRecords }),
  });
  svc.attach(host as unknown as RaftHost);
  let index = 0;
  const r: Rig = {
    svc,
    host,
    sched,
    applied,
    pending: () => host.proposals.map((p) => decodeCommand(p.data)),
    commit: () => {
      const p = host.proposals.shift();
      if (p === undefined) throw new Error('nothing proposed');
      const { timeMs, command } = decodeCommand(p.data);
      const result = svc.applyEntry(p.data, ++index);
      p.done(null, result);
      return { timeMs, command, result };
    },
    apply: (timeMs, command) => svc.applyEntry(encodeCommand(timeMs, command), ++index),
    lead: (term) => {
      host.term = term;
      host.leader = true;
      svc.onSoftState(LEADING);
      svc.applyTermStart(term);
      // The first expiry check of a term proposes the session reset; nothing expires before it applied.
      sched.fireRepeating();
      const reset = r.commit();
      if (reset.command.type !== 'restartSessionLeases') throw new Error(`expected the reset, got ${reset.command.type}`);
    },
  };
  return r;
}

const acquire = (owner: string, ttlMs: number, extra: Partial<LockCommand> = {}): LockCommand =>
  ({ type: 'acquire', name: 'x', owner, mode: 'exclusive', ttlMs, waitMs: 0, ...extra }) as LockCommand;

/** keepaliveLeader leads term 2 with session s; `keepalive(tag)` sends one and notes `tag:ok` or `tag:<error>` when answered. */
function keepaliveLeader(): { r: Rig; answers: string[]; keepalive: (tag: string) => void } {
  const r = rig();
  r.apply(1_000, { type: 'createSession', sessionId: 's', ttlMs: 3_000 });
  r.lead(2);
  const answers: string[] = [];
  const keepalive = (tag: string) => r.svc.submit({ type: 'keepalive', sessionId: 's' }, (err) => answers.push(`${tag}:${err?.message ?? 'ok'}`));
  return { r, answers, keepalive };
}

describe('LockService: applying committed entries', () => {
  it('answers with the table result, wakes only the waiter an event names, and tells observers and watches the index', () => {
    const r = rig();
    r.apply(1_000, acquire('a', 10_000));
    const heard: Record<string, LockEvent[]> = { w1: [], w2: [] };
    r.svc.registerWaiter('w1', (e) => heard['w1']!.push(e));
    r.svc.registerWaiter('w2', (e) => heard['w2']!.push(e));
    expect(r.apply(1_000, acquire('b', 10_000, { waitMs: 5_000, requestId: 'w1' }))).toMatchObject({ ok: true, queued: true });
    const released = r.apply(1_100, { type: 'release', name: 'x', owner: 'a', token: 1 });
    expect(released).toMatchObject({ ok: true });
    expect(heard['w1']).toMatchObject([{ kind: 'granted', waiterId: 'w1', name: 'x', owner: 'b' }]);
    expect(heard['w2']).toEqual([]);
    expect(r.svc.counters.applied).toBe(3);
    expect(r.applied).toEqual(['1:acquire:true', '2:acquire:true', '3:release:true']);
    // Watches learn the index of the entry that touched the lock.
    expect(r.svc.watches.indexOf('x')).toBe(3);
    expect(r.svc.watches.indexOf('y')).toBe(1); // never touched: the least index
  });

  it('counts a cancelWait as an undone grant only when it released one', () => {
    const r = rig();
    r.apply(1_000, acquire('a', 10_000));
    r.apply(1_000, acquire('b', 10_000, { waitMs: 5_000, requestId: 'r1' }));
    // Cancelling while still queued takes the waiter out: nothing granted, nothing undone.
    r.apply(1_000, acquire('c', 10_000, { waitMs: 5_000, requestId: 'r2' }));
    expect(r.apply(1_000, { type: 'cancelWait', name: 'x', waiterId: 'r2', owner: 'c' })).toEqual({ ok: true, cancelled: true });
    expect(r.svc.counters.grantsUndone).toBe(0);
    r.apply(1_000, { type: 'release', name: 'x', owner: 'a', token: 1 });
    expect(r.apply(1_000, { type: 'cancelWait', name: 'x', waiterId: 'r1', owner: 'b' })).toEqual({ ok: true, cancelled: true, released: true });
    expect(r.svc.counters.grantsUndone).toBe(1);
  });

  it('adds what each applied expire removed, by kind', () => {
    const r = rig();
    r.apply(1_000, acquire('a', 100));
    r.apply(1_000, { type: 'createSession', sessionId: 's1', ttlMs: 1_000 });
    r.apply(1_000, { type: 'createSession', sessionId: 's2', ttlMs: 1_000 });
    r.apply(1_000, acquire('b', 10_000, { name: 'y' }));
    r.apply(1_000, acquire('c', 10_000, { name: 'y', waitMs: 50, requestId: 'w' }));
    r.apply(1_000, acquire('d', 10_000, { name: 'y', waitMs: 60, requestId: 'v' }));
    r.apply(1_000, acquire('e', 10_000, { name: 'y', waitMs: 70, requestId: 'u' }));
    expect(r.apply(2_500, { type: 'expire' })).toEqual({ ok: true, holdsExpired: 1, sessionsExpired: 2, waitersTimedOut: 3 });
    expect(r.svc.counters.expired).toEqual({ holds: 1, sessions: 2, waits: 3 });
    expect(r.apply(2_600, { type: 'expire' })).toEqual({ ok: true, holdsExpired: 0, sessionsExpired: 0, waitersTimedOut: 0 });
    expect(r.svc.counters.expired).toEqual({ holds: 1, sessions: 2, waits: 3 });
  });
});

describe('LockService: table time and the term base', () => {
  it('takes a lease time base only for a term this node leads when its no-op applies', () => {
    // Raft §8: when a leader's own no-op applies, every entry committed before its term has applied here, so the
    // table's time is the newest stamp of any earlier leader; an earlier term's no-op, or a follower's, says nothing.
    const r = rig();
    r.apply(5_000, { type: 'createSession', sessionId: 's', ttlMs: 60_000 });
    r.host.term = 3;
    r.host.leader = false;
    r.svc.applyTermStart(3);
    expect(r.svc.counters.leaseTimeBases).toBe(0);
    r.host.leader = true;
    r.svc.applyTermStart(2); // an earlier term's no-op
    expect(r.svc.counters.leaseTimeBases).toBe(0);
    r.sched.nowMs = 100;
    r.svc.submit(acquire('a', 1_000), () => {});
    expect(r.pending().map((p) => p.timeMs)).toEqual([0]); // no base: stamped "no time", never the wall clock
    r.svc.applyTermStart(3);
    expect(r.svc.counters.leaseTimeBases).toBe(1);
    // The term's no-op starts its first step at once: the session reset, stamped at the base.
    expect(r.pending().map((p) => [p.command.type, p.timeMs])).toEqual([['acquire', 0], ['restartSessionLeases', 5_000]]);
    r.sched.nowMs = 350;
    r.svc.submit(acquire('b', 1_000, { name: 'y' }), () => {});
    // Table time is the table's at the base (5,000) plus the monotonic time since (250 ms).
    expect(r.pending().map((p) => p.timeMs)).toEqual([0, 5_000, 5_250]);
    expect(r.svc.tableNowMs()).toBe(5_250);
  });

  it('reads table time from the leader clock only while leading a term with a base, and never behind the table', () => {
    const r = rig();
    r.apply(5_000, { type: 'createSession', sessionId: 's', ttlMs: 60_000 });
    r.lead(2);
    r.sched.nowMs = 400;
    expect(r.svc.tableNowMs()).toBe(5_400);
    // A table that ran ahead of this leader's clock (a stamp from elsewhere) wins: the max of the two.
    r.apply(9_000, { type: 'createSession', sessionId: 't', ttlMs: 60_000 });
    expect(r.svc.tableNowMs()).toBe(9_000);
    r.sched.nowMs = 5_000;
    expect(r.svc.tableNowMs()).toBe(10_000);
    // A follower, or a leader of another term, reads the table's newest stamp.
    r.host.leader = false;
    expect(r.svc.tableNowMs()).toBe(9_000);
    r.host.leader = true;
    r.host.term = 3;
    expect(r.svc.tableNowMs()).toBe(9_000);
  });

  it('forgets the base when it stops leading; a leader soft state keeps it', () => {
    const r = rig();
    r.apply(5_000, { type: 'createSession', sessionId: 's', ttlMs: 60_000 });
    r.lead(2);
    r.svc.onSoftState(LEADING);
    r.sched.nowMs = 10;
    r.svc.submit(acquire('a', 1_000), () => {});
    expect(r.pending().map((p) => p.timeMs)).toEqual([5_010]);
    r.svc.onSoftState(FOLLOWING);
    // Still marked leader by the host (the soft state is what tells the service): no base, so no time.
    r.svc.submit(acquire('b', 1_000, { name: 'y' }), () => {});
    expect(r.pending().map((p) => p.timeMs)).toEqual([5_010, 0]);
    expect(r.svc.keepalives.leads(2)).toBe(false);
  });
});

describe('LockService: proposals and how their outcome reaches the caller', () => {
  it('passes the committed result, or the host\'s error, to the caller of submit and execute', async () => {
    const r = rig();
    const answers: unknown[] = [];
    r.svc.submit(acquire('a', 1_000), (err, result) => answers.push(err ?? result));
    const granted = r.svc.execute(acquire('b', 1_000, { name: 'y' }));
    const refused = r.svc.execute(acquire('c', 1_000, { name: 'z' }));
    r.commit();
    r.commit();
    const failure = new Error('not leader');
    r.host.proposals.shift()!.done(failure);
    expect(answers).toMatchObject([{ ok: true, name: 'x', owner: 'a' }]);
    await expect(granted).resolves.toMatchObject({ ok: true, name: 'y', owner: 'b' });
    await expect(refused).rejects.toBe(failure);
  });

  it('answers a keepalive through the log until the term has a base, then from memory after a confirmation round', () => {
    const r = rig({ keepaliveConfirmTimeoutMs: 777 });
    r.apply(1_000, { type: 'createSession', sessionId: 's', ttlMs: 3_000 });
    const answers: unknown[] = [];
    r.svc.submit({ type: 'keepalive', sessionId: 's' }, (err, res) => answers.push(err ?? res));
    expect(r.pending().map((p) => p.command.type)).toEqual(['keepalive']);
    r.commit();
    expect(answers).toMatchObject([{ ok: true, sessionId: 's' }]);
    r.lead(2);
    r.sched.nowMs = 500;
    r.svc.submit({ type: 'keepalive', sessionId: 's' }, (err, res) => answers.push(err ?? res));
    // No log entry; one leadership confirmation with the configured timeout, and no answer before it.
    expect(r.host.proposals).toEqual([]);
    expect(r.host.reads.map((x) => x.timeoutMs)).toEqual([777]);
    expect(answers).toHaveLength(1);
    expect(r.svc.sessionExpiresAtMs('s')).toBe(4_500);
    expect(r.svc.lockTable.sessionLease('s')?.expiresAtMs).toBe(4_000);
    r.host.reads.shift()!.done(null);
    expect(answers[1]).toEqual({ ok: true, sessionId: 's', ttlMs: 3_000, expiresAtMs: 4_500 });
    // A follower (or a deposed leader) reports the table's expiry; an unknown session has none.
    r.host.leader = false;
    expect(r.svc.sessionExpiresAtMs('s')).toBe(4_000);
    expect(r.svc.sessionExpiresAtMs('nobody')).toBeNull();
    r.host.leader = true;
    r.host.term = 3;
    expect(r.svc.sessionExpiresAtMs('s')).toBe(4_000);
    // On a leader of a later term without a base, a keepalive goes through the log again.
    r.svc.submit({ type: 'keepalive', sessionId: 's' }, () => {});
    expect(r.pending().map((p) => p.command.type)).toEqual(['keepalive']);
  });

  it('answers from memory only while the host still leads: a stepped-down leader sends the keepalive to the log', () => {
    // The host stops leading before its soft state reaches the service (the base is still there): the keepalive
    // must go to the host, which refuses it as not_leader, never be answered from this node's memory.
    const { r, answers, keepalive } = keepaliveLeader();
    r.host.leader = false;
    keepalive('a');
    expect(r.svc.keepalives.counters.inMemory).toBe(0);
    expect(r.host.reads).toEqual([]);
    expect(r.pending().map((p) => p.command)).toEqual([{ type: 'keepalive', sessionId: 's' }]);
    r.host.proposals.shift()!.done(new Error('not leader'));
    expect(answers).toEqual(['a:not leader']);
  });

  it('confirms keepalives in batches: one round in flight, the next asked after it ends and at least 2 ms after the last began', () => {
    // One ReadIndex round (thesis §6.4) confirms every keepalive that arrived before it began; a keepalive answered
    // from memory must wait for a round that began after it arrived.
    const { r, answers, keepalive } = keepaliveLeader();
    const oneShotTimers = () => [...r.sched.timers.values()].filter((t) => !t.repeat).length;
    r.sched.nowMs = 100;
    keepalive('a'); // the first round starts at once
    expect(r.host.reads).toHaveLength(1);
    keepalive('b'); // b and c arrive while a's round is in flight: they wait for the next one
    keepalive('c');
    expect(r.host.reads).toHaveLength(1);
    expect(oneShotTimers()).toBe(0);
    r.sched.nowMs = 101;
    r.host.reads.shift()!.done(null);
    expect(answers).toEqual(['a:ok']);
    // The next round would begin 1 ms after the last began: it is timed for the rest of the 2 ms gap.
    expect(r.host.reads).toHaveLength(0);
    expect(r.sched.fireOnce()).toEqual([1]);
    expect(r.host.reads).toHaveLength(1); // b and c together, begun at 101
    r.sched.nowMs = 102;
    keepalive('d');
    expect(r.host.reads).toHaveLength(1);
    // The round fails: each keepalive of its batch hears why, none of another batch.
    r.sched.nowMs = 103;
    r.host.reads.shift()!.done(new Error('read timed out'));
    expect(answers).toEqual(['a:ok', 'b:read timed out', 'c:read timed out']);
    // Exactly 2 ms since that round began: d's round starts at once, untimed.
    expect(r.host.reads).toHaveLength(1);
    expect(oneShotTimers()).toBe(0);
    r.host.reads.shift()!.done(null);
    expect(answers).toEqual(['a:ok', 'b:read timed out', 'c:read timed out', 'd:ok']);
    // Nobody waits: no further round.
    expect(r.host.reads).toHaveLength(0);
    expect(oneShotTimers()).toBe(0);
  });

  it('checkpoints a keepalive held only in memory once its stored expiry is the default 1,000 ms of table time away', () => {
    const { r, answers, keepalive } = keepaliveLeader(); // session s stored to expire at 4,000; table time 1,000
    r.sched.nowMs = 500;
    keepalive('a');
    r.host.reads.shift()!.done(null);
    expect(answers).toEqual(['a:ok']);
    r.sched.nowMs = 1_999; // table time 2,999: the stored expiry is 1,001 ms away
    r.sched.fireRepeating();
    expect(r.pending()).toEqual([]);
    r.sched.nowMs = 2_000;
    r.sched.fireRepeating();
    expect(r.pending()).toEqual([{ timeMs: 3_000, command: { type: 'checkpointSessions', sessions: [['s', 4_500]] } }]);
  });

  it('a confirmation asked while a delayed round is pending joins that round instead of starting another', () => {
    const { r, answers, keepalive } = keepaliveLeader();
    r.sched.nowMs = 50;
    keepalive('a');
    r.host.reads.shift()!.done(null);
    keepalive('b'); // within 2 ms of a's round: timed
    keepalive('c');
    expect(r.host.reads).toHaveLength(0);
    expect(r.sched.fireOnce()).toEqual([2]);
    expect(r.host.reads).toHaveLength(1);
    r.host.reads.shift()!.done(null);
    expect(answers).toEqual(['a:ok', 'b:ok', 'c:ok']);
    expect(r.sched.timers.size).toBe(1); // only the expiry check
  });
});

/** ConfirmingService exposes the leadership confirmation that in-memory keepalives wait for. */
class ConfirmingService extends LockService {
  confirm(done: (err: Error | null) => void): void {
    this.confirmLeadership(done);
  }
}

describe('LockService: the bound on keepalives waiting for a confirmation', () => {
  it('refuses the keepalive past 100,000 waiting as overloaded, answered on a later turn, and confirms the rest', () => {
    const sched = new TestScheduler();
    const host = new FakeHost();
    const svc = new ConfirmingService({ logger: SILENT, maxWaiters: 1, expiryCheckMs: 10, clock: { wallMs: () => 0, monotonicMs: () => sched.nowMs }, scheduler: sched });
    svc.attach(host as unknown as RaftHost);
    let confirmed = 0;
    const refusals: unknown[] = [];
    svc.confirm(() => confirmed++); // starts a round: it no longer waits
    for (let i = 0; i < 100_000; i++) svc.confirm(() => confirmed++);
    svc.confirm((err) => refusals.push(err));
    expect(refusals).toEqual([]); // never answered inside the call
    sched.runDeferred();
    expect(refusals).toMatchObject([{ code: 'overloaded', message: 'the keepalive confirmations is full; retry later' }]);
    expect(host.reads).toHaveLength(1);
    host.reads.shift()!.done(null);
    expect(confirmed).toBe(1);
    sched.fireOnce();
    host.reads.shift()!.done(null);
    expect(confirmed).toBe(100_001);
    expect(refusals).toHaveLength(1);
  });
});

describe('LockService: expiry proposals', () => {
  /** leaderWithLease leads term 2 at table time 1,000 with a hold of x that ends at 1,100. */
  function leaderWithLease(): Rig {
    const r = rig();
    r.apply(1_000, acquire('a', 100));
    r.lead(2);
    return r;
  }

  it('proposes expire exactly when table time reaches the earliest deadline, stamped with that time', () => {
    const r = leaderWithLease();
    r.sched.nowMs = 99;
    r.sched.fireRepeating();
    expect(r.pending()).toEqual([]);
    r.sched.nowMs = 100;
    r.sched.fireRepeating();
    expect(r.pending()).toEqual([{ timeMs: 1_100, command: { type: 'expire' } }]);
    expect(r.svc.counters.expireProposals).toBe(1);
    expect(r.commit().result).toEqual({ ok: true, holdsExpired: 1, sessionsExpired: 0, waitersTimedOut: 0 });
    r.sched.nowMs = 1_000;
    r.sched.fireRepeating();
    expect(r.pending()).toEqual([]); // nothing left to expire
  });

  it('keeps one expire in flight; after it is answered, even with an error, the next check may propose again', () => {
    const r = leaderWithLease();
    r.sched.nowMs = 200;
    r.sched.fireRepeating();
    r.sched.fireRepeating();
    expect(r.pending()).toHaveLength(1);
    r.host.proposals.shift()!.done(new Error('proposal timed out'));
    r.sched.fireRepeating();
    expect(r.pending()).toEqual([{ timeMs: 1_200, command: { type: 'expire' } }]);
    expect(r.svc.counters.expireProposals).toBe(2);
  });

  it('a term\'s no-op runs the expiry check at once: its first step, the session reset, is proposed before any timer', () => {
    const r = rig();
    r.apply(1_000, acquire('a', 100));
    r.host.term = 2;
    r.svc.applyTermStart(2);
    expect(r.pending()).toEqual([{ timeMs: 1_000, command: { type: 'restartSessionLeases' } }]);
    // Once the reset applied, the next check proposes the expiry of what is due.
    r.commit();
    r.sched.nowMs = 150;
    r.sched.fireRepeating();
    expect(r.pending()).toEqual([{ timeMs: 1_150, command: { type: 'expire' } }]);
  });

  it('proposes no expiry as a follower, without a base, or while a deposed term\'s expire is still unanswered', () => {
    const r = leaderWithLease();
    r.sched.nowMs = 200;
    r.host.leader = false;
    r.sched.fireRepeating();
    expect(r.pending()).toEqual([]);
    r.host.leader = true;
    r.host.term = 3; // leads a later term whose no-op has not applied: no base
    r.sched.fireRepeating();
    expect(r.pending()).toEqual([]);
    r.host.term = 2;
    r.sched.fireRepeating();
    expect(r.pending()).toHaveLength(1);
    // Losing leadership clears the in-flight mark: the next term's leader checks afresh.
    r.svc.onSoftState(FOLLOWING);
    r.host.proposals.length = 0;
    r.host.term = 5;
    r.svc.applyTermStart(5);
    r.commit(); // the reset
    r.sched.nowMs = 300;
    r.sched.fireRepeating();
    expect(r.pending().map((p) => p.command.type)).toEqual(['expire']);
  });

  it('stops checking once detached', () => {
    const r = leaderWithLease();
    expect(r.sched.timers.size).toBe(1);
    expect([...r.sched.timers.values()][0]!.ms).toBe(10);
    r.svc.detach();
    expect(r.sched.timers.size).toBe(0);
  });
});

/** HookedExpiryTime answers the expiry check's table time from the test (the hook the simulation's broken variants override). */
class HookedExpiryTime extends LockService {
  expiryTimeMs: number | null = null;
  protected override tableTimeForExpiry(): number | null {
    return this.expiryTimeMs;
  }
}

describe('LockService: the expiry check\'s table time', () => {
  const hooked = (r: Rig): HookedExpiryTime => r.svc as HookedExpiryTime;

  it('proposes nothing while the table time for expiry is unknown, then expires at exactly the time the check used', () => {
    const r = rig({ create: (o) => new HookedExpiryTime(o) });
    r.apply(1_000, acquire('a', 100));
    hooked(r).expiryTimeMs = 1_000; // the term's no-op proposes the session reset
    r.lead(2);
    hooked(r).expiryTimeMs = null;
    r.sched.nowMs = 500;
    r.sched.fireRepeating();
    expect(r.pending()).toEqual([]);
    hooked(r).expiryTimeMs = 1_200;
    r.sched.fireRepeating();
    expect(r.pending()).toEqual([{ timeMs: 1_200, command: { type: 'expire' } }]);
  });

  it('proposes nothing, not even the session reset, on a leader whose term has no base, whatever time it is given', () => {
    // Only this term's keepalive state knows which sessions live in memory: without it nothing may expire.
    const r = rig({ create: (o) => new HookedExpiryTime(o) });
    r.apply(1_000, acquire('a', 100));
    r.host.term = 2;
    hooked(r).expiryTimeMs = 5_000;
    r.sched.fireRepeating();
    expect(r.pending()).toEqual([]);
  });
});

describe('LockService: before it is attached', () => {
  it('reads table time and session expiries from its table', () => {
    const svc = new LockService({ logger: SILENT, maxWaiters: 1, expiryCheckMs: 10, clock: { wallMs: () => 0, monotonicMs: () => 0 }, scheduler: new TestScheduler() });
    svc.applyEntry(encodeCommand(2_000, { type: 'createSession', sessionId: 's', ttlMs: 1_000 }), 1);
    expect(svc.tableNowMs()).toBe(2_000);
    expect(svc.sessionExpiresAtMs('s')).toBe(3_000);
    expect(svc.sessionExpiresAtMs('t')).toBeNull();
  });

  it('applies a replayed term start without taking a base (the host applies committed entries while it starts)', () => {
    // start-node.ts attaches the service after host.start(), whose first Ready may apply committed entries.
    const svc = new LockService({ logger: SILENT, maxWaiters: 1, expiryCheckMs: 10, clock: { wallMs: () => 0, monotonicMs: () => 0 }, scheduler: new TestScheduler() });
    svc.applyTermStart(1);
    expect(svc.counters.leaseTimeBases).toBe(0);
  });
});

describe('LockService: long-poll registrations', () => {
  it('refuses a second registration of one id and any past maxWaiters; a stale leave removes nothing', () => {
    const r = rig({ maxWaiters: 2 });
    const leave = r.svc.registerWaiter('w', () => {});
    expect(leave).not.toBeNull();
    expect(r.svc.registerWaiter('w', () => {})).toBeNull();
    expect(r.svc.registerWaiter('v', () => {})).not.toBeNull();
    expect(r.svc.registerWaiter('u', () => {})).toBeNull();
    leave!();
    const heard: string[] = [];
    expect(r.svc.registerWaiter('w', (e) => heard.push(e.kind))).not.toBeNull();
    leave!();
    r.apply(1_000, acquire('a', 10_000));
    r.apply(1_000, acquire('b', 10_000, { waitMs: 5_000, requestId: 'w' }));
    r.apply(1_000, { type: 'release', name: 'x', owner: 'a', token: 1 });
    expect(heard).toEqual(['granted']);
  });
});

describe('LockService: snapshots', () => {
  it('encodes in slices of the configured number of records, and a restore resets the watches to its index', () => {
    const one = rig({ snapshotStepRecords: 1 });
    const many = rig();
    for (const r of [one, many]) for (let i = 1; i <= 4; i++) r.apply(1_000, { type: 'createSession', sessionId: `s${i}`, ttlMs: 60_000 });
    const steps = (r: Rig): number => {
      const enc = r.svc.snapshotEncoder();
      for (let n = 1; n <= 50; n++) if (enc.step() !== null) return n;
      throw new Error('the encoding did not end');
    };
    expect(steps(one)).toBeGreaterThan(steps(many));
    const restored = rig();
    restored.svc.restore(many.svc.snapshot());
    expect(restored.svc.lockTable.appliedIndex).toBe(4);
    expect(restored.svc.watches.indexOf('x')).toBe(4);
    expect(restored.svc.stats()).toEqual(many.svc.stats());
  });
});
