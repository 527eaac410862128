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
import type { DedupeEntry } from './dedupe-table.js';
import { limitsFromArray, type LeaseTableLimits } from './limits.js';
import { API_BOUNDS } from '../api/contract.js';
import { Holder, LockRecord, MODE_EXCLUSIVE, MODE_SHARED, Session, Waiter, type ModeCode } from './lock-records.js';
import { ReplicatedState } from './replicated-state.js';
import type { CommandResult } from './types.js';

/** SNAPSHOT_FORMAT tags the layout above (the newest version); bump it on any change. */
export const SNAPSHOT_FORMAT = 'raftlock.leases.v3';
/** SNAPSHOT_FORMAT_V2 is the layout without the values array: still written when that would be empty, and read. */
export const SNAPSHOT_FORMAT_V2 = 'raftlock.leases.v2';
/** SNAPSHOT_FORMAT_V1 is the layout without the answers and values arrays: still written when both would be empty, and read. */
export const SNAPSHOT_FORMAT_V1 = 'raftlock.leases.v1';
/** READABLE_SNAPSHOT_FORMATS are every format decodeSnapshot reads (a backup file names its table's format). */
export const READABLE_SNAPSHOT_FORMATS: readonly string[] = Object.freeze([SNAPSHOT_FORMAT_V1, SNAPSHOT_FORMAT_V2, SNAPSHOT_FORMAT]);

/** packr is the one msgpack encoder of snapshots (snapshot-encoder.ts); its options are part of the format. */
export const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({
  // Stryker disable next-line BooleanLiteral: useRecords shapes what is packed; this decoder only reads what packr (useRecords false) wrote
  useRecords: false,
  // Stryker disable next-line BooleanLiteral: msgpackr decodes maps as objects anyway when useRecords is false; stated so as not to depend on that default
  mapsAsObjects: true,
});

/**
 * SnapshotCorruptError: the bytes are not a lease table snapshot of this
 * format. Stable `code` so the host can tell corruption from bugs.
 */
export class SnapshotCorruptError extends Error {
  override readonly name = 'SnapshotCorruptError';
  readonly code = 'snapshot_corrupt';
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
  // Stryker disable next-line ConditionalExpression: an empty LockExt answers like none (every reader checks its fields), and the next apply that touches the record drops it
  if (limit !== 0) rec.ensureExt().limit = limit;
  // Stryker disable next-line ConditionalExpression: with no delay the snapshot's delaySeq is 0 too (clearLockDelay resets both), so this writes the values an empty LockExt has
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
  check(
    nHolders > 0 ||
      // Stryker disable next-line ConditionalExpression: between applies a record with waiters also has a holder or a lock-delay (settle grants or drops the head), so no snapshot the table writes tells this apart
      nWaiters > 0 ||
      delayUntilMs !== 0,
    'free lock record in snapshot',
  );
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
    check(
      result !== null &&
        // Stryker disable next-line ConditionalExpression: no decoded msgpack value but an object has a boolean `ok`, so the typeof test only names the case
        typeof result === 'object' &&
        typeof (result as { ok?: unknown }).ok === 'boolean',
      'bad result',
    );
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
    if (
      !Number.isFinite(v) ||
      // Stryker disable next-line ConditionalExpression: Number.isFinite is false for every non-number, so the typeof test only narrows the type
      typeof v !== 'number'
    ) {
      this.fail('number expected');
    }
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
