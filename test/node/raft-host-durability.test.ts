import { describe, expect, it } from 'vitest';
import { lastIndexOf, leaderHost, startedHost } from './raft-host-harness.js';

/**
 * The durability order of the real RaftHost, one step at a time, on a single-voter cluster whose writes the test
 * completes by hand: one write in flight, in issue order; a proposal is answered only once its entry is durable;
 * a failed write stops the loop for good; stop waits for the write in flight before it closes the store.
 */

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
    const { host, scheduler, store, fatal } = leaderHost({ snapshotEveryEntries: 1 });
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
