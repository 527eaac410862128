/**
 * SnapshotAssembler rebuilds one InstallSnapshot message (Raft §7) from the
 * chunks of one inbound connection. It holds at most one partial snapshot of
 * at most maxSnapshotBytes; a new snapshot (off 0) replaces an unfinished one,
 * and the owner discards it when the connection breaks. Chunks must arrive in
 * order (TCP guarantees it), so anything else is a protocol error.
 */
import type { SnapshotMessage } from '../raft/types.js';
import { assert } from '../raft/invariant.js';
import type { SnapshotChunkFrame } from './wire-protocol.js';

/** SnapshotAcceptResult is the outcome of one chunk: progress (and the whole message once complete) or a protocol error. */
export type SnapshotAcceptResult =
  | { readonly ok: true; readonly received: number; readonly complete: SnapshotMessage | null }
  | { readonly ok: false; readonly reason: string };

interface Partial {
  readonly seq: number;
  readonly head: SnapshotMessage;
  readonly total: number;
  readonly chunks: Uint8Array[];
  received: number;
}

export class SnapshotAssembler {
  private partial: Partial | null = null;

  constructor(readonly maxSnapshotBytes: number) {
    assert(Number.isSafeInteger(maxSnapshotBytes) && maxSnapshotBytes >= 0, `maxSnapshotBytes must be a non-negative integer, got ${maxSnapshotBytes}`);
  }

  /** bufferedBytes is the size of the partial snapshot held. */
  get bufferedBytes(): number {
    return this.partial?.received ?? 0;
  }

  /** accept adds one chunk. */
  accept(frame: SnapshotChunkFrame): SnapshotAcceptResult {
    if (frame.off === 0) {
      // A new snapshot; an unfinished older one is abandoned by the sender.
      this.partial = null;
      if (frame.head === null) return { ok: false, reason: 'first snapshot chunk without header' };
      if (frame.total > this.maxSnapshotBytes) {
        return { ok: false, reason: `snapshot of ${frame.total} bytes exceeds the limit of ${this.maxSnapshotBytes}` };
      }
      this.partial = { seq: frame.seq, head: frame.head, total: frame.total, chunks: [], received: 0 };
    } else {
      const p = this.partial;
      if (p === null || frame.seq !== p.seq) return { ok: false, reason: 'snapshot chunk for no snapshot in progress' };
      if (frame.head !== null || frame.total !== p.total) return { ok: false, reason: 'snapshot continuation chunk with header' };
      if (frame.off !== p.received) return { ok: false, reason: `snapshot chunk at offset ${frame.off}, expected ${p.received}` };
    }
    const p = this.partial;
    assert(p !== null, 'snapshot in progress');
    if (p.received + frame.chunk.byteLength > p.total) return { ok: false, reason: 'snapshot chunk past the announced size' };
    if (frame.chunk.byteLength === 0 && p.total !== 0) return { ok: false, reason: 'empty snapshot chunk' };
    p.chunks.push(frame.chunk);
    p.received += frame.chunk.byteLength;
    if (p.received < p.total) return { ok: true, received: p.received, complete: null };
    const merged = Buffer.concat(p.chunks, p.total);
    this.partial = null;
    const data = new Uint8Array(merged.buffer, merged.byteOffset, merged.byteLength);
    return { ok: true, received: p.total, complete: { ...p.head, data } };
  }

  /** reset drops a partial snapshot (connection closed). */
  reset(): void {
    this.partial = null;
  }
}
