import { DEFAULT_LIMITS, RaftNode, SeededRandom, bootstrapState, type DurableState, type MemberRecord, type Message, type RaftConfig, type Snapshot, type SoftState } from '../../src/raft/index.js';
import type { Done, HostScheduler, HostStore, HostTransport, TimerHandle, TransportHandlers } from '../../src/node/host-io.js';
import { RaftHost, type HostProbe, type ReplicatedApp } from '../../src/node/raft-host.js';
import type { SaveBatch } from '../../src/storage/index.js';

/**
 * The real RaftHost over hand-driven edges, for tests that look at one step at a time: deferred callbacks and ticks
 * run only when the test says so, every write stays pending until the test completes it, every message sent is
 * recorded, and the app records what it applied and restored.
 */

/** StepScheduler runs deferred callbacks and ticks only when the test says so. */
export class StepScheduler implements HostScheduler {
  private readonly deferred: (() => void)[] = [];
  private readonly repeating = new Map<number, () => void>();
  private readonly timers = new Map<number, () => void>();
  private next = 1;
  /** The period of each repeating timer ever started, in order. */
  readonly everyMs: number[] = [];
  defer(fn: () => void): void {
    this.deferred.push(fn);
  }
  after(_ms: number, fn: () => void): TimerHandle {
    const timerId = this.next++;
    this.timers.set(timerId, fn);
    return { timerId };
  }
  every(ms: number, fn: () => void): TimerHandle {
    const timerId = this.next++;
    this.everyMs.push(ms);
    this.repeating.set(timerId, fn);
    return { timerId };
  }
  cancel(timer: TimerHandle): void {
    this.repeating.delete(timer.timerId);
    this.timers.delete(timer.timerId);
  }
  /** repeatingTimers counts the repeating timers still running (a leaked one keeps a process alive). */
  get repeatingTimers(): number {
    return this.repeating.size;
  }
  /** fireTimers runs every one-shot timer still armed, as if each delay had passed, then what they deferred. */
  fireTimers(): void {
    const armed = [...this.timers.values()];
    this.timers.clear();
    for (const fn of armed) fn();
    this.drain();
  }
  /** drain runs deferred callbacks (and what they defer) until none is left. */
  drain(): void {
    for (let n = 0; this.deferred.length > 0; n++) {
      if (n > 100_000) throw new Error('the host keeps deferring');
      this.deferred.shift()!();
    }
  }
  /** turns runs `count` event-loop turns: each runs the callbacks deferred before it began (what they defer waits a turn). */
  turns(count: number): void {
    for (let i = 0; i < count; i++) for (const fn of this.deferred.splice(0)) fn();
  }
  tick(times: number): void {
    for (let i = 0; i < times; i++) {
      this.tickOnly();
      this.drain();
    }
  }
  /** tickOnly runs each repeating timer once; what they defer waits for the next turn. */
  tickOnly(): void {
    for (const fn of [...this.repeating.values()]) fn();
  }
}

/** HeldStore keeps every write pending until the test completes it. */
export class HeldStore implements HostStore {
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

/** NoPeers records what the host sends; the test plays the peers through `handlers`. */
export class NoPeers implements HostTransport {
  static readonly PORT = 7_001;
  handlers: TransportHandlers | null = null;
  closed = false;
  readonly sent: Message[] = [];
  /** The peer ids of each setPeers call. */
  readonly peerSets: string[][] = [];
  /** Each send() call's batch, as the host handed it over. */
  readonly batches: (readonly Message[])[] = [];
  bind(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }
  open(): Promise<{ port: number }> {
    return Promise.resolve({ port: NoPeers.PORT });
  }
  send(messages: readonly Message[]): void {
    this.batches.push(messages);
    this.sent.push(...messages);
  }
  flush(): void {}
  setPeers(members: readonly MemberRecord[]): void {
    this.peerSets.push(members.map((m) => m.id));
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/**
 * RecordingApp records the entries it applies. Its table is the list of applied indexes: snapshot() encodes the
 * newest one, so a snapshot shows the index its table stood at. With `encoderSteps` it encodes in slices: that
 * many steps return null before the last returns the snapshot (one step a turn, unless the host finishes it at once).
 * `failure`, once set, is thrown by the next applyEntry or encoder step.
 */
export class RecordingApp implements ReplicatedApp {
  readonly applied: number[] = [];
  readonly termStarts: number[] = [];
  readonly restored: number[] = [];
  failure: Error | null = null;
  encoderStepsTaken = 0;
  /** The index the table stands at: the last entry applied or snapshot restored. */
  private tableIndex = 0;
  readonly snapshotEncoder?: () => { step(): Uint8Array | null };
  constructor(encoderSteps?: number) {
    if (encoderSteps === undefined) return;
    this.snapshotEncoder = () => {
      const data = this.snapshot();
      let left = encoderSteps;
      return {
        step: () => {
          this.encoderStepsTaken++;
          this.throwFailure();
          return left-- > 0 ? null : data;
        },
      };
    };
  }
  private throwFailure(): void {
    if (this.failure !== null) throw this.failure;
  }
  applyEntry(_data: Uint8Array, index: number): unknown {
    this.throwFailure();
    this.applied.push(index);
    this.tableIndex = index;
    return `result of ${index}`;
  }
  applyTermStart(_term: number, index: number): void {
    this.termStarts.push(index);
    this.tableIndex = index;
  }
  snapshot(): Uint8Array {
    return encodeIndex(this.tableIndex);
  }
  restore(data: Uint8Array): void {
    this.tableIndex = decodeIndex(data);
    this.restored.push(this.tableIndex);
  }
}

/** encodeIndex is a RecordingApp snapshot: the index its table stood at, as 4 bytes. */
export function encodeIndex(index: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, index);
  return bytes;
}

export function decodeIndex(data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
}

/** lastIndexOf is the index of a write's last entry (the test wrote entries into it). */
export function lastIndexOf(batch: SaveBatch): number {
  const last = batch.entries?.at(-1);
  if (last === undefined) throw new Error('the write holds no entries');
  return last.index;
}

const SILENT = { info() {}, warn() {}, error() {}, debug() {} };

export interface HostOptions {
  readonly snapshotEveryEntries?: number;
  /** Steps of the app's snapshot encoder (none: the app has no encoder and snapshots at once). */
  readonly encoderSteps?: number;
  readonly heldApplySliceEntries?: number;
  readonly probe?: HostProbe;
  /** Core settings other than the defaults. */
  readonly limits?: Partial<RaftConfig>;
  /** Without an onFatal callback (production always passes one). */
  readonly noOnFatal?: boolean;
  readonly onSoftState?: (soft: SoftState) => void;
  /** The member's durable state at start (default: a new member of `voters`) and the snapshot the host is given. */
  readonly durable?: DurableState;
  readonly snapshot?: Snapshot;
  /** Not started: the test calls host.start() itself. */
  readonly unstarted?: boolean;
}

/** startedHost starts host n1 of `voters` over held writes, a recording transport and a step scheduler. */
export function startedHost(voters: readonly string[], opts: HostOptions = {}) {
  const scheduler = new StepScheduler();
  const store = new HeldStore();
  const transport = new NoPeers();
  const app = new RecordingApp(opts.encoderSteps);
  const fatal: unknown[] = [];
  const node = new RaftNode({ ...DEFAULT_LIMITS, ...opts.limits, id: 'n1', random: new SeededRandom(5) }, opts.durable ?? bootstrapState(voters));
  const host = new RaftHost({
    node,
    snapshot: opts.snapshot ?? null,
    app,
    store,
    transport,
    scheduler,
    clock: { wallMs: () => 0, monotonicMs: () => 0 },
    logger: SILENT,
    tickMs: 10,
    snapshotEveryEntries: opts.snapshotEveryEntries ?? 1_000,
    ...(opts.heldApplySliceEntries === undefined ? {} : { heldApplySliceEntries: opts.heldApplySliceEntries }),
    ...(opts.probe === undefined ? {} : { probe: opts.probe }),
    ...(opts.onSoftState === undefined ? {} : { onSoftState: opts.onSoftState }),
    proposalTimeoutMs: 10_000,
    maxPendingProposals: 100,
    ...(opts.noOnFatal === true ? {} : { onFatal: (err: unknown) => fatal.push(err) }),
  });
  if (opts.unstarted !== true) {
    void host.start();
    scheduler.drain();
  }
  return { host, node, scheduler, store, transport, app, fatal };
}

/** completeWrites completes every pending write, in order, and runs what each completion deferred. */
export function completeWrites(store: HeldStore, scheduler: StepScheduler): void {
  for (let i = 0; store.saves.length > 0; i++) {
    if (i > 10_000) throw new Error('the host keeps writing');
    store.saves.shift()!.done(null);
    scheduler.drain();
  }
}

/** leaderHost starts a single-voter host and elects it; the election's write is completed, nothing else is pending. */
export function leaderHost(opts: HostOptions = {}) {
  const started = startedHost(['n1'], opts);
  const { host, scheduler, store } = started;
  // Bounded: a single voter elects itself within two election timeouts; each write is completed as it comes.
  for (let i = 0; i < 4 * DEFAULT_LIMITS.electionTicks && !(host.isLeader() && store.saves.length === 0); i++) {
    scheduler.tick(1);
    completeWrites(store, scheduler);
  }
  if (!host.isLeader()) throw new Error('the single voter did not elect itself');
  return started;
}

/** answerAsN2 answers, as a granting and acknowledging n2, what n1 sent n2 since `from` (an index into transport.sent). */
export function answerAsN2(started: ReturnType<typeof startedHost>, from: number): void {
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

/** runWithN2 lets n1 and the answering n2 go on until `done` holds: ticks, every write completed, n2's answers (bounded). */
export function runWithN2(started: ReturnType<typeof startedHost>, done: () => boolean): void {
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
export function leaderOfThree(opts: HostOptions = {}) {
  const started = startedHost(['n1', 'n2', 'n3'], opts);
  runWithN2(started, () => started.host.isLeader() && started.host.appliedIndex >= 1);
  return started;
}
