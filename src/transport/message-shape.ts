/**
 * Shape validation for Raft messages arriving from the network. A peer may run
 * a different version or be buggy; the core must only ever see well-typed
 * values, so every decoded message is rebuilt field by field (unknown fields are
 * dropped, byte strings become plain Uint8Arrays) or rejected as a whole.
 */
import type { ConfState, Entry, MemberRecord, Message, NodeId, SnapshotMeta } from '../raft/types.js';
import { confStateProblem } from '../raft/configuration.js';

/** MAX_NODE_ID_LENGTH bounds a node name on the wire. */
export const MAX_NODE_ID_LENGTH = 256;

/** Record is a decoded msgpack map. */
export type WireRecord = { readonly [key: string]: unknown };

/** isRecord is true for a plain decoded map (not an array, byte string or null). */
export function isRecord(x: unknown): x is WireRecord {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}

/** isIndex is true for a non-negative safe integer (terms, indexes, offsets). */
export function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** isNodeId is true for a non-empty, bounded string. */
export function isNodeId(x: unknown): x is NodeId {
  return typeof x === 'string' && x.length > 0 && x.length <= MAX_NODE_ID_LENGTH;
}

/**
 * plainBytes returns a copy of a decoded byte string as a plain Uint8Array, or
 * null if `x` is not one. The decoder hands out views into the received frame;
 * copying here (once) means a log entry does not pin the whole socket chunk it
 * arrived in, and consumers see the same type the simulated network delivers.
 */
export function plainBytes(x: unknown): Uint8Array | null {
  if (!(x instanceof Uint8Array)) return null;
  return new Uint8Array(x);
}

/** MAX_ADDRESS_LENGTH bounds a member's peer address or HTTP URL on the wire. */
const MAX_ADDRESS_LENGTH = 1024;

function isAddress(x: unknown): x is string {
  return typeof x === 'string' && x.length <= MAX_ADDRESS_LENGTH;
}

function parseMemberRecord(x: unknown): MemberRecord | null {
  if (!isRecord(x)) return null;
  const { id, peerAddress, httpUrl } = x;
  if (!isNodeId(id) || !isAddress(peerAddress) || !isAddress(httpUrl)) return null;
  return { id, peerAddress, httpUrl };
}

/**
 * parseConfState validates a configuration, which must also be well-formed (confStateProblem): the core asserts that
 * of every configuration it adopts. A peer from before learners existed sends voters only; that is a configuration
 * without learners or member records.
 */
function parseConfState(x: unknown): ConfState | null {
  if (!isRecord(x)) return null;
  const voters = parseEach(x['voters'], (v) => (isNodeId(v) ? v : null));
  const learners = x['learners'] === undefined ? [] : parseEach(x['learners'], (v) => (isNodeId(v) ? v : null));
  const members = x['members'] === undefined ? [] : parseEach(x['members'], parseMemberRecord);
  if (voters === null || learners === null || members === null) return null;
  const config: ConfState = { voters, learners, members };
  return confStateProblem(config) === null ? config : null;
}

/** parseSnapshotMeta validates a SnapshotMeta. */
export function parseSnapshotMeta(x: unknown): SnapshotMeta | null {
  if (!isRecord(x)) return null;
  const { index, term } = x;
  const config = parseConfState(x['config']);
  if (!isIndex(index) || !isIndex(term) || config === null) return null;
  return { index, term, config };
}

function parseEntry(x: unknown): Entry | null {
  if (!isRecord(x)) return null;
  const { index, term, type } = x;
  const data = plainBytes(x['data']);
  if (!isIndex(index) || !isIndex(term) || data === null) return null;
  if (type === 'normal') return { index, term, type, data };
  if (type === 'config') {
    // A config entry without its voter set would break the core's membership bookkeeping (Raft §6).
    const config = parseConfState(x['config']);
    if (config === null) return null;
    return { index, term, type, data, config };
  }
  return null;
}

/** parseEach parses every element of an array with `parse`: null if `x` is not an array or `parse` rejects any element. */
export function parseEach<T>(x: unknown, parse: (element: unknown) => T | null): T[] | null {
  if (!Array.isArray(x)) return null;
  const out: T[] = [];
  for (const element of x) {
    const parsed = parse(element);
    if (parsed === null) return null;
    out.push(parsed);
  }
  return out;
}

function isContext(x: unknown): x is string | null {
  return x === null || typeof x === 'string';
}

/**
 * parseMessage returns a freshly built Message when `x` has exactly the shape
 * of one of the Message kinds, else null. A snapshot message may carry
 * `data: null` only when `allowNullSnapshotData` (the header of a chunked
 * snapshot); a message handed to the core always has its data.
 */
export function parseMessage(x: unknown, allowNullSnapshotData = false): Message | null {
  if (!isRecord(x)) return null;
  const { type, from, to, term } = x;
  if (!isNodeId(from) || !isNodeId(to) || !isIndex(term)) return null;
  switch (type) {
    case 'vote':
    case 'preVote': {
      const { lastLogIndex, lastLogTerm, transfer } = x;
      if (!isIndex(lastLogIndex) || !isIndex(lastLogTerm) || typeof transfer !== 'boolean') return null;
      return { type, from, to, term, lastLogIndex, lastLogTerm, transfer };
    }
    case 'voteResponse':
    case 'preVoteResponse': {
      const { reject } = x;
      if (typeof reject !== 'boolean') return null;
      return { type, from, to, term, reject };
    }
    case 'append': {
      const { prevLogIndex, prevLogTerm, commit } = x;
      const entries = parseEach(x['entries'], parseEntry);
      if (!isIndex(prevLogIndex) || !isIndex(prevLogTerm) || !isIndex(commit) || entries === null) return null;
      return { type, from, to, term, prevLogIndex, prevLogTerm, entries, commit };
    }
    case 'appendResponse': {
      const { reject, index, hintIndex, hintTerm } = x;
      if (typeof reject !== 'boolean' || !isIndex(index) || !isIndex(hintIndex) || !isIndex(hintTerm)) return null;
      return { type, from, to, term, reject, index, hintIndex, hintTerm };
    }
    case 'heartbeat': {
      const { commit, context } = x;
      if (!isIndex(commit) || !isContext(context)) return null;
      return { type, from, to, term, commit, context };
    }
    case 'heartbeatResponse': {
      const { context } = x;
      if (!isContext(context)) return null;
      return { type, from, to, term, context };
    }
    case 'snapshot': {
      const meta = parseSnapshotMeta(x['meta']);
      if (meta === null) return null;
      if (x['data'] === null && allowNullSnapshotData) return { type, from, to, term, meta, data: null };
      const data = plainBytes(x['data']);
      if (data === null) return null;
      return { type, from, to, term, meta, data };
    }
    case 'timeoutNow':
      return { type, from, to, term };
    default:
      return null;
  }
}

/**
 * estimateMessageBytes is a cheap upper-ish estimate of a message's encoded
 * size, used to bound per-peer queues and to size frames without encoding
 * twice. Snapshot data is not counted: snapshots travel outside the queue.
 */
export function estimateMessageBytes(m: Message): number {
  const base = 96 + m.from.length + m.to.length;
  switch (m.type) {
    case 'append': {
      let bytes = base;
      for (const e of m.entries) {
        bytes += 48 + e.data.byteLength;
        if (e.config !== undefined) bytes += estimateConfigBytes(e.config);
      }
      return bytes;
    }
    case 'heartbeat':
    case 'heartbeatResponse':
      return base + (m.context?.length ?? 0) * 3;
    case 'snapshot':
      return base + 64 + estimateConfigBytes(m.meta.config);
    default:
      return base;
  }
}

function estimateConfigBytes(c: ConfState): number {
  let bytes = 0;
  for (const id of c.voters) bytes += 8 + id.length;
  for (const id of c.learners) bytes += 8 + id.length;
  for (const m of c.members) bytes += 48 + m.id.length + m.peerAddress.length + m.httpUrl.length;
  return bytes;
}
