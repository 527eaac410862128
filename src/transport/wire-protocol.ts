/**
 * The frames of the peer protocol and their validation.
 *
 * Each node dials every peer once; that outbound connection carries this
 * node's messages to the peer. The accepting side only sends control frames
 * back (challenge, welcome, refused, ping, snapAck), never Raft messages, so
 * between two nodes there is one connection per direction.
 *
 *   listener -> dialer  challenge {nonce}
 *   dialer -> listener  hello {v, clusterId, from, to, auth}
 *   listener -> dialer  welcome | refused {reason}
 *   dialer -> listener  msgs {m: Message[]} | snap {seq, off, total, head, chunk} ...
 *   listener -> dialer  ping (liveness) | snapAck {seq, received, done}
 */
import type { Message, NodeId, SnapshotMessage } from '../raft/types.js';
import { isIndex, isNodeId, isRecord, parseEach, parseMessage, plainBytes } from './message-shape.js';

/** PROTOCOL_VERSION changes whenever a frame's meaning changes; mismatched peers are refused. */
export const PROTOCOL_VERSION = 1;

/** NONCE_BYTES is the size of the listener's challenge. */
export const NONCE_BYTES = 32;

/** RefusalReason says why the listener refused a hello; the dialer logs it. */
export type RefusalReason = 'version_mismatch' | 'cluster_mismatch' | 'wrong_node' | 'unknown_node' | 'auth_failed';

/** ChallengeFrame opens every accepted connection: a fresh random nonce (used for auth when a secret is set). */
export interface ChallengeFrame {
  readonly k: 'challenge';
  readonly nonce: Uint8Array;
}

/** HelloFrame names the dialer and, with a secret, proves it knows the secret: auth = HMAC(secret, nonce|from|to|clusterId). */
export interface HelloFrame {
  readonly k: 'hello';
  readonly v: number;
  readonly clusterId: string;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly auth: Uint8Array | null;
}

/** WelcomeFrame accepts the hello; only now does the dialer send messages. */
export interface WelcomeFrame {
  readonly k: 'welcome';
}

/** RefusedFrame precedes the listener closing a connection whose hello it rejected. */
export interface RefusedFrame {
  readonly k: 'refused';
  readonly reason: RefusalReason;
}

/** PingFrame lets the dialer notice a silent (black-holed) connection it would otherwise keep writing into. */
export interface PingFrame {
  readonly k: 'ping';
}

/** MessagesFrame is one batch: every message queued for this peer in one event-loop turn (up to a size bound). */
export interface MessagesFrame {
  readonly k: 'msgs';
  readonly m: readonly Message[];
}

/**
 * SnapshotChunkFrame is one piece of a snapshot's data. The first chunk
 * (off 0) carries the message header (`head`, the SnapshotMessage with data
 * null) and `total`; later chunks continue at exactly the received offset.
 */
export interface SnapshotChunkFrame {
  readonly k: 'snap';
  readonly seq: number;
  readonly off: number;
  readonly total: number;
  readonly head: SnapshotMessage | null;
  readonly chunk: Uint8Array;
}

/** SnapshotAckFrame reports how many bytes of snapshot `seq` arrived; `done` once it was delivered whole. It paces the sender. */
export interface SnapshotAckFrame {
  readonly k: 'snapAck';
  readonly seq: number;
  readonly received: number;
  readonly done: boolean;
}

/** DialerFrame is what the dialing side sends. */
export type DialerFrame = HelloFrame | MessagesFrame | SnapshotChunkFrame;

/** ListenerFrame is what the accepting side sends. */
export type ListenerFrame = ChallengeFrame | WelcomeFrame | RefusedFrame | PingFrame | SnapshotAckFrame;

const REFUSAL_REASONS: ReadonlySet<string> = new Set<RefusalReason>([
  'version_mismatch',
  'cluster_mismatch',
  'wrong_node',
  'unknown_node',
  'auth_failed',
]);

/** parseDialerFrame validates a frame received by the listener; null for anything malformed. */
export function parseDialerFrame(x: unknown): DialerFrame | null {
  if (!isRecord(x)) return null;
  switch (x['k']) {
    case 'hello': {
      const { v, clusterId, from, to } = x;
      const auth = x['auth'] === null ? null : plainBytes(x['auth']);
      if (!isIndex(v) || typeof clusterId !== 'string' || !isNodeId(from) || !isNodeId(to)) return null;
      if (auth === null && x['auth'] !== null) return null;
      return { k: 'hello', v, clusterId, from, to, auth };
    }
    case 'msgs': {
      const m = parseEach(x['m'], (raw) => parseMessage(raw));
      if (m === null) return null;
      return { k: 'msgs', m };
    }
    case 'snap': {
      const { seq, off, total } = x;
      const chunk = plainBytes(x['chunk']);
      if (!isIndex(seq) || !isIndex(off) || !isIndex(total) || chunk === null) return null;
      let head: SnapshotMessage | null = null;
      if (x['head'] !== null) {
        const parsed = parseMessage(x['head'], true);
        if (parsed === null || parsed.type !== 'snapshot' || parsed.data !== null) return null;
        head = parsed;
      }
      return { k: 'snap', seq, off, total, head, chunk };
    }
    default:
      return null;
  }
}

/** parseListenerFrame validates a frame received by the dialer; null for anything malformed. */
export function parseListenerFrame(x: unknown): ListenerFrame | null {
  if (!isRecord(x)) return null;
  switch (x['k']) {
    case 'challenge': {
      const nonce = plainBytes(x['nonce']);
      if (nonce === null || nonce.byteLength !== NONCE_BYTES) return null;
      return { k: 'challenge', nonce };
    }
    case 'welcome':
      return { k: 'welcome' };
    case 'refused': {
      const reason = x['reason'];
      if (typeof reason !== 'string' || !REFUSAL_REASONS.has(reason)) return null;
      return { k: 'refused', reason: reason as RefusalReason };
    }
    case 'ping':
      return { k: 'ping' };
    case 'snapAck': {
      const { seq, received, done } = x;
      if (!isIndex(seq) || !isIndex(received) || typeof done !== 'boolean') return null;
      return { k: 'snapAck', seq, received, done };
    }
    default:
      return null;
  }
}
