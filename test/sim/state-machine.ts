import type { Entry } from '../../src/raft/types.js';

const decoder = new TextDecoder();

/** entryKey names an entry's content: the client payload, "" for a leader no-op, "config:<voters>" for a config entry. */
export function entryKey(entry: Entry): string {
  if (entry.type === 'config') return `config:${(entry.config?.voters ?? []).join(',')}`;
  return entry.data.length === 0 ? '' : decoder.decode(entry.data);
}

/** hashString is 32-bit FNV-1a. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** chainHash folds one applied entry into the running hash of the applied sequence. */
export function chainHash(previous: number, index: number, term: number, key: string): number {
  let h = previous ^ Math.imul(index, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ term;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ hashString(key);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * ToyStateMachine is a hash chain over the applied entries: two replicas that
 * applied the same sequence have the same (appliedIndex, hash), and a
 * snapshot is just those 8 bytes plus a count. Cheap enough to check on every
 * apply, strong enough that any divergence shows.
 */
export class ToyStateMachine {
  appliedIndex = 0;
  hash = 0;
  /** Client payloads applied (no-ops and config entries excluded). */
  payloadCount = 0;

  /** apply folds the next committed entry; entries must arrive in index order without gaps. */
  apply(entry: Entry, key: string): void {
    if (entry.index !== this.appliedIndex + 1) {
      throw new Error(`state machine: applying ${entry.index} after ${this.appliedIndex} (gap or repeat)`);
    }
    this.appliedIndex = entry.index;
    this.hash = chainHash(this.hash, entry.index, entry.term, key);
    if (key !== '' && entry.type === 'normal') this.payloadCount++;
  }

  /** encode is the snapshot data. */
  encode(): Uint8Array {
    const out = new Uint8Array(12);
    const view = new DataView(out.buffer);
    view.setUint32(0, this.appliedIndex);
    view.setUint32(4, this.hash);
    view.setUint32(8, this.payloadCount);
    return out;
  }

  /** restore replaces the state with a snapshot's data. */
  restore(data: Uint8Array): void {
    if (data.length !== 12) throw new Error(`state machine: bad snapshot data length ${data.length}`);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.appliedIndex = view.getUint32(0);
    this.hash = view.getUint32(4);
    this.payloadCount = view.getUint32(8);
  }
}
