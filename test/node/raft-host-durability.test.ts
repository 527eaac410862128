import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, RaftNode, SeededRandom, bootstrapState, type Message, type Snapshot } from '../../src/raft/index.js';
import type { Done, HostScheduler, HostStore, HostTransport, TimerHandle, TransportHandlers } from '../../src/node/host-io.js';
import { RaftHost, type ReplicatedApp } from '../../src/node/raft-host.js';
import type { SaveBatch } from '../../src/storage/index.js';

/**
 * The durability order of the real RaftHost, one step at a time, on a single-voter cluster whose writes the test
 * completes by hand: one write in flight, in issue order; a proposal is answered only once its entry is durable;
 * a failed write stops the loop for good; stop waits for the write in flight before it closes the store.
 */

/** StepScheduler runs deferred callbacks and ticks only when the test says so. */
class StepScheduler implements HostScheduler {
  private readonly deferred: (() => void)[] = [];
  private readonly repeating = new Map<number, () => void>();
  private next = 1;
  defer(fn: () => void): void {
    this.deferred.push(fn);
  }
  after(): TimerHandle {
    return { timerId: this.next++ };
  }
  every(_ms: number, fn: () => void): TimerHandle {
    const timerId = this.next++;
    this.repeating.set(timerId, fn);
    return { timerId };
  }
  cancel(timer: TimerHandle): void {
    this.repeating.delete(timer.timerId);
  }
  /** drain runs deferred callbacks (and what they defer) until none is left. */
  drain(): void {
    for (let n = 0; this.deferred.length > 0; n++) {
      if (n > 100_000) throw new Error('the host keeps deferring');
      this.deferred.shift()!();
    }
  }
  tick(times: number): void {
    for (let i = 0; i < times; i++) {
      for (const fn of [...this.repeating.values()]) fn();
      this.drain();
    }
  }
}

/** HeldStore keeps every write pending until the test completes it. */
class HeldStore implements HostStore {
  readonly saves: { batch: SaveBatch; done: Done }[] = [];
  readonly snapshots: { snapshot: Snapshot; done: Done }[] = [];
  closed = false;
  save(batch: SaveBatch, done: Done): void {
    this.saves.push({ batch, done });
  }
  saveSnapshot(snapshot: Snapshot, done: Done): void {
    this.snapshots.push({ snapshot, done });
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

class NoPeers implements HostTransport {
  handlers: TransportHandlers | null = null;
  readonly sent: Message[] = [];
  bind(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }
  open(): Promise<{ port: number }> {
    return Promise.resolve({ port: 0 });
  }
  send(messages: readonly Message[]): void {
    this.sent.push(...messages);
  }
  flush(): void {}
  setPeers(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

class RecordingApp implements ReplicatedApp {
  readonly applied: number[] = [];
  applyEntry(_data: Uint8Array, index: number): unknown {
    this.applied.push(index);
    return `result of ${index}`;
  }
  applyTermStart(): void {}
  snapshot(): Uint8Array {
    return new Uint8Array([1]);
  }
  restore(): void {}
}

/** lastIndexOf is the index of a write's last entry (the test wrote entries into it). */
function lastIndexOf(batch: SaveBatch): number {
  const last = batch.entries?.at(-1);
  if (last === undefined) throw new Error('the write holds no entries');
  return last.index;
}

const SILENT = { info() {}, warn() {}, error() {}, debug() {} };

/** startedHost starts host n1 of `voters` over held writes, a recording transport and a step scheduler. */
function startedHost(voters: readonly string[], snapshotEveryEntries = 1_000) {
  const scheduler = new StepScheduler();
  const store = new HeldStore();
  const transport = new NoPeers();
  const app = new RecordingApp();
  const fatal: unknown[] = [];
  const node = new RaftNode({ ...DEFAULT_LIMITS, id: 'n1', random: new SeededRandom(5) }, bootstrapState(voters));
  const host = new RaftHost({
    node,
    snapshot: null,
    app,
    store,
    transport,
    scheduler,
    clock: { wallMs: () => 0, monotonicMs: () => 0 },
    logger: SILENT,
    tickMs: 10,
    snapshotEveryEntries,
    proposalTimeoutMs: 10_000,
    maxPendingProposals: 100,
    onFatal: (err) => fatal.push(err),
  });
  void host.start();
  scheduler.drain();
  return { host, scheduler, store, transport, app, fatal };
}

/** leaderHost starts a single-voter host and elects it; the election's write is completed, nothing else is pending. */
function leaderHost(snapshotEveryEntries = 1_000) {
  const started = startedHost(['n1'], snapshotEveryEntries);
  const { host, scheduler, store } = started;
  // Bounded: a single voter elects itself within two election timeouts; each write is completed as it comes.
  for (let i = 0; i < 4 * DEFAULT_LIMITS.electionTicks && !(host.isLeader() && store.saves.length === 0); i++) {
    scheduler.tick(1);
    while (store.saves.length > 0) {
      store.saves.shift()!.done(null);
      scheduler.drain();
    }
  }
  if (!host.isLeader()) throw new Error('the single voter did not elect itself');
  return started;
}

describe('RaftHost durability order (a single voter, writes completed by hand)', () => {
  it('answers a proposal only once the write holding its entry is durable, with the app\'s result', () => {
    const { host, scheduler, store, app } = leaderHost();
    const answers: unknown[] = [];
    host.submit(new Uint8Array([7]), (err, result) => answers.push(err ?? result));
    scheduler.drain();
    expect(store.saves).toHaveLength(1);
    const index = lastIndexOf(store.saves[0]!.batch);
    // Written but not yet durable: not applied, not answered, however long the loop runs.
    scheduler.tick(3);
    expect(app.applied).toEqual([]);
    expect(answers).toEqual([]);
    store.saves.shift()!.done(null);
    scheduler.drain();
    expect(app.applied).toEqual([index]);
    expect(answers).toEqual([`result of ${index}`]);
    expect(host.appliedIndex).toBe(index);
  });

  it('keeps one write in flight: proposals that arrive meanwhile go into the next write, issued once the first is durable', () => {
    const { host, scheduler, store } = leaderHost();
    host.submit(new Uint8Array([1]), () => {});
    scheduler.drain();
    expect(store.saves).toHaveLength(1);
    host.submit(new Uint8Array([2]), () => {});
    host.submit(new Uint8Array([3]), () => {});
    scheduler.drain();
    scheduler.tick(2);
    expect(store.saves).toHaveLength(1);
    const first = store.saves.shift()!;
    first.done(null);
    scheduler.drain();
    expect(store.saves).toHaveLength(1);
    // Both waiting proposals share the second write (group commit), right after the first one's entries.
    const second = (store.saves[0]!.batch.entries ?? []).map((e) => e.index);
    expect(second).toEqual([lastIndexOf(first.batch) + 1, lastIndexOf(first.batch) + 2]);
    expect(host.stats.syncs).toBeGreaterThanOrEqual(1);
  });

  it('does not sync a change of the commit index alone: it rides with the next write (like etcd\'s MustSync)', () => {
    const { host, scheduler, store } = leaderHost();
    host.submit(new Uint8Array([1]), () => {});
    scheduler.drain();
    const first = store.saves.shift()!;
    const index = lastIndexOf(first.batch);
    first.done(null);
    scheduler.drain();
    scheduler.tick(3);
    expect(host.commitIndex).toBe(index);
    // Only the commit index changed: no write of its own.
    expect(store.saves).toEqual([]);
    host.submit(new Uint8Array([2]), () => {});
    scheduler.drain();
    expect(store.saves).toHaveLength(1);
    expect(store.saves[0]!.batch.hardState).toMatchObject({ commit: index, vote: 'n1' });
  });

  it('writes a new term or vote before the vote answer that depends on it goes out (Raft §5.2: a vote is durable first)', () => {
    const { host, scheduler, store, transport } = startedHost(['n1', 'n2', 'n3']);
    transport.handlers!.onMessage({ type: 'vote', from: 'n2', to: 'n1', term: 5, lastLogIndex: 0, lastLogTerm: 0, transfer: true });
    scheduler.drain();
    // No entries in this Ready, only the term and the vote: still a synced write, and the answer waits for it.
    expect(store.saves).toHaveLength(1);
    expect(store.saves[0]!.batch.entries).toEqual([]);
    expect(store.saves[0]!.batch.hardState).toMatchObject({ term: 5, vote: 'n2' });
    expect(transport.sent.filter((m) => m.type === 'voteResponse')).toEqual([]);
    store.saves.shift()!.done(null);
    scheduler.drain();
    expect(transport.sent.filter((m) => m.type === 'voteResponse').map((m) => [m.to, m.term, (m as { reject: boolean }).reject])).toEqual([['n2', 5, false]]);
    expect(host.term).toBe(5);
  });

  it('writes a vote cast in the term it already holds (a vote alone) before the vote answer goes out', () => {
    const { scheduler, store, transport } = startedHost(['n1', 'n2', 'n3']);
    // A message of a higher term moves n1 to term 4 with no vote and no leader; that term is written first.
    transport.handlers!.onMessage({ type: 'voteResponse', from: 'n2', to: 'n1', term: 4, reject: true });
    scheduler.drain();
    expect(store.saves.map((w) => w.batch.hardState)).toMatchObject([{ term: 4, vote: null }]);
    store.saves.shift()!.done(null);
    scheduler.drain();
    transport.handlers!.onMessage({ type: 'vote', from: 'n3', to: 'n1', term: 4, lastLogIndex: 0, lastLogTerm: 0, transfer: true });
    scheduler.drain();
    expect(store.saves.map((w) => w.batch.hardState)).toMatchObject([{ term: 4, vote: 'n3' }]);
    expect(transport.sent.filter((m) => m.type === 'voteResponse')).toEqual([]);
    store.saves.shift()!.done(null);
    scheduler.drain();
    expect(transport.sent.filter((m) => m.type === 'voteResponse').map((m) => [m.to, (m as { reject: boolean }).reject])).toEqual([['n3', false]]);
  });

  it('writes a new term alone (no vote, no entries) before the answer sent in that term', () => {
    const { scheduler, store, transport } = startedHost(['n1', 'n2', 'n3']);
    transport.handlers!.onMessage({ type: 'append', from: 'n2', to: 'n1', term: 4, prevLogIndex: 0, prevLogTerm: 0, entries: [], commit: 0 });
    scheduler.drain();
    expect(store.saves).toHaveLength(1);
    expect(store.saves[0]!.batch.hardState).toMatchObject({ term: 4, vote: null });
    expect(transport.sent).toEqual([]);
    store.saves.shift()!.done(null);
    scheduler.drain();
    expect(transport.sent.map((m) => [m.type, m.to, m.term])).toEqual([['appendResponse', 'n2', 4]]);
  });

  it('a throw while finishing a durable write (here the fsync-time observer) is fatal, not an escaped exception', () => {
    const { host, scheduler, store, fatal } = leaderHost();
    const bug = new Error('observer bug');
    host.onSyncMs = () => {
      throw bug;
    };
    host.submit(new Uint8Array([1]), () => {});
    scheduler.drain();
    expect(() => store.saves.shift()!.done(null)).not.toThrow();
    expect(fatal).toEqual([bug]);
  });

  it('after a fatal error a write that completes later is not acted on', () => {
    const { host, scheduler, store, fatal } = leaderHost(1);
    host.submit(new Uint8Array([1]), () => {});
    scheduler.drain();
    store.saves.shift()!.done(null);
    scheduler.drain();
    // The applied entry started a snapshot (every entry here); a proposal's write is in flight meanwhile.
    expect(store.snapshots).toHaveLength(1);
    host.submit(new Uint8Array([2]), () => {});
    scheduler.drain();
    expect(store.saves).toHaveLength(1);
    const syncs = host.stats.syncs;
    const broken = new Error('snapshot write failed');
    store.snapshots.shift()!.done(broken);
    expect(fatal).toEqual([broken]);
    store.saves.shift()!.done(null);
    scheduler.drain();
    scheduler.tick(3);
    expect(host.stats.syncs).toBe(syncs);
    expect(store.saves).toEqual([]);
  });

  it('a failed write is fatal: reported once, nothing applied or answered, the loop stops', () => {
    const { host, scheduler, store, app, fatal } = leaderHost();
    const answers: unknown[] = [];
    host.submit(new Uint8Array([1]), (err, result) => answers.push(err ?? result));
    scheduler.drain();
    const disk = new Error('disk full');
    store.saves.shift()!.done(disk);
    scheduler.drain();
    expect(fatal).toEqual([disk]);
    expect(app.applied).toEqual([]);
    expect(answers).toEqual([]);
    // Stopped: no tick, proposal or write runs any more.
    host.submit(new Uint8Array([2]), (err) => answers.push((err as { code?: string }).code));
    scheduler.tick(5);
    expect(store.saves).toEqual([]);
    expect(answers).toEqual(['shutting_down']);
  });

  it('stop waits for the write in flight before it closes the store', async () => {
    const { host, scheduler, store } = leaderHost();
    host.submit(new Uint8Array([1]), () => {});
    scheduler.drain();
    expect(store.saves).toHaveLength(1);
    const stopped = host.stop();
    await Promise.resolve();
    await Promise.resolve();
    expect(store.closed).toBe(false);
    store.saves.shift()!.done(null);
    await stopped;
    expect(store.closed).toBe(true);
  });
});
