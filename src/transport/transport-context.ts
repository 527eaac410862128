/**
 * Options, resolved limits, logging and the small shared context that the
 * transport hands to its per-connection objects.
 */
import type { NodeId } from '../raft/types.js';
import { assert } from '../raft/invariant.js';
import { DEFAULT_MAX_FRAME_BYTES } from './frame-codec.js';
import type { ChannelSecurity, SecurityStats } from './peer-security.js';

/** TransportLogger is the pino-compatible subset the transport logs through: (fields, message). */
export interface TransportLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** PeerAddress is where a peer listens. Port 0 means "not known yet": the peer is not dialed until updatePeerAddress. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** TransportLimits are the bounds and timings of the transport; every field has a default. */
export interface TransportLimits {
  /** Messages queued for one peer (while it is down or slow) before the oldest are dropped. */
  readonly maxQueuedMessagesPerPeer: number;
  /** Estimated bytes queued for one peer before the oldest messages are dropped. */
  readonly maxQueuedBytesPerPeer: number;
  /** Largest frame payload sent or accepted (after the handshake). */
  readonly maxFrameBytes: number;
  /** Size of one snapshot data chunk. */
  readonly snapshotChunkBytes: number;
  /** Snapshot chunks written but not yet acknowledged by the receiver; bounds how long a heartbeat can queue behind snapshot data. */
  readonly snapshotWindowChunks: number;
  /** Largest snapshot sent or accepted. */
  readonly maxSnapshotBytes: number;
  /** Time from dialing (or accepting) until the handshake must be complete. */
  readonly handshakeTimeoutMs: number;
  /** Interval of the listener's pings and of the dialer's liveness checks. */
  readonly keepaliveIntervalMs: number;
  /** A dialer that has heard nothing (not even a ping) for this long drops the connection and redials. */
  readonly idleTimeoutMs: number;
  /** A snapshot whose acknowledgements stop advancing for this long fails and the connection is dropped. */
  readonly snapshotAckTimeoutMs: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** Accepted connections that have not completed the handshake yet; more are closed at once. */
  readonly maxPendingHandshakes: number;
  /** Bytes allowed in a socket's user-space write buffer before the transport stops writing to it and lets the queue absorb (and drop). */
  readonly maxSocketBufferedBytes: number;
}

/** DEFAULT_TRANSPORT_LIMITS are the production defaults. */
export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  maxQueuedMessagesPerPeer: 10_000,
  maxQueuedBytesPerPeer: 64 * 1024 * 1024,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  snapshotChunkBytes: 512 * 1024,
  snapshotWindowChunks: 2,
  maxSnapshotBytes: 1024 * 1024 * 1024,
  handshakeTimeoutMs: 5_000,
  keepaliveIntervalMs: 1_000,
  idleTimeoutMs: 5_000,
  snapshotAckTimeoutMs: 30_000,
  reconnectMinMs: 50,
  reconnectMaxMs: 2_000,
  maxPendingHandshakes: 64,
  maxSocketBufferedBytes: 4 * 1024 * 1024,
};

/** HANDSHAKE_MAX_FRAME_BYTES bounds what an unauthenticated connection can make us buffer. */
export const HANDSHAKE_MAX_FRAME_BYTES = 16 * 1024;

/** SNAPSHOT_FRAME_OVERHEAD_BYTES is room for a chunk frame's header fields next to the data. */
export const SNAPSHOT_FRAME_OVERHEAD_BYTES = 4 * 1024;

/** resolveLimits fills defaults and checks that the limits are consistent. */
export function resolveLimits(partial: Partial<TransportLimits>): TransportLimits {
  // Copy only the limit keys: callers pass their whole options object.
  const limits: Record<string, unknown> = {};
  for (const [key, fallback] of Object.entries(DEFAULT_TRANSPORT_LIMITS)) {
    const value = (partial as Record<string, unknown>)[key];
    limits[key] = value === undefined ? fallback : value;
  }
  for (const [key, value] of Object.entries(limits)) {
    assert(typeof value === 'number' && Number.isSafeInteger(value) && value > 0, `transport limit ${key} must be a positive integer, got ${String(value)}`);
  }
  return checkLimits(limits as unknown as TransportLimits);
}

function checkLimits(limits: TransportLimits): TransportLimits {
  assert(limits.maxFrameBytes >= HANDSHAKE_MAX_FRAME_BYTES, 'maxFrameBytes must be at least the handshake frame limit');
  assert(
    limits.snapshotChunkBytes + SNAPSHOT_FRAME_OVERHEAD_BYTES <= limits.maxFrameBytes,
    'snapshotChunkBytes plus frame overhead must fit in maxFrameBytes',
  );
  assert(limits.reconnectMinMs <= limits.reconnectMaxMs, 'reconnectMinMs must not exceed reconnectMaxMs');
  assert(limits.keepaliveIntervalMs < limits.idleTimeoutMs, 'idleTimeoutMs must exceed keepaliveIntervalMs');
  return limits;
}

/** NOOP_LOGGER discards everything. */
export const NOOP_LOGGER: TransportLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * LogLimiter lets a noisy event (a flood of bad connections, a peer that stays
 * down) log at most once per interval per key, counting what it suppressed.
 */
export class LogLimiter {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(readonly intervalMs: number) {}

  /** allow returns the number of suppressed events since the last allowed one, or null when this one must be suppressed. */
  allow(key: string, nowMs: number): number | null {
    const seen = this.last.get(key);
    if (seen !== undefined && nowMs - seen.atMs < this.intervalMs) {
      seen.suppressed += 1;
      return null;
    }
    // Keys are reasons and peer ids (never remote addresses), so the map stays small; clear as a last-resort bound.
    if (this.last.size >= 1024) this.last.clear();
    this.last.set(key, { atMs: nowMs, suppressed: 0 });
    return seen?.suppressed ?? 0;
  }
}

/** TransportContext is what a connection object needs from its transport. */
export interface TransportContext {
  readonly id: NodeId;
  readonly clusterId: string;
  /** How connections are secured (TLS, a shared secret, or not at all). */
  readonly security: ChannelSecurity;
  /** What the transport refused, counted; connections increment these. */
  readonly stats: SecurityStats;
  readonly limits: TransportLimits;
  readonly logger: TransportLogger;
  readonly limiter: LogLimiter;
  /** stopped is true once stop() began; connections then do nothing further. */
  isStopped(): boolean;
  /** defer runs `fn` on a later event-loop turn unless the transport stopped meanwhile; callbacks never run inside send(). */
  defer(fn: () => void): void;
  /** warnLimited logs a warning unless the same key warned within the limiter interval. */
  warnLimited(key: string, obj: object, msg: string): void;
}
