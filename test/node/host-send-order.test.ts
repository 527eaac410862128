import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/index.js';
import { RaftHost, type ReplicatedApp } from '../../src/node/raft-host.js';
import type { Done, HostScheduler, HostStore, HostTransport, TimerHandle, TransportHandlers } from '../../src/node/host-io.js';
import { standaloneNode } from '../raft/harness.js';

/**
 * The host hands messages to the transport and then flushes them (transport.flush) instead of waiting for the
 * transport's own end-of-turn write. These tests pin the order that keeps that safe: a follower's append response
 * is sent and flushed only once its write is durable; a leader's appends (early messages, thesis §10.2.1) are
 * flushed before its own write completes; a proposer is answered only once its entry applied, after a majority
 * (here the leader's durable write and the follower's acknowledgment) holds it.
 */

type Event = string;

/** ManualLoop runs deferred work and the tick when the test says so; other timers never fire. */
class ManualLoop implements HostScheduler {
  private queue: (() => void)[] = [];
  private ticker: (() => void) | null = null;
  defer(fn: () => void): void {
    this.queue.push(fn);
  }
  after(): TimerHandle {
    return { timerId: 0 };
  }
  every(_ms: number, fn: () => void): TimerHandle {
    this.ticker = fn;
    return { timerId: 0 };
  }
  tick(): void {
    this.ticker!();
    this.runAll();
  }
  cancel(): void {}
  /** runAll runs deferred work (and what it defers) until none is left; bounded. */
  runAll(): void {
    for (let i = 0; i < 1000 && this.queue.length > 0; i++) this.queue.shift()!();
    expect(this.queue).toEqual([]);
  }
}

/** RecordingEdges is a store whose writes complete when the test says so, and a transport that records. */
class RecordingEdges implements HostStore, HostTransport {
  readonly events: Event[] = [];
  readonly pendingWrites: Done[] = [];
  handlers: TransportHandlers | null = null;
  readonly sent: Message[] = [];
  save(batch: { entries?: readonly { index: number }[] }, done: Done): void {
    this.events.push(`save ${(batch.entries ?? []).map((e) => e.index).join(',')}`);
    this.pendingWrites.push(done);
  }
  saveSnapshot(_snapshot: unknown, done: Done): void {
    done(null);
  }
  async close(): Promise<void> {}
  bind(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }
  async open(): Promise<{ port: number }> {
    return { port: 0 };
  }
  send(messages: readonly Message[]): void {
    for (const m of messages) {
      this.sent.push(m);
      this.events.push(`send ${m.type}`);
    }
  }
  flush(): void {
    this.events.push('flush');
  }
  setPeers(): void {}
  /** completeWrite makes the oldest write durable. */
  completeWrite(): void {
    const done = this.pendingWrites.shift();
    expect(done).toBeDefined();
    this.events.push('durable');
    done!(null);
  }
}

const APP: ReplicatedApp = {
  applyEntry: (data) => `applied ${data.length}`,
  applyTermStart: () => {},
  snapshot: () => new Uint8Array(),
  restore: () => {},
};

const SILENT = { info() {}, warn() {}, error() {}, debug() {} };

function hostOf(node: ReturnType<typeof standaloneNode>, loop: ManualLoop, edges: RecordingEdges): RaftHost {
  return new RaftHost({
    node,
    snapshot: null,
    app: APP,
    store: edges,
    transport: edges,
    scheduler: loop,
    clock: { wallMs: () => 0, monotonicMs: () => 0 },
    logger: SILENT,
    tickMs: 50,
    snapshotEveryEntries: 1_000_000,
    proposalTimeoutMs: 10_000,
    maxPendingProposals: 100,
  });
}

describe('RaftHost: what leaves before a write is durable', () => {
  it("a follower's append response is sent and flushed only after its write is durable", async () => {
    const loop = new ManualLoop();
    const edges = new RecordingEdges();
    const host = hostOf(standaloneNode('n2', ['n1', 'n2']), loop, edges);
    await host.start();
    loop.runAll();
    edges.events.length = 0;
    const entry = { index: 1, term: 1, type: 'normal' as const, data: new Uint8Array([1]) };
    edges.handlers!.onMessage({ type: 'append', from: 'n1', to: 'n2', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [entry], commit: 0 });
    loop.runAll();
    // The entry (and the new term) are being written: nothing may answer the leader yet.
    expect(edges.events).toEqual(['save 1']);
    edges.completeWrite();
    expect(edges.events).toEqual(['save 1', 'durable', 'send appendResponse', 'flush']);
  });

  it("a leader flushes its appends before its own write completes, and answers the proposer only after a majority's durable copies", async () => {
    const loop = new ManualLoop();
    const edges = new RecordingEdges();
    const node = standaloneNode('n1', ['n1', 'n2']);
    const host = hostOf(node, loop, edges);
    await host.start();
    loop.runAll();
    // Elect n1 the ordinary way (PreVote, then the vote), n2 granting; every write completes at once here.
    let answered = 0;
    for (let i = 0; i < 200 && !host.isLeader(); i++) {
      loop.tick();
      while (edges.pendingWrites.length > 0) {
        edges.completeWrite();
        loop.runAll();
      }
      for (; answered < edges.sent.length; answered++) {
        const m = edges.sent[answered]!;
        if (m.type === 'preVote' || m.type === 'vote') {
          edges.handlers!.onMessage({ type: m.type === 'vote' ? 'voteResponse' : 'preVoteResponse', from: 'n2', to: 'n1', term: m.term, reject: false });
          loop.runAll();
        }
      }
    }
    expect(host.isLeader()).toBe(true);
    while (edges.pendingWrites.length > 0) {
      edges.completeWrite();
      loop.runAll();
    }
    // n2 acknowledges the new term's no-op (index 1).
    const term = host.term;
    edges.handlers!.onMessage({ type: 'appendResponse', from: 'n2', to: 'n1', term, reject: false, index: 1, hintIndex: 0, hintTerm: 0 });
    loop.runAll();
    expect(host.commitIndex).toBe(1);
    edges.events.length = 0;

    const answers: unknown[] = [];
    host.submit(new Uint8Array([7, 7]), (err, result) => answers.push(err ?? result));
    loop.runAll();
    // The append left (send, then flush) before the leader's own write of entry 3 was even issued.
    expect(edges.events).toEqual(['send append', 'flush', 'save 2']);
    edges.handlers!.onMessage({ type: 'appendResponse', from: 'n2', to: 'n1', term, reject: false, index: 2, hintIndex: 0, hintTerm: 0 });
    loop.runAll();
    // The follower holds it, but the leader's own copy is not durable: no majority yet, no answer.
    expect(answers).toEqual([]);
    edges.completeWrite();
    loop.runAll();
    expect(answers).toEqual(['applied 2']);
  });
});
