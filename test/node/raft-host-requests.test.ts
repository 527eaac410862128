import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, bootstrapConfig } from '../../src/raft/index.js';
import { NoPeers, completeWrites, leaderHost, leaderOfThree, runWithN2, startedHost } from './raft-host-harness.js';

/**
 * The real RaftHost's edges, one step at a time (test/node/raft-host-harness.ts): starting and stopping, a fatal
 * error, proposals, reads and leadership transfer as its callers see them.
 */

const code = (err: unknown): string | undefined => (err as { code?: string } | null)?.code;

describe('RaftHost start and stop', () => {
  it('start ticks at tickMs, tells the transport the other members, and resolves with the peer port it bound', async () => {
    const { host, scheduler, transport } = startedHost(['n1', 'n2', 'n3'], { unstarted: true });
    expect(scheduler.everyMs).toEqual([]);
    await expect(host.start()).resolves.toEqual({ peerPort: NoPeers.PORT });
    expect(scheduler.everyMs).toEqual([10]);
    expect(transport.peerSets).toEqual([['n2', 'n3']]);
  });

  it('handles nothing before it starts: a message that arrives earlier is stepped but no Ready runs until start', () => {
    const { host, scheduler, store, transport } = startedHost(['n1', 'n2', 'n3'], { unstarted: true });
    transport.handlers!.onMessage({ type: 'append', from: 'n2', to: 'n1', term: 4, prevLogIndex: 0, prevLogTerm: 0, entries: [], commit: 0 });
    scheduler.drain();
    expect(store.saves).toEqual([]);
    void host.start();
    scheduler.drain();
    expect(store.saves.map((w) => w.batch.hardState)).toMatchObject([{ term: 4 }]);
  });

  it('stop cancels the tick timer, closes the transport and the store; a message after it changes nothing', async () => {
    const { host, scheduler, store, transport } = startedHost(['n1', 'n2', 'n3']);
    expect(scheduler.repeatingTimers).toBe(1);
    await host.stop();
    expect(scheduler.repeatingTimers).toBe(0);
    expect(transport.closed).toBe(true);
    expect(store.closed).toBe(true);
    transport.handlers!.onMessage({ type: 'append', from: 'n2', to: 'n1', term: 4, prevLogIndex: 0, prevLogTerm: 0, entries: [], commit: 0 });
    scheduler.drain();
    expect(host.term).toBe(0);
    expect(store.saves).toEqual([]);
  });

  it('once stopped, an entry that committed just before is not applied by the wake-up already scheduled', async () => {
    const { host, scheduler, store, app } = leaderHost();
    host.submit(new Uint8Array([1]), () => {});
    scheduler.drain();
    // The write completes: the entry commits, and its applying is deferred to the next turn, which comes after stop.
    store.saves.shift()!.done(null);
    const stopped = host.stop();
    scheduler.drain();
    await stopped;
    expect(app.applied).toEqual([]);
  });
});

describe('RaftHost screening peers (thesis §4.2.3)', () => {
  it('a campaign from a server that is not a member never reaches the core: no new term, no write, no answer', () => {
    const { host, scheduler, store, transport } = startedHost(['n1', 'n2', 'n3']);
    transport.handlers!.onMessage({ type: 'vote', from: 'n9', to: 'n1', term: 7, lastLogIndex: 9, lastLogTerm: 7, transfer: true });
    scheduler.drain();
    expect(host.term).toBe(0);
    expect(store.saves).toEqual([]);
    expect(transport.sent).toEqual([]);
    expect(host.membershipView()).toMatchObject({ droppedFromNonMembers: 1 });
  });
});

describe('RaftHost reports from the transport', () => {
  it('a send the transport reports failed puts that peer back to probing: one append at a time until it answers', () => {
    const sentToN2 = (unreachable: boolean): number => {
      const started = leaderOfThree();
      const { host, scheduler, store, transport } = started;
      runWithN2(started, () => host.replicationLag().get('n2') === 0);
      if (unreachable) transport.handlers!.onUnreachable('n2');
      const before = transport.sent.length;
      for (let i = 0; i < 3; i++) {
        host.submit(new Uint8Array([i + 1]), () => {});
        scheduler.drain();
        completeWrites(store, scheduler);
      }
      return transport.sent.slice(before).filter((m) => m.type === 'append' && m.to === 'n2').length;
    };
    expect(sentToN2(false)).toBe(3);
    expect(sentToN2(true)).toBe(1);
  });

  it('stop after a fatal error closes cleanly', async () => {
    const { host, scheduler, store, fatal } = leaderHost();
    host.submit(new Uint8Array([1]), () => {});
    scheduler.drain();
    store.saves.shift()!.done(new Error('disk full'));
    expect(fatal).toHaveLength(1);
    await expect(host.stop()).resolves.toBeUndefined();
    expect(store.closed).toBe(true);
  });
});

describe('RaftHost refusals name their cause', () => {
  it('shutting down, a full proposal queue, a full read queue: each answer says which', async () => {
    const started = leaderOfThree({ limits: { maxPendingReads: 1 } });
    const { host, scheduler } = started;
    const answers: string[] = [];
    const record = (err: Error | null): void => {
      answers.push(`${code(err)}: ${err?.message}`);
    };
    for (let i = 0; i <= 100; i++) host.submit(new Uint8Array([1]), (err) => i === 100 && record(err));
    host.requestRead(1_000, () => {});
    host.requestRead(1_000, record);
    scheduler.drain();
    expect(answers).toEqual(['overloaded: the proposal queue is full; retry later', 'overloaded: the read queue is full; retry later']);
    // Stopping refuses what comes after.
    completeWrites(started.store, scheduler);
    await host.stop();
    host.submit(new Uint8Array([1]), record);
    host.requestRead(1_000, record);
    scheduler.drain();
    expect(answers.slice(2)).toEqual(['shutting_down: the node is shutting down', 'shutting_down: the node is shutting down']);
  });

  it('stop answers a pending read shutting_down, saying so', async () => {
    const { host, scheduler } = leaderOfThree();
    const reads: string[] = [];
    host.requestRead(1_000, (err) => reads.push(`${code(err)}: ${err?.message}`));
    scheduler.drain();
    await host.stop();
    expect(reads).toEqual(['shutting_down: the node is shutting down']);
  });
});

describe('RaftHost fatal errors', () => {
  it('a fatal error cancels the tick timer and stops the loop; without an onFatal callback it is not thrown either', () => {
    const { host, scheduler, store } = leaderHost({ noOnFatal: true });
    host.submit(new Uint8Array([1]), () => {});
    scheduler.drain();
    expect(() => store.saves.shift()!.done(new Error('disk full'))).not.toThrow();
    expect(scheduler.repeatingTimers).toBe(0);
    host.submit(new Uint8Array([2]), () => {});
    scheduler.tick(3);
    expect(store.saves).toEqual([]);
  });

  it('a throw inside a peer\'s callback is fatal: the message is not acted on further', () => {
    const { scheduler, store, transport, fatal } = startedHost(['n1', 'n2', 'n3']);
    // A snapshot message without data breaks the core's rule that the transport attaches it: an invariant throws.
    transport.handlers!.onMessage({ type: 'snapshot', from: 'n2', to: 'n1', term: 3, meta: { index: 5, term: 3, config: bootstrapConfig(['n1', 'n2', 'n3']) }, data: null });
    scheduler.drain();
    expect(fatal).toHaveLength(1);
    expect(store.saves).toEqual([]);
  });
});

describe('RaftHost proposals, as their callers see them', () => {
  it('propose resolves with the app\'s result once applied, and rejects with the refusal on a follower', async () => {
    const { host, scheduler, store } = leaderHost();
    const result = host.propose(new Uint8Array([9]));
    scheduler.drain();
    completeWrites(store, scheduler);
    await expect(result).resolves.toBe('result of 2');
    const follower = startedHost(['n1', 'n2', 'n3']);
    const refused = follower.host.propose(new Uint8Array([9]));
    follower.scheduler.drain();
    await expect(refused).rejects.toMatchObject({ code: 'not_leader' });
  });
});

describe('RaftHost configuration changes (thesis §4.1)', () => {
  it('tells the transport of a new learner in the call that proposes it, while the leader\'s write is still in flight', () => {
    const { host, scheduler, transport } = leaderHost();
    host.submit(new Uint8Array([1]), () => {});
    scheduler.drain();
    const told = transport.peerSets.length;
    host.proposeConfChange({ type: 'addLearner', id: 'n2', peerAddress: '127.0.0.1:1', httpUrl: 'http://127.0.0.1:2' }, () => {});
    expect(transport.peerSets.slice(told)).toEqual([['n2']]);
  });
});

describe('RaftHost reads (ReadIndex, thesis §6.4)', () => {
  it('answers several reads pending at once, each once, after what committed before them applied', async () => {
    const { host, scheduler, store } = leaderHost();
    host.submit(new Uint8Array([1]), () => {});
    scheduler.drain();
    const reads: (string | null)[] = [];
    host.requestRead(1_000, (err) => reads.push(err === null ? 'ok' : (code(err) ?? err.message)));
    host.requestRead(1_000, (err) => reads.push(err === null ? 'ok' : (code(err) ?? err.message)));
    const barrier = host.readBarrier(1_000);
    scheduler.drain();
    expect(reads).toEqual([]);
    completeWrites(store, scheduler);
    expect(reads).toEqual(['ok', 'ok']);
    await expect(barrier).resolves.toBeUndefined();
    expect(host.appliedIndex).toBe(2);
  });

  it('a read accepted in the turn a node won its election, before the host noticed, is served, not refused', () => {
    const { host, scheduler, store } = startedHost(['n1']);
    for (let i = 0; i < 4 * DEFAULT_LIMITS.electionTicks && !host.isLeader(); i++) {
      scheduler.tickOnly();
      if (!host.isLeader()) completeWrites(store, scheduler);
    }
    expect(host.isLeader()).toBe(true);
    const reads: (string | null)[] = [];
    host.requestRead(1_000, (err) => reads.push(err?.message ?? 'ok'));
    scheduler.drain();
    completeWrites(store, scheduler);
    expect(reads).toEqual(['ok']);
  });

  it('refuses a read past the read queue\'s bound as overloaded, and one on a follower as not_leader', async () => {
    const started = leaderOfThree({ limits: { maxPendingReads: 1 } });
    const { host, scheduler } = started;
    const reads: (string | undefined)[] = [];
    host.requestRead(1_000, (err) => reads.push(code(err)));
    host.requestRead(1_000, (err) => reads.push(code(err)));
    scheduler.drain();
    expect(reads).toEqual(['overloaded']);
    const follower = startedHost(['n1', 'n2', 'n3']);
    const refused = follower.host.readBarrier(1_000);
    follower.scheduler.drain();
    await expect(refused).rejects.toMatchObject({ code: 'not_leader' });
  });

  it('a read that times out names no leader while this node still leads, and the new leader once it lost the office', () => {
    const started = leaderOfThree();
    const { host, scheduler, transport } = started;
    const messages: string[] = [];
    host.requestRead(1_000, (err) => messages.push(err?.message ?? 'ok'));
    scheduler.drain();
    scheduler.fireTimers();
    expect(messages).toEqual(['no leader is known']);
    host.requestRead(1_000, (err) => messages.push(err?.message ?? 'ok'));
    scheduler.drain();
    // n2 leads term 9: n1 follows it, and the read's timer runs before the loop does (the read on a leadership n1
    // lost is answered either way; the timer's answer names the leader).
    transport.handlers!.onMessage({ type: 'append', from: 'n2', to: 'n1', term: 9, prevLogIndex: 0, prevLogTerm: 0, entries: [], commit: 0 });
    expect(host.leader).toBe('n2');
    scheduler.fireTimers();
    expect(messages).toEqual(['no leader is known', 'not leader; the leader is n2']);
  });
});

describe('RaftHost leadership changes', () => {
  it('a leader that steps down in its own term (check quorum, thesis §6.2) answers its pending reads not_leader at once', () => {
    const started = leaderOfThree();
    const { host, scheduler, store } = started;
    const term = host.term;
    const reads: (string | null)[] = [];
    host.requestRead(60_000, (err) => reads.push(err?.message ?? 'ok'));
    // n2 falls silent: within two election timeouts the leader has not heard a majority and steps down, same term.
    for (let i = 0; i < 2 * DEFAULT_LIMITS.electionTicks && host.isLeader(); i++) {
      scheduler.tick(1);
      completeWrites(store, scheduler);
    }
    expect(host.role).toBe('follower');
    expect(host.term).toBe(term);
    expect(reads).toEqual(['no leader is known']);
  });

  it('tells onSoftState each change of role, leader or term once, and counts each new known leader once', () => {
    const seen: string[] = [];
    const started = leaderOfThree({ onSoftState: (s) => seen.push(`${s.role}/${s.leader}/${s.term}`) });
    const { host, scheduler, store, transport } = started;
    runWithN2(started, () => host.appliedIndex >= 1);
    scheduler.tick(5);
    completeWrites(store, scheduler);
    expect(seen).toEqual(['preCandidate/null/0', 'candidate/null/1', 'leader/n1/1']);
    expect(host.stats.leaderChanges).toBe(1);
    // n2 takes over at term 3: one change, one more leader.
    transport.handlers!.onMessage({ type: 'append', from: 'n2', to: 'n1', term: 3, prevLogIndex: 0, prevLogTerm: 0, entries: [], commit: 0 });
    scheduler.drain();
    completeWrites(store, scheduler);
    transport.handlers!.onMessage({ type: 'heartbeat', from: 'n2', to: 'n1', term: 3, commit: 0, context: null });
    scheduler.drain();
    completeWrites(store, scheduler);
    expect(seen.slice(3)).toEqual(['follower/n2/3']);
    expect(host.stats.leaderChanges).toBe(2);
    // Campaigns of terms 4 and 5 by n3: the term alone changes the second time; no leader is known, none counted.
    for (const term of [4, 5]) {
      transport.handlers!.onMessage({ type: 'vote', from: 'n3', to: 'n1', term, lastLogIndex: 0, lastLogTerm: 0, transfer: true });
      scheduler.drain();
      completeWrites(store, scheduler);
    }
    expect(seen.slice(4)).toEqual(['follower/null/4', 'follower/null/5']);
    expect(host.stats.leaderChanges).toBe(2);
  });
});

describe('RaftHost leadership transfer (thesis §3.10)', () => {
  it('a transfer to an up-to-date voter sends TimeoutNow in the same turn; one to a non-member is refused', () => {
    const started = leaderOfThree();
    const { host, scheduler, transport } = started;
    runWithN2(started, () => host.replicationLag().get('n2') === 0);
    expect(host.transferLeadership('n9')).toBe(false);
    const before = transport.sent.length;
    expect(host.transferLeadership('n2')).toBe(true);
    scheduler.drain();
    expect(transport.sent.slice(before).map((m) => [m.type, m.to])).toContainEqual(['timeoutNow', 'n2']);
  });
});
