/**
 * The snapshot format of the lease table: one msgpack array of flat arrays
 * (no object per lock, so 1,000,000 locks pack and unpack in about a second).
 *
 *   [format, limits[], nowMs, appliedIndex, tokenFloor, seq, expiriesTotal,
 *    sessions: [id, owner|null, ttlMs, expiresAtMs, seq]*,
 *    locks:    [name, mode, lastToken, limit, delayUntilMs, delaySeq,
 *               nHolders, [owner, token, expiresAtMs, ttlMs, holdCount, sessionId|null, lockDelayMs, seq]*nHolders,
 *               nWaiters, [id, owner, mode, limit, ttlMs, sessionId|null, deadlineMs, lockDelayMs, seq, deduped]*nWaiters]*,
 *    dedupe:   [requestId, atMs, result]*,
 *    answers:  [requestId, count]*,                       (v2 and v3)
 *    values:   [name, waiterId|null, value]*]             (v3 only)
 *
 * v2 adds the answers array: the dedupe entries whose count of answering
 * attempts is above 0 (undelivered-grants.ts), in dedupe order. v3 adds the
 * election values (holds.ts, proclaim): per lock in lock order, the inline
 * hold's value (waiterId null), then its waiters' values in queue order.
 * Each version is written only when the state needs it (a state with no
 * answers and no values is written as v1, byte for byte what v1 wrote; with
 * answers but no values as v2), so a table restored from an older snapshot
 * writes the same bytes again and an older build can read what it could
 * represent; all three are read.
 *
 * Maps are written in their iteration order and re-inserted in the same order,
 * so a restored table iterates exactly like the original. A session's lock set
 * and waiter set are not written: they are rebuilt in holder/waiter `seq`
 * order, which is their insertion order.
 */
import { Packr, Unpackr } from 'msgpackr';
import { InvariantError } from '../raft/invariant.js';
import type { DedupeEntry } from './dedupe-table.js';
import { limitsFromArray, limitsToArray, type LeaseTableLimits } from './limits.js';
import { API_BOUNDS } from '../api/contract.js';
import { Holder, LockRecord, MODE_EXCLUSIVE, MODE_SHARED, Session, Waiter, type HoldFields, type LockExt, type ModeCode } from './lock-records.js';
import { ReplicatedState } from './replicated-state.js';
import type { CommandResult } from './types.js';

/** SNAPSHOT_FORMAT tags the layout above (the newest version); bump it on any change. */
export const SNAPSHOT_FORMAT = 'raftlock.leases.v3';
/** SNAPSHOT_FORMAT_V2 is the layout without the values array: still written when that would be empty, and read. */
const SNAPSHOT_FORMAT_V2 = 'raftlock.leases.v2';
/** SNAPSHOT_FORMAT_V1 is the layout without the answers and values arrays: still written when both would be empty, and read. */
const SNAPSHOT_FORMAT_V1 = 'raftlock.leases.v1';
/** READABLE_SNAPSHOT_FORMATS are every format decodeSnapshot reads (a backup file names its table's format). */
export const READABLE_SNAPSHOT_FORMATS: readonly string[] = Object.freeze([SNAPSHOT_FORMAT_V1, SNAPSHOT_FORMAT_V2, SNAPSHOT_FORMAT]);

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/**
 * SnapshotCorruptError: the bytes are not a lease table snapshot of this
 * format. Stable `code` so the host can tell corruption from bugs.
 */
export class SnapshotCorruptError extends Error {
  override readonly name = 'SnapshotCorruptError';
  readonly code = 'snapshot_corrupt';
}

/** encodeSnapshot writes `state` in the format above. Requires a table between applies (no dead waiters). */
export function encodeSnapshot(state: ReplicatedState): Uint8Array {
  const encoder = new SnapshotEncoder(state);
  // Bounded: each step encodes at least one record, and the state does not change meanwhile.
  for (;;) {
    const bytes = encoder.step(Infinity);
    if (bytes !== null) return bytes;
  }
}

/** Bytes of the finished snapshot a step copies into place per record of its budget (2,048 records: 1 MiB). */
const ASSEMBLE_BYTES_PER_RECORD = 512;

/** Records (sessions, locks, dedupe entries) a SnapshotEncoder step packs by default: a few milliseconds of work. */
export const SNAPSHOT_STEP_RECORDS = 2_048;

/**
 * SnapshotEncoder writes the same bytes as encodeSnapshot a bounded number of
 * records at a time, so a host can encode a table of a million locks in
 * slices of a few milliseconds and serve the network between them (one
 * synchronous encode of 1M locks blocked a member for 2.4 s, and a leader lost
 * its leadership). Each record's fields are packed as soon as a slice is
 * done; the flat arrays' headers, which need the total counts, are written at
 * the end (msgpack encodes an element the same wherever it stands).
 *
 * The caller must not change the state between the first and the last step:
 * the result is the state at exactly one applied index.
 */
export class SnapshotEncoder {
  private phase: 'sessions' | 'locks' | 'dedupe' | 'assemble' = 'sessions';
  /** The finished snapshot's bytes, filled in slices once every record is packed (copying 40 MiB at once took 80 ms). */
  private out: Uint8Array | null = null;
  private outParts: Uint8Array[] = [];
  private outPartAt = 0;
  private outAt = 0;
  private readonly sessionIt: Iterator<Session>;
  private readonly lockIt: Iterator<LockRecord>;
  private readonly dedupeIt: Iterator<[string, DedupeEntry]>;
  private readonly pieces = { sessions: new PackedList(), locks: new PackedList(), dedupe: new PackedList(), answers: new PackedList(), values: new PackedList() };
  /** One lock's election values, packed into `pieces.values` as each lock is. */
  private readonly lockValues: unknown[] = [];
  private readonly appliedIndex: number;

  constructor(private readonly state: ReplicatedState) {
    this.sessionIt = state.sessions.values();
    this.lockIt = state.locks.values();
    this.dedupeIt = state.dedupe.oldestFirst();
    this.appliedIndex = state.appliedIndex;
  }

  /**
   * step packs up to `records` more records (at least one); returns the whole snapshot once every record is
   * packed, and null while some remain.
   */
  step(records: number = SNAPSHOT_STEP_RECORDS): Uint8Array | null {
    if (this.state.appliedIndex !== this.appliedIndex) throw new InvariantError('the table changed while its snapshot was being encoded');
    let budget = Math.max(1, records);
    const slice: unknown[] = [];
    // Bounded: each iteration takes one record or moves to the next phase (four phases).
    while (budget > 0 && this.phase !== 'assemble') {
      if (this.phase === 'sessions') {
        const next = this.sessionIt.next();
        if (next.done === true) {
          this.pieces.sessions.add(slice);
          this.phase = 'locks';
          continue;
        }
        const s = next.value;
        slice.push(s.id, s.owner, s.ttlMs, s.expiresAtMs, s.seq);
      } else if (this.phase === 'locks') {
        const next = this.lockIt.next();
        if (next.done === true) {
          this.pieces.locks.add(slice);
          this.phase = 'dedupe';
          continue;
        }
        pushLock(slice, next.value);
        const ext = next.value.ext;
        if (ext !== null) {
          pushValues(this.lockValues, next.value.name, ext);
          this.pieces.values.add(this.lockValues);
        }
      } else {
        const next = this.dedupeIt.next();
        if (next.done === true) {
          this.pieces.dedupe.add(slice);
          this.phase = 'assemble';
          this.startAssembly();
          return null;
        }
        const [id, e] = next.value;
        slice.push(id, e.atMs, e.result);
        if (e.answers > 0) this.pieces.answers.add([id, e.answers]);
      }
      budget--;
    }
    if (this.phase !== 'assemble') {
      if (this.phase === 'sessions') this.pieces.sessions.add(slice);
      else if (this.phase === 'locks') this.pieces.locks.add(slice);
      else this.pieces.dedupe.add(slice);
      return null;
    }
    return this.assemble(budget * ASSEMBLE_BYTES_PER_RECORD);
  }

  /** assemble copies up to `bytes` (at least one part) of the packed parts into the output; returns it once full. */
  private assemble(bytes: number): Uint8Array | null {
    const out = this.out;
    if (out === null) throw new InvariantError('snapshot assembly before its parts');
    let copied = 0;
    // Bounded by the number of parts.
    while (this.outPartAt < this.outParts.length && (copied === 0 || copied < bytes)) {
      const part = this.outParts[this.outPartAt++]!;
      out.set(part, this.outAt);
      this.outAt += part.length;
      copied += part.length;
    }
    if (this.outPartAt < this.outParts.length) return null;
    if (this.outAt !== out.length) throw new InvariantError(`snapshot assembled ${this.outAt} of ${out.length} bytes`);
    this.outParts = [];
    return out;
  }

  /** startAssembly lays out the whole snapshot's parts (headers now that the counts are known) and its output. */
  private startAssembly(): void {
    const state = this.state;
    // The oldest layout that holds the state: v1 without answers and values, v2 without values (see SNAPSHOT_FORMAT).
    const format = this.pieces.values.count > 0 ? SNAPSHOT_FORMAT : this.pieces.answers.count > 0 ? SNAPSHOT_FORMAT_V2 : SNAPSHOT_FORMAT_V1;
    const head = packr.pack([
      format,
      limitsToArray(state.limits),
      state.nowMs,
      state.appliedIndex,
      state.tokenFloor,
      state.seq,
      state.expiriesTotal,
    ]);
    const { sessions, locks, dedupe, answers, values } = this.pieces;
    const lists = format === SNAPSHOT_FORMAT_V1 ? [sessions, locks, dedupe] : format === SNAPSHOT_FORMAT_V2 ? [sessions, locks, dedupe, answers] : [sessions, locks, dedupe, answers, values];
    const parts: Uint8Array[] = [arrayHeader(7 + lists.length), withoutArrayHeader(head).slice()];
    let size = parts[0]!.length + parts[1]!.length;
    for (const list of lists) {
      const header = arrayHeader(list.count);
      parts.push(header);
      size += header.length;
      for (const part of list.parts) {
        parts.push(part);
        size += part.length;
      }
    }
    this.outParts = parts;
    this.out = new Uint8Array(size);
  }
}

/** PackedList is a flat array packed slice by slice: the elements' bytes (no header) and their count. */
class PackedList {
  readonly parts: Uint8Array[] = [];
  count = 0;
  add(slice: unknown[]): void {
    if (slice.length === 0) return;
    // Copy: the packer's result is a view into its reusable buffer.
    this.parts.push(withoutArrayHeader(packr.pack(slice)).slice());
    this.count += slice.length;
    slice.length = 0;
  }
}

/** arrayHeader is msgpack's header of an array of `n` elements, in its shortest form (as msgpackr writes it). */
function arrayHeader(n: number): Uint8Array {
  if (n < 16) return Uint8Array.of(0x90 | n);
  if (n < 0x10000) return Uint8Array.of(0xdc, n >> 8, n & 0xff);
  return Uint8Array.of(0xdd, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** withoutArrayHeader is a packed array's elements: its bytes after the header. */
function withoutArrayHeader(packed: Uint8Array): Uint8Array {
  const first = packed[0]!;
  if (first >= 0x90 && first <= 0x9f) return packed.subarray(1);
  if (first === 0xdc) return packed.subarray(3);
  if (first === 0xdd) return packed.subarray(5);
  throw new InvariantError(`not a packed array (first byte ${first})`);
}

/** pushLock appends one lock record's fields (see the layout above). */
function pushLock(locks: unknown[], rec: LockRecord): void {
  const ext = rec.ext;
  locks.push(rec.name, rec.mode, rec.lastToken, ext?.limit ?? 0, ext?.delayUntilMs ?? 0, ext?.delaySeq ?? 0);
  const n = rec.holderCount();
  locks.push(n);
  if (n > 0) {
    pushHold(locks, rec);
    if (ext !== null) for (const h of ext.more) pushHold(locks, h);
  }
  const queue = ext?.waiters ?? [];
  if (ext !== null && ext.deadWaiters !== 0) throw new InvariantError('snapshot taken in the middle of an apply');
  locks.push(queue.length);
  for (const w of queue) {
    locks.push(w.id, w.owner, w.mode, w.limit, w.ttlMs, w.sessionId, w.deadlineMs, w.lockDelayMs, w.seq, w.deduped);
  }
}

/** pushValues writes the election values of one lock: its hold's, then its waiters' in queue order. */
function pushValues(out: unknown[], name: string, ext: LockExt): void {
  if (ext.value !== null) out.push(name, null, ext.value);
  for (const w of ext.waiters) if (w.value !== null) out.push(name, w.id, w.value);
}

function pushHold(out: unknown[], h: HoldFields): void {
  out.push(h.owner, h.token, h.expiresAtMs, h.ttlMs, h.holdCount, h.sessionId, h.lockDelayMs, h.seq);
}

/** decodeSnapshot parses and checks a snapshot; throws SnapshotCorruptError when it is not one. */
export function decodeSnapshot(bytes: Uint8Array): ReplicatedState {
  let top: unknown;
  try {
    top = unpackr.unpack(bytes);
  } catch (err) {
    throw new SnapshotCorruptError(`not msgpack: ${(err as Error).message}`);
  }
  const r = new Reader(top, 'snapshot');
  const format = r.str();
  if (!READABLE_SNAPSHOT_FORMATS.includes(format)) throw new SnapshotCorruptError('unknown snapshot format');
  const limits = limitsFromArray(r.any());
  if (limits === null) throw new SnapshotCorruptError('bad limits');
  const state = new ReplicatedState(limits);
  state.nowMs = r.num();
  state.appliedIndex = r.int();
  state.tokenFloor = r.int();
  state.seq = r.int();
  state.expiriesTotal = r.int();
  decodeSessions(new Reader(r.any(), 'sessions'), state);
  const members = new SessionMembers(state);
  const lr = new Reader(r.any(), 'locks');
  while (!lr.done()) {
    const rec = decodeLock(lr, state.limits, members);
    const size = state.locks.size;
    state.locks.set(rec.name, rec);
    check(state.locks.size === size + 1, 'duplicate lock');
  }
  members.link();
  decodeDedupe(new Reader(r.any(), 'dedupe'), state);
  if (format !== SNAPSHOT_FORMAT_V1) decodeAnswers(new Reader(r.any(), 'answers'), state);
  if (format === SNAPSHOT_FORMAT) decodeValues(new Reader(r.any(), 'values'), state);
  check(r.done(), 'trailing fields');
  return state;
}

function decodeSessions(sr: Reader, state: ReplicatedState): void {
  while (!sr.done()) {
    const s = new Session(sr.str(), sr.strOrNull(), sr.int(), sr.num(), sr.int());
    check(!state.sessions.has(s.id), 'duplicate session');
    state.sessions.set(s.id, s);
  }
}

/**
 * SessionMembers collects the holds and waiters of each session while locks
 * are decoded, then rebuilds the sessions' lock and waiter sets in seq order
 * (their insertion order), which the snapshot does not store.
 */
class SessionMembers {
  private readonly locks = new Map<Session, { seq: number; name: string }[]>();
  private readonly waiters = new Map<Session, Waiter[]>();

  constructor(private readonly state: ReplicatedState) {}

  addHold(sessionId: string, seq: number, name: string): void {
    pushTo(this.locks, this.session(sessionId), { seq, name });
  }

  addWaiter(w: Waiter): void {
    pushTo(this.waiters, this.session(w.sessionId!), w);
  }

  link(): void {
    for (const [s, list] of this.locks) {
      list.sort((a, b) => a.seq - b.seq);
      for (const { name } of list) {
        check(!s.locks.has(name), 'session holds a lock twice');
        s.locks.add(name);
      }
    }
    for (const [s, list] of this.waiters) {
      list.sort((a, b) => a.seq - b.seq);
      s.waiters = new Set(list);
    }
  }

  private session(id: string): Session {
    const s = this.state.sessions.get(id);
    check(s !== undefined, 'hold or waiter of an unknown session');
    return s;
  }
}

function decodeLock(lr: Reader, limits: LeaseTableLimits, members: SessionMembers): LockRecord {
  const rec = new LockRecord(lr.str(), 0);
  const mode = lr.mode();
  rec.lastToken = lr.int();
  const limit = lr.int();
  const delayUntilMs = lr.num();
  const delaySeq = lr.int();
  // Most locks need no LockExt: LockRecord.ensureExt() allocates it only when something needs it.
  if (limit !== 0) rec.ensureExt().limit = limit;
  if (delayUntilMs !== 0) {
    rec.ensureExt().delayUntilMs = delayUntilMs;
    rec.ensureExt().delaySeq = delaySeq;
  }
  const nHolders = lr.int();
  check(nHolders <= limits.holdersPerLockMax, 'too many holders');
  for (let i = 0; i < nHolders; i++) decodeHold(lr, rec, mode, members);
  check(nHolders > 0 || (limit === 0 && mode === MODE_EXCLUSIVE), 'free lock with a mode or limit');
  check(nHolders <= 1 || mode === MODE_SHARED, 'exclusive lock with several holders');
  const nWaiters = lr.int();
  check(nWaiters <= limits.waitersPerLockMax, 'too many waiters');
  for (let i = 0; i < nWaiters; i++) {
    const w = new Waiter(rec, lr.str(), lr.str(), lr.mode(), lr.int(), lr.int(), lr.strOrNull(), lr.num(), lr.int(), lr.int(), lr.bool());
    check((w.sessionId === null) === (w.ttlMs > 0), 'waiter needs exactly one of ttl and session');
    if (w.sessionId !== null) members.addWaiter(w);
    rec.ensureExt().waiters.push(w);
  }
  check(nHolders > 0 || nWaiters > 0 || delayUntilMs !== 0, 'free lock record in snapshot');
  return rec;
}

/** decodeHold reads one hold of `rec`: the first goes inline, the others become Holders. */
function decodeHold(lr: Reader, rec: LockRecord, mode: ModeCode, members: SessionMembers): void {
  const owner = lr.str();
  const token = lr.int();
  const expiresAtMs = lr.num();
  const ttlMs = lr.int();
  const holdCount = lr.int();
  const sessionId = lr.strOrNull();
  const lockDelayMs = lr.int();
  const seq = lr.int();
  check(token >= 1 && token <= rec.lastToken && holdCount >= 1, 'bad hold');
  check((sessionId === null) === (ttlMs > 0), 'hold needs exactly one of ttl and session');
  if (sessionId !== null) members.addHold(sessionId, seq, rec.name);
  if (rec.owner !== null) {
    rec.ensureExt().more.push(new Holder(rec, owner, token, expiresAtMs, ttlMs, holdCount, sessionId, lockDelayMs, seq));
    return;
  }
  rec.owner = owner;
  rec.token = token;
  rec.expiresAtMs = expiresAtMs;
  rec.ttlMs = ttlMs;
  rec.holdCount = holdCount;
  rec.sessionId = sessionId;
  rec.lockDelayMs = lockDelayMs;
  rec.seq = seq;
  rec.mode = mode;
}

function decodeDedupe(dr: Reader, state: ReplicatedState): void {
  const entries: [string, Pick<DedupeEntry, 'result' | 'atMs'>][] = [];
  while (!dr.done()) {
    const id = dr.str();
    const atMs = dr.num();
    const result = dr.any();
    check(typeof result === 'object' && result !== null && typeof (result as { ok?: unknown }).ok === 'boolean', 'bad result');
    entries.push([id, { result: result as CommandResult, atMs }]);
  }
  check(entries.length <= state.limits.dedupeEntriesMax, 'dedupe table over its bound');
  for (const [id, e] of entries) {
    check(state.dedupe.get(id) === undefined, 'duplicate dedupe entry');
    state.dedupe.remember(id, e.result, e.atMs, 0);
  }
}

/** decodeAnswers sets the counts of answering attempts (v2): each of an entry with an ok result, above 0. */
function decodeAnswers(ar: Reader, state: ReplicatedState): void {
  while (!ar.done()) {
    const e = state.dedupe.get(ar.str());
    const answers = ar.int();
    check(e !== undefined && e.result.ok && answers > 0 && e.answers === 0, 'bad answers entry');
    e.answers = answers;
  }
}

/** decodeValues sets the election values (v3): each of an exclusive hold, or of an exclusive waiter, set once. */
function decodeValues(vr: Reader, state: ReplicatedState): void {
  while (!vr.done()) {
    const rec = state.locks.get(vr.str());
    const waiterId = vr.strOrNull();
    const value = vr.str();
    check(rec !== undefined && value.length <= API_BOUNDS.electionValueLengthMax, 'value of an unknown lock');
    if (waiterId === null) {
      check(rec.owner !== null && rec.mode === MODE_EXCLUSIVE && (rec.ext === null || rec.ext.value === null), 'bad hold value');
      rec.ensureExt().value = value;
      continue;
    }
    const w = rec.ext?.waiters.find((x) => x.id === waiterId);
    check(w !== undefined && w.mode === MODE_EXCLUSIVE && w.value === null, 'bad waiter value');
    w.value = value;
  }
}

function pushTo<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list === undefined) m.set(k, [v]);
  else list.push(v);
}

function check(cond: boolean, what: string): asserts cond {
  if (!cond) throw new SnapshotCorruptError(`corrupt snapshot: ${what}`);
}

/** Reader walks a flat array with type checks (messages are built only on failure). */
class Reader {
  private readonly a: unknown[];
  private i = 0;
  constructor(
    value: unknown,
    private readonly what: string,
  ) {
    check(Array.isArray(value), `${what} is not an array`);
    this.a = value;
  }
  done(): boolean {
    return this.i >= this.a.length;
  }
  any(): unknown {
    if (this.i >= this.a.length) this.fail('truncated');
    return this.a[this.i++];
  }
  num(): number {
    const v = this.any();
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail('number expected');
    return v as number;
  }
  int(): number {
    const v = this.num();
    if (!Number.isSafeInteger(v) || v < 0) this.fail('non-negative integer expected');
    return v;
  }
  str(): string {
    const v = this.any();
    if (typeof v !== 'string') this.fail('string expected');
    return v as string;
  }
  strOrNull(): string | null {
    const v = this.any();
    if (v !== null && typeof v !== 'string') this.fail('string or null expected');
    return v as string | null;
  }
  bool(): boolean {
    const v = this.any();
    if (typeof v !== 'boolean') this.fail('boolean expected');
    return v as boolean;
  }
  mode(): ModeCode {
    const v = this.any();
    if (v !== MODE_EXCLUSIVE && v !== MODE_SHARED) this.fail('mode expected');
    return v as ModeCode;
  }
  private fail(what: string): never {
    throw new SnapshotCorruptError(`corrupt snapshot: ${this.what}[${this.i - 1}]: ${what}`);
  }
}
