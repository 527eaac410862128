import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, bootstrapConfig, type Entry, type Message } from '../../src/raft/index.js';
import { completeWrites, decodeIndex, encodeIndex, leaderHost, startedHost, type HeldStore, type StepScheduler } from './raft-host-harness.js';

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
    for (let i = 0; i < 1_000 && store.snapshots.length === 0; i++) scheduler.turns(1);
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

describe('RaftHost installing a leader\'s snapshot (Raft §7)', () => {
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

/** answerAsN2 answers, as a granting and acknowledging n2, what n1 sent n2 since `from` (an index into transport.sent). */
function answerAsN2(started: ReturnType<typeof startedHost>, from: number): void {
  const { transport } = started;
  for (const m of transport.sent.slice(from)) {
    if (m.to !== 'n2') continue;
    const base = { from: 'n2', to: 'n1', term: m.term };
    if (m.type === 'preVote') transport.handlers!.onMessage({ ...base, type: 'preVoteResponse', reject: false });
    if (m.type === 'vote') transport.handlers!.onMessage({ ...base, type: 'voteResponse', reject: false });
    if (m.type === 'append') transport.handlers!.onMessage({ ...base, type: 'appendResponse', reject: false, index: m.prevLogIndex + m.entries.length, hintIndex: 0, hintTerm: 0 });
    if (m.type === 'heartbeat') transport.handlers!.onMessage({ ...base, type: 'heartbeatResponse', context: m.context });
  }
}

/** run lets n1 and the answering n2 go on until `done` holds: ticks, every write completed, n2's answers (bounded). */
function run(started: ReturnType<typeof startedHost>, done: () => boolean): void {
  const { scheduler, store, transport } = started;
  let answered = transport.sent.length;
  for (let i = 0; i < 200 && !done(); i++) {
    scheduler.tick(1);
    completeWrites(store, scheduler);
    const upTo = transport.sent.length;
    answerAsN2(started, answered);
    answered = upTo;
    scheduler.drain();
    completeWrites(store, scheduler);
  }
  if (!done()) throw new Error('the cluster did not get there');
}

/** leaderOfThree is n1 elected leader of n1-n3 with n2's votes and acknowledgements; n3 never answered. */
function leaderOfThree() {
  const started = startedHost(VOTERS, { snapshotEveryEntries: 4 });
  run(started, () => started.host.isLeader() && started.host.appliedIndex >= 1);
  return started;
}

describe('RaftHost sending a snapshot to a member whose entries are compacted (Raft §7)', () => {
  it('attaches the snapshot it holds, or a newer one stored since the core queued the message', () => {
    const started = leaderOfThree();
    const { host, scheduler, store, transport, fatal } = started;
    const answers: Answer[] = [];
    proposeAll(host, 3, answers);
    run(started, () => store.snapshots.length > 0);
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
    run(started, () => store.snapshots.length > 0);
    scheduler.tick(DEFAULT_LIMITS.electionTicks);
    rejectFromN3();
    store.snapshots.shift()!.done(null);
    scheduler.drain();
    expect(host.firstIndex).toBe(9);
    expect(snapshotsToN3()).toEqual([[4, 4], [8, 8]]);
    expect(fatal).toEqual([]);
  });
});
