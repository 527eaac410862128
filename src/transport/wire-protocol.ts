/**
 * The frames of the peer protocol and their validation.
 *
 * Each node dials every peer once; that outbound connection carries this
 * node's messages to the peer. The accepting side only sends control frames
 * back (challenge, welcome, refused, ping, snapAck), never Raft messages, so
 * between two nodes there is one connection per direction.
 *
 *   listener -> dialer  challenge {nonce}
 *   dialer -> listener  hello {v, clusterId, from, to, nonce, auth}
 *   listener -> dialer  welcome {auth} | refused {reason}
 *   dialer -> listener  msgs {m: Message[]} | snap {seq, off, total, head, chunk} ...
 *   listener -> dialer  ping (liveness) | snapAck {seq, received, done}
 *
 * How the channel is secured (peer-security.ts) does not change the frames:
 * with TLS they all ride the TLS channel; with a shared secret, hello.auth and
 * welcome.auth are the two ends' proofs (handshake-auth.ts) and every frame
 * after the welcome, in both directions, carries a MAC (frame-mac.ts).
 */
import type { Message, NodeId, SnapshotMessage } from '../raft/types.js';
import { isIndex, isNodeId, isRecord, parseEach, parseMessage, plainBytes } from './message-shape.js';

/** PROTOCOL_VERSION changes whenever a frame's meaning changes; mismatched peers are refused. */
export const PROTOCOL_VERSION = 2;

/** NONCE_BYTES is the size of each end's handshake nonce. */
export const NONCE_BYTES = 32;

/** RefusalReason says why the listener refused a hello; the dialer logs it. */
export type RefusalReason = 'version_mismatch' | 'cluster_mismatch' | 'wrong_node' | 'unknown_node' | 'auth_failed' | 'identity_mismatch';

/** ChallengeFrame opens every accepted connection: the listener's fresh random nonce. */
export interface ChallengeFrame {
  readonly k: 'challenge';
  readonly nonce: Uint8Array;
}

/** HelloFrame names the dialer, brings its nonce and, with a secret, its proof (handshake-auth.ts); null otherwise. */
export interface HelloFrame {
  readonly k: 'hello';
  readonly v: number;
  readonly clusterId: string;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly nonce: Uint8Array;
  readonly auth: Uint8Array | null;
}

/** WelcomeFrame accepts the hello, with the listener's proof when a secret is set; only now does the dialer send messages. */
export interface WelcomeFrame {
  readonly k: 'welcome';
  readonly auth: Uint8Array | null;
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
  'identity_mismatch',
]);

/** parseDialerFrame validates a frame received by the listener; null for anything malformed. */
export function parseDialerFrame(x: unknown): DialerFrame | null {
  if (!isRecord(x)) return null;
  switch (x['k']) {
    case 'hello': {
      const { v, clusterId, from, to } = x;
      const nonce = plainBytes(x['nonce']);
      const auth = nullableBytes(x['auth']);
      if (!isIndex(v) || typeof clusterId !== 'string' || !isNodeId(from) || !isNodeId(to)) return null;
      if (nonce === null || nonce.byteLength !== NONCE_BYTES || auth === undefined) return null;
      return { k: 'hello', v, clusterId, from, to, nonce, auth };
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
    case 'welcome': {
      const auth = nullableBytes(x['auth']);
      return auth === undefined ? null : { k: 'welcome', auth };
    }
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

/** nullableBytes is null for null, the bytes for a byte string, and undefined (malformed) for anything else. */
function nullableBytes(x: unknown): Uint8Array | null | undefined {
  if (x === null) return null;
  return plainBytes(x) ?? undefined;
}
