/**
 * Encoding a lease table snapshot in the layout snapshot-codec.ts describes (and decodes): at once
 * (encodeSnapshot), or in bounded slices (SnapshotEncoder) so a host can encode a large table between
 * event-loop turns. Both write the same bytes.
 */
import { InvariantError, assert } from '../raft/invariant.js';
import type { DedupeEntry } from './dedupe-table.js';
import { limitsToArray } from './limits.js';
import type { HoldFields, LockExt, LockRecord, Session } from './lock-records.js';
import type { ReplicatedState } from './replicated-state.js';
import { SNAPSHOT_FORMAT, SNAPSHOT_FORMAT_V1, SNAPSHOT_FORMAT_V2, packr } from './snapshot-codec.js';

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
  // Stryker disable next-line ArrayDeclaration: startAssembly replaces it before assemble first reads it
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
          // Stryker disable next-line StringLiteral: the branches below take every phase but sessions and locks for dedupe
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
    assert(out !== null, 'snapshot assembly before its parts');
    assert(bytes > 0, () => `snapshot assembly step of ${bytes} bytes`); // so each step copies at least one part
    let copied = 0;
    // Bounded by the number of parts.
    while (this.outPartAt < this.outParts.length && copied < bytes) {
      const part = this.outParts[this.outPartAt++]!;
      out.set(part, this.outAt);
      this.outAt += part.length;
      copied += part.length;
    }
    if (this.outPartAt < this.outParts.length) return null;
    assert(this.outAt === out.length, () => `snapshot assembled ${this.outAt} of ${out.length} bytes`);
    // Stryker disable next-line ArrayDeclaration: lets the parts go; a later step finds every part copied either way
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
    // Stryker disable next-line MethodExpression: msgpackr never writes over a result it returned (nothing here packs with RESET_BUFFER_MODE): the copy only lets its buffer go
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
    // Copy: the packer's result is a view into its shared buffer, which the copy lets go.
    // Stryker disable next-line MethodExpression: msgpackr never writes over a result it returned (nothing here packs with RESET_BUFFER_MODE): the copy only lets its buffer go
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
  const headerBytes = first === 0xdc ? 3 : first === 0xdd ? 5 : 1;
  assert(headerBytes > 1 || (first & 0xf0) === 0x90, () => `not a packed array (first byte ${first})`);
  return packed.subarray(headerBytes);
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
  assert(ext === null || ext.deadWaiters === 0, 'snapshot taken in the middle of an apply');
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
