import type { Entry } from '../../src/raft/types.js';

/**
 * Digests the checkers compare instead of whole values: an entry's content,
 * a snapshot's bytes, and the running hash chain of what a replica applied.
 * Two FNV-1a passes with different offsets give 64 bits, plenty for the
 * (index, term)-scoped comparisons they are used in.
 */

function fnv1a(bytes: Uint8Array, offset: number): number {
  let h = offset;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** bytesDigest names a byte string: its length and two 32-bit hashes. */
export function bytesDigest(bytes: Uint8Array): string {
  return `${bytes.length}:${fnv1a(bytes, 0x811c9dc5).toString(16)}:${fnv1a(bytes, 0x01000193).toString(16)}`;
}

/** entryKey names an entry's content: "" for a leader no-op, "config:<voters>" for a config entry, else a digest of the command bytes. */
export function entryKey(entry: Entry): string {
  if (entry.type === 'config') return `config:${(entry.config?.voters ?? []).join(',')}`;
  return entry.data.length === 0 ? '' : bytesDigest(entry.data);
}

/** hashString is 32-bit FNV-1a over UTF-16 code units. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** chainHash folds one applied entry (its position, content and result) into the running hash of the applied sequence. */
export function chainHash(previous: number, index: number, term: number, key: string): number {
  let h = previous ^ Math.imul(index, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ term;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ hashString(key);
  return (h ^ (h >>> 16)) >>> 0;
}
