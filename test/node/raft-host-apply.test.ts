import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, bootstrapConfig, type Entry, type Message } from '../../src/raft/index.js';
import type { HostProbe } from '../../src/node/raft-host.js';
import { completeWrites, decodeIndex, encodeIndex, leaderHost, leaderOfThree, runWithN2, startedHost, type HeldStore, type StepScheduler } from './raft-host-harness.js';

/**
 * How the real RaftHost applies committed entries, takes and installs snapshots and compacts, one step at a time
 * (test/node/raft-host-harness.ts): entries apply once each, in log order (Raft §5.3, the state machine safety
 * property), and answer their proposers only then; a snapshot is the table at exactly its index (Raft §7), so
 * entries that commit while it is encoded in slices wait, and then apply a slice per turn.
 */

const VOTERS = ['n1', 'n2', 'n3'];

/** entries are the leader n2's entries from..to of term 2: its no-op at index 1, then one-byte commands. */
function entries(from: number, to: number): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++) out.push({ index, term: 2, type: 'normal', data: index === 1 ? new Uint8Array(0) : new Uint8Array([index]) });
  return out;
}

/** append is leader n2's append to n1 in term 2 of the entries after `prevLogIndex` up to `last`, committing `commit`. */
function append(prevLogIndex: number, last: number, commit: number): Message {
  const prevLogTerm = prevLogIndex === 0 ? 0 : 2;
  return { type: 'append', from: 'n2', to: 'n1', term: 2, prevLogIndex, prevLogTerm, entries: entries(prevLogIndex + 1, last), commit };
}

/** leaderSnapshot is leader n2's snapshot message of its table at `index` (term 2). */
function leaderSnapshot(index: number): Message {
  return { type: 'snapshot', from: 'n2', to: 'n1', term: 2, meta: { index, term: 2, config: bootstrapConfig(VOTERS) }, data: encodeIndex(index) };
}

type Answer = { err: string | null; result?: unknown };

/** proposeAll submits one entry per value on the leader and records each answer. */
function proposeAll(host: ReturnType<typeof leaderHost>['host'], count: number, answers: Answer[]): void {
  for (let i = 0; i < count; i++) {
    host.submit(new Uint8Array([i + 1]), (err, result) => answers.push(err === null ? { err: null, result } : { err: (err as { code?: string }).code ?? err.message }));
  }
}

/** untilStored runs turns until the snapshot being encoded in slices is stored (bounded by the encoder's steps). */
function untilStored(store: HeldStore, scheduler: StepScheduler): void {
  for (let i = 0; i <= 1_000 && store.snapshots.length === 0; i++) scheduler.turns(1);
  if (store.snapshots.length === 0) throw new Error('the snapshot was never stored');
}

/** settle runs a few turns (not enough to finish an encoding of many steps) completing each write as it comes. */
function settle(store: HeldStore, scheduler: StepScheduler, turns = 4): void {
  for (let i = 0; i < turns; i++) {
    scheduler.turns(1);
    while (store.saves.length > 0) store.saves.shift()!.done(null);
  }
}

describe('RaftHost applying: a snapshot encoded in slices holds back what commits meanwhile', () => {
  it('the snapshot is the table at exactly its index; entries that commit meanwhile wait, then apply in log order, a slice a turn, and answer only then', () => {
    const { host, scheduler, store, app, fatal } = leaderHost({ snapshotEveryEntries: 4, encoderSteps: 1_000, heldApplySliceEntries: 2 });
    const answers: Answer[] = [];
    // The leader's no-op is index 1; three entries make 4, the first snapshot index of this single voter.
    proposeAll(host, 3, answers);
    settle(store, scheduler);
    expect(app.applied).toEqual([2, 3, 4]);
    expect(answers.map((a) => a.result)).toEqual(['result of 2', 'result of 3', 'result of 4']);
    expect(store.snapshots).toEqual([]);
    // Encoding in slices now: five more entries commit, none applies or is answered.
    proposeAll(host, 5, answers);
    settle(store, scheduler);
    expect(host.commitIndex).toBe(9);
    expect(app.applied).toEqual([2, 3, 4]);
    expect(host.appliedIndex).toBe(4);
    expect(answers).toHaveLength(3);
    // The encoding ends: the snapshot holds the table at 4, then the held entries apply two per turn.
    untilStored(store, scheduler);
    expect(store.snapshots.map((s) => [s.snapshot.meta.index, decodeIndex(s.snapshot.data)])).toEqual([[4, 4]]);
    expect(app.applied).toEqual([2, 3, 4, 5, 6]);
    expect(answers).toHaveLength(5);
    scheduler.turns(1);
    expect(app.applied).toEqual([2, 3, 4, 5, 6, 7, 8]);
    scheduler.turns(1);
    expect(app.applied).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(host.appliedIndex).toBe(9);
    expect(answers.map((a) => a.result)).toEqual([2, 3, 4, 5, 6, 7, 8, 9].map((i) => `result of ${i}`));
    // Applying as they commit again: the next entry applies at once.
    proposeAll(host, 1, answers);
    scheduler.drain();
    completeWrites(store, scheduler);
    expect(app.applied.at(-1)).toBe(10);
    expect(fatal).toEqual([]);
  });
});

describe('RaftHost applying: the bound on held-back entries', () => {
  it('past 50,000 held entries the snapshot is finished at once and every held entry applies, in order, during the encoding or its slices', () => {
    const { host, scheduler, store, transport, app, fatal } = startedHost(VOTERS, { snapshotEveryEntries: 4, encoderSteps: 1_000 });
    const deliver = (m: Message): void => {
      transport.handlers!.onMessage(m);
      settle(store, scheduler);
    };
    const heartbeat = (commit: number): Message => ({ type: 'heartbeat', from: 'n2', to: 'n1', term: 2, commit, context: null });
    deliver(append(0, 4, 4));
    deliver(heartbeat(4));
    // Encoding the snapshot at 4 in slices: 50,006 entries commit meanwhile, past the bound.
    deliver(append(4, 50_010, 50_010));
    expect(store.snapshots.map((s) => s.snapshot.meta.index)).toEqual([4]);
    expect(host.appliedIndex).toBe(50_010);
    store.snapshots.shift()!.done(null);
    deliver(heartbeat(50_010));
    // The next snapshot (at 50,010): 40,000 entries held while it is encoded, a slice applied once it is done,
    // then 20,000 more commit while the rest wait for their slices: past the bound, all apply at once.
    deliver(append(50_010, 90_010, 90_010));
    expect(host.appliedIndex).toBe(50_010);
    untilStored(store, scheduler);
    expect(store.snapshots.map((s) => s.snapshot.meta.index)).toEqual([50_010]);
    expect(host.appliedIndex).toBeLessThan(60_010);
    deliver(append(90_010, 110_010, 110_010));
    expect(host.appliedIndex).toBe(110_010);
    expect(app.applied).toHaveLength(110_009);
    expect(app.applied.every((index, i) => index === i + 2)).toBe(true);
    expect(fatal).toEqual([]);
  });
});

describe('RaftHost installing a leader\'s snapshot (Raft §7)', () => {
  it('takes no snapshot of its own behind a leader\'s snapshot that arrived while a write was in flight', () => {
    const { host, scheduler, store, transport, app, fatal } = startedHost(VOTERS, { snapshotEveryEntries: 4 });
    transport.handlers!.onMessage(append(0, 6, 4));
    settle(store, scheduler);
    expect(app.applied).toEqual([2, 3, 4]);
    // A write of new entries is in flight when the leader's snapshot at 10 arrives; then that write completes.
    transport.handlers!.onMessage(append(6, 8, 4));
    scheduler.turns(2);
    expect(store.saves).toHaveLength(1);
    transport.handlers!.onMessage(leaderSnapshot(10));
    scheduler.turns(2);
    store.saves.shift()!.done(null);
    settle(store, scheduler);
    expect(fatal).toEqual([]);
    expect(store.snapshots).toEqual([]);
    expect(app.restored).toEqual([10]);
    expect(host.appliedIndex).toBe(10);
  });

  it('while its own snapshot is encoded in slices: finishes it, applies every held entry in order, then replaces the table', () => {
    const { host, scheduler, store, transport, app, fatal } = startedHost(VOTERS, { snapshotEveryEntries: 4, encoderSteps: 1_000, heldApplySliceEntries: 2 });
    const deliver = (m: Message): void => {
      transport.handlers!.onMessage(m);
      settle(store, scheduler);
    };
    deliver(append(0, 6, 4));
    expect(app.termStarts).toEqual([1]);
    expect(app.applied).toEqual([2, 3, 4]);
    // The next Ready (a heartbeat's answer) starts this member's snapshot at 4, encoded in slices.
    deliver({ type: 'heartbeat', from: 'n2', to: 'n1', term: 2, commit: 4, context: null });
    deliver(append(6, 8, 8));
    expect(host.commitIndex).toBe(8);
    expect(app.applied).toEqual([2, 3, 4]);
    expect(store.snapshots).toEqual([]);
    deliver(leaderSnapshot(10));
    expect(fatal).toEqual([]);
    // Its own snapshot was finished at its index, the held entries applied before the table was replaced.
    expect(store.snapshots.map((s) => [s.snapshot.meta.index, decodeIndex(s.snapshot.data)])).toEqual([[4, 4]]);
    expect(app.applied).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(app.restored).toEqual([10]);
    expect(host.appliedIndex).toBe(10);
    expect(host.stats.snapshotsInstalled).toBe(1);
    expect(host.firstIndex).toBe(11);
    // Its own older snapshot becomes durable after the install: the log is not compacted back to it.
    store.snapshots.shift()!.done(null);
    settle(store, scheduler);
    expect(host.stats.snapshotsTaken).toBe(0);
    expect(host.firstIndex).toBe(11);
    // The next entry applies on top of the installed table.
    deliver({ type: 'append', from: 'n2', to: 'n1', term: 2, prevLogIndex: 10, prevLogTerm: 2, entries: entries(11, 11), commit: 11 });
    expect(app.applied.at(-1)).toBe(11);
    expect(host.appliedIndex).toBe(11);
    expect(fatal).toEqual([]);
  });
});

describe('RaftHost sending a snapshot to a member whose entries are compacted (Raft §7)', () => {
  it('attaches the snapshot it holds, or a newer one stored since the core queued the message', () => {
    const started = leaderOfThree({ snapshotEveryEntries: 4 });
    const { host, scheduler, store, transport, fatal } = started;
    const answers: Answer[] = [];
    proposeAll(host, 3, answers);
    runWithN2(started, () => store.snapshots.length > 0);
    expect(store.snapshots[0]!.snapshot.meta.index).toBe(4);
    store.snapshots.shift()!.done(null);
    scheduler.drain();
    expect(host.firstIndex).toBe(5);
    expect(host.stats.snapshotsTaken).toBe(1);
    const rejectFromN3 = (): void =>
      transport.handlers!.onMessage({ type: 'appendResponse', from: 'n3', to: 'n1', term: host.term, reject: true, index: 0, hintIndex: 0, hintTerm: 0 });
    const snapshotsToN3 = (): [number, number][] =>
      transport.sent.flatMap((m) => (m.type === 'snapshot' && m.to === 'n3' ? [[m.meta.index, m.data === null ? -1 : decodeIndex(m.data)] as [number, number]] : []));
    // n3 has nothing: the leader sends it the snapshot at 4, with the data it stored.
    rejectFromN3();
    scheduler.drain();
    expect(snapshotsToN3()).toEqual([[4, 4]]);
    transport.handlers!.onSnapshotSent('n3', false);
    // The next snapshot (at 8) is still being written when n3 asks again, and becomes durable before the loop runs:
    // the message the core queued names 4, and goes out with the newer snapshot at 8.
    proposeAll(host, 4, answers);
    runWithN2(started, () => store.snapshots.length > 0);
    scheduler.tick(DEFAULT_LIMITS.electionTicks);
    rejectFromN3();
    store.snapshots.shift()!.done(null);
    scheduler.drain();
    expect(host.firstIndex).toBe(9);
    expect(snapshotsToN3()).toEqual([[4, 4], [8, 8]]);
    expect(fatal).toEqual([]);
  });
});

/** recordingProbe records which entries the host applied and which proposals it reported acknowledged. */
function recordingProbe() {
  const applied: number[] = [];
  const acked: [number, number][] = [];
  const probe: HostProbe = {
    onReady() {},
    onApplied: (entry) => applied.push(entry.index),
    onSnapshotInstalled() {},
    onReadRequested() {},
    onProposalAcked: (index, term) => acked.push([index, term]),
  };
  return { probe, applied, acked };
}

describe('RaftHost applying: each entry once, in order, answering only its own proposers', () => {
  it('an entry that a follower\'s acknowledgement commits is applied and answered while the leader\'s next write still syncs', () => {
    const started = leaderOfThree();
    const { host, scheduler, store, transport, app } = started;
    const answers: Answer[] = [];
    proposeAll(host, 1, answers);
    scheduler.drain();
    const index = host.lastIndex;
    completeWrites(store, scheduler);
    expect(answers).toEqual([]);
    // The next proposal's write is in flight when n2 acknowledges the first entry: a majority holds it.
    proposeAll(host, 1, answers);
    scheduler.drain();
    expect(store.saves).toHaveLength(1);
    transport.handlers!.onMessage({ type: 'appendResponse', from: 'n2', to: 'n1', term: host.term, reject: false, index, hintIndex: 0, hintTerm: 0 });
    scheduler.drain();
    expect(store.saves).toHaveLength(1);
    expect(app.applied).toEqual([index]);
    expect(answers).toEqual([{ err: null, result: `result of ${index}` }]);
    // Nothing is ever handed to the transport as an empty batch.
    expect(transport.batches.filter((b) => b.length === 0)).toEqual([]);
  });

  it('reports acknowledged only the proposals made here, each once with its index and term; a follower acknowledges none', () => {
    const { probe, applied, acked } = recordingProbe();
    const leader = leaderHost({ probe });
    const answers: Answer[] = [];
    proposeAll(leader.host, 2, answers);
    leader.scheduler.drain();
    completeWrites(leader.store, leader.scheduler);
    expect(applied).toEqual([1, 2, 3]);
    expect(acked).toEqual([[2, leader.host.term], [3, leader.host.term]]);
    const follower = recordingProbe();
    const started = startedHost(VOTERS, { probe: follower.probe });
    started.transport.handlers!.onMessage(append(0, 3, 3));
    settle(started.store, started.scheduler);
    expect(follower.applied).toEqual([1, 2, 3]);
    expect(follower.acked).toEqual([]);
  });

  it('a configuration entry answers its proposer with the configuration and is neither a command nor a term start to the app', () => {
    const { host, scheduler, store, app, fatal } = leaderHost();
    const answers: Answer[] = [];
    host.proposeConfChange({ type: 'addLearner', id: 'n2', peerAddress: '127.0.0.1:1', httpUrl: 'http://127.0.0.1:2' }, (err, result) =>
      answers.push(err === null ? { err: null, result } : { err: err.message }),
    );
    scheduler.drain();
    completeWrites(store, scheduler);
    expect(answers).toHaveLength(1);
    expect(answers[0]!.result).toMatchObject({ voters: ['n1'], learners: ['n2'] });
    expect(app.applied).toEqual([]);
    expect(app.termStarts).toEqual([1]);
    expect(fatal).toEqual([]);
  });
});

/** applyingHeldSlices is a leader whose snapshot at 4 was encoded in slices: of the 3 entries held meanwhile, one applied, two wait. */
function applyingHeldSlices() {
  const started = leaderHost({ snapshotEveryEntries: 4, encoderSteps: 1_000, heldApplySliceEntries: 1 });
  const { host, scheduler, store, app } = started;
  proposeAll(host, 3, []);
  settle(store, scheduler);
  proposeAll(host, 3, []);
  settle(store, scheduler);
  untilStored(store, scheduler);
  expect(app.applied).toEqual([2, 3, 4, 5]);
  return started;
}

describe('RaftHost snapshots: one at a time, stopped and failed cleanly', () => {
  it('takes no second snapshot while one is being written; the next is taken once the first is durable and compacted', () => {
    const { host, scheduler, store, fatal } = leaderHost({ snapshotEveryEntries: 2 });
    const answers: Answer[] = [];
    proposeAll(host, 1, answers);
    scheduler.drain();
    completeWrites(store, scheduler);
    expect(store.snapshots.map((s) => s.snapshot.meta.index)).toEqual([2]);
    proposeAll(host, 4, answers);
    scheduler.drain();
    completeWrites(store, scheduler);
    expect(host.appliedIndex).toBe(6);
    expect(store.snapshots.map((s) => s.snapshot.meta.index)).toEqual([2]);
    store.snapshots.shift()!.done(null);
    scheduler.drain();
    expect(host.firstIndex).toBe(3);
    // The next Ready takes it, at what is applied by then.
    proposeAll(host, 1, answers);
    scheduler.drain();
    completeWrites(store, scheduler);
    expect(store.snapshots.map((s) => s.snapshot.meta.index)).toEqual([6]);
    expect(fatal).toEqual([]);
  });

  it('once stopped, a snapshot in slices is not finished or stored, and no held entry applies', async () => {
    const { host, scheduler, store, app } = leaderHost({ snapshotEveryEntries: 4, encoderSteps: 5 });
    const answers: Answer[] = [];
    proposeAll(host, 3, answers);
    settle(store, scheduler);
    proposeAll(host, 2, answers);
    settle(store, scheduler, 2);
    expect(host.commitIndex).toBe(6);
    const stopped = host.stop();
    scheduler.drain();
    await stopped;
    expect(store.snapshots).toEqual([]);
    expect(app.applied).toEqual([2, 3, 4]);
    expect(answers.slice(3).map((a) => a.err)).toEqual(['outcome_unknown', 'outcome_unknown']);
  });

  it('starts no snapshot while held entries still wait for their slices, even once the last one is durable', () => {
    const { host, scheduler, store, app, fatal } = applyingHeldSlices();
    store.snapshots.shift()!.done(null);
    // Entry 8 commits (the next snapshot index) while 6 and 7 still wait for their turns.
    proposeAll(host, 1, []);
    settle(store, scheduler, 1);
    expect(host.commitIndex).toBe(8);
    expect(fatal).toEqual([]);
    expect(store.snapshots).toEqual([]);
    scheduler.drain();
    completeWrites(store, scheduler);
    expect(app.applied).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(fatal).toEqual([]);
  });

  it('snapshotting every entry, the next snapshot after a durable one is at the very next applied index', () => {
    const { host, scheduler, store } = leaderHost({ snapshotEveryEntries: 1 });
    const taken: number[] = [];
    for (let i = 0; i < 3; i++) {
      // The snapshot taken at the last Ready (the first: at the leader's no-op) is pending; it becomes durable.
      const stored = store.snapshots.shift()!;
      taken.push(stored.snapshot.meta.index);
      stored.done(null);
      scheduler.drain();
      expect(host.firstIndex).toBe(stored.snapshot.meta.index + 1);
      proposeAll(host, 1, []);
      scheduler.drain();
      completeWrites(store, scheduler);
    }
    expect(taken).toEqual([1, 2, 3]);
  });

  it('a table that fits in one slice is stored at once, and nothing is held back', () => {
    const { host, scheduler, store, app } = leaderHost({ snapshotEveryEntries: 4, encoderSteps: 0 });
    proposeAll(host, 3, []);
    scheduler.drain();
    completeWrites(store, scheduler);
    expect(store.snapshots.map((s) => [s.snapshot.meta.index, decodeIndex(s.snapshot.data)])).toEqual([[4, 4]]);
    expect(app.encoderStepsTaken).toBe(1);
    proposeAll(host, 2, []);
    scheduler.drain();
    completeWrites(store, scheduler);
    expect(app.applied).toEqual([2, 3, 4, 5, 6]);
  });

  it('once stopped, held entries still waiting for their slice are not applied', async () => {
    const { host, scheduler, app } = applyingHeldSlices();
    const stopped = host.stop();
    scheduler.drain();
    await stopped;
    expect(app.applied).toEqual([2, 3, 4, 5]);
  });

  it('a snapshot write that fails after the host stopped (its store closed) is not reported fatal', async () => {
    const { host, scheduler, store, fatal } = leaderHost({ snapshotEveryEntries: 2 });
    proposeAll(host, 1, []);
    scheduler.drain();
    completeWrites(store, scheduler);
    expect(store.snapshots).toHaveLength(1);
    await host.stop();
    store.snapshots.shift()!.done(new Error('store closed'));
    expect(fatal).toEqual([]);
  });

  it('a throw while encoding a slice is fatal, reported once, never an escaped exception', () => {
    const { host, scheduler, store, app, fatal } = leaderHost({ snapshotEveryEntries: 4, encoderSteps: 5 });
    proposeAll(host, 3, []);
    settle(store, scheduler, 2);
    const bug = new Error('encoder bug');
    app.failure = bug;
    expect(() => scheduler.drain()).not.toThrow();
    expect(fatal).toEqual([bug]);
    expect(store.snapshots).toEqual([]);
  });

  it('a throw while applying a held-back slice is fatal, reported once, never an escaped exception', () => {
    const { scheduler, app, fatal } = applyingHeldSlices();
    const bug = new Error('apply bug');
    app.failure = bug;
    expect(() => scheduler.drain()).not.toThrow();
    expect(fatal).toEqual([bug]);
    expect(app.applied).toEqual([2, 3, 4, 5]);
  });
});

describe('RaftHost sending a snapshot it does not hold', () => {
  it('never sends an older snapshot than the core asked for, nor none: it reports the send failed, and sends the next one it holds', () => {
    // The log was compacted to 5, but the host was handed no snapshot, or one at 3 (a store that lost the newer file).
    const durable = { hardState: { term: 1, vote: null, commit: 5 }, snapshotMeta: { index: 5, term: 1, config: bootstrapConfig(VOTERS) }, entries: [] };
    const older = { meta: { index: 3, term: 1, config: bootstrapConfig(VOTERS) }, data: encodeIndex(3) };
    for (const snapshot of [undefined, older]) {
      const started = leaderOfThree({ durable, snapshotEveryEntries: 8, ...(snapshot === undefined ? {} : { snapshot }) });
      const { host, scheduler, store, transport, fatal } = started;
      const before = transport.sent.length;
      const fromN3 = (m: Message): void => {
        transport.handlers!.onMessage(m);
        scheduler.drain();
        completeWrites(store, scheduler);
      };
      const heartbeatAnswer: Message = { type: 'heartbeatResponse', from: 'n3', to: 'n1', term: host.term, context: null };
      // n3 refuses the append after 5 that n1 sent it on taking office (it holds nothing), then answers a heartbeat.
      fromN3({ type: 'appendResponse', from: 'n3', to: 'n1', term: host.term, reject: true, index: 5, hintIndex: 0, hintTerm: 0 });
      fromN3(heartbeatAnswer);
      const toN3 = (): Message[] => transport.sent.slice(before).filter((m) => m.to === 'n3' && m.type !== 'heartbeat');
      // Reported failed, not delivered: nothing went out, and the leader does not go on with the entries after 5.
      expect(toN3()).toEqual([]);
      // Once the leader holds a snapshot of its own (at 8), the next attempt sends it.
      proposeAll(host, 2, []);
      runWithN2(started, () => store.snapshots.length > 0);
      store.snapshots.shift()!.done(null);
      scheduler.drain();
      fromN3(heartbeatAnswer);
      expect(toN3().map((m) => [m.type, m.type === 'snapshot' ? m.meta.index : null])).toEqual([['snapshot', 8]]);
      expect(fatal).toEqual([]);
    }
  });
});
