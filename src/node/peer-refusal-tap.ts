/**
 * PeerRefusalTap counts the peer handshakes that were refused, by direction
 * and reason, from what the transport logs (it logs every refusal as a
 * rate-limited warning that carries the number it suppressed since the last
 * one, so the counts are exact, if up to one interval late). Its one use that
 * matters: a member whose peers refuse it for `cluster_mismatch` is not part
 * of their cluster (its store was created for another cluster, e.g. a wiped
 * machine bootstrapped again with a new id), and must say so (member-health.ts).
 *
 * The two messages below are the transport's (src/transport); the test
 * test/node/peer-refusal-tap.test.ts runs two real transports of different
 * clusters against this tap, so a change there shows here.
 */
import type { NodeId } from '../raft/index.js';
import type { TransportLogger } from '../transport/index.js';

/** What the dialing side logs when a peer refuses its hello. */
export const OUTBOUND_REFUSAL_MESSAGE = 'peer refused our handshake';
/** What the listening side logs when it refuses a hello. */
export const INBOUND_REFUSAL_MESSAGE = 'refused inbound peer connection';

/** RefusalDirection: `outbound` = a peer refused us; `inbound` = we refused a peer. */
export type RefusalDirection = 'inbound' | 'outbound';

/** RefusalCount is how many handshakes were refused in one direction for one reason. */
export interface RefusalCount {
  readonly direction: RefusalDirection;
  readonly reason: string;
  readonly count: number;
}

/** PeerRefusalTap wraps the transport's logger; see the module comment. */
export class PeerRefusalTap {
  private readonly counts = new Map<string, RefusalCount>();
  /** When each peer last refused us for a cluster id mismatch (monotonic ms). */
  private readonly clusterRefusedAtMs = new Map<NodeId, number>();

  /** `nowMs` is a monotonic clock. */
  constructor(private readonly nowMs: () => number) {}

  /** logger is `inner` with every warning also shown to this tap. */
  logger(inner: TransportLogger): TransportLogger {
    return {
      debug: (obj, msg) => inner.debug(obj, msg),
      info: (obj, msg) => inner.info(obj, msg),
      warn: (obj, msg) => {
        this.observe(obj, msg);
        inner.warn(obj, msg);
      },
      error: (obj, msg) => inner.error(obj, msg),
    };
  }

  /** refusals lists the counts so far, one per direction and reason seen. */
  get refusals(): RefusalCount[] {
    return [...this.counts.values()];
  }

  /** peersRefusingClusterId lists the peers that refused us for a cluster id mismatch within the last `windowMs`. */
  peersRefusingClusterId(windowMs: number): NodeId[] {
    const since = this.nowMs() - windowMs;
    return [...this.clusterRefusedAtMs].filter(([, atMs]) => atMs >= since).map(([peer]) => peer);
  }

  private observe(obj: object, msg: string): void {
    const direction: RefusalDirection | null = msg === OUTBOUND_REFUSAL_MESSAGE ? 'outbound' : msg === INBOUND_REFUSAL_MESSAGE ? 'inbound' : null;
    if (direction === null) return;
    const fields = obj as { reason?: unknown; peer?: unknown; suppressed?: unknown };
    const reason = typeof fields.reason === 'string' ? fields.reason : 'unknown';
    const suppressed = typeof fields.suppressed === 'number' ? fields.suppressed : 0;
    const key = `${direction}:${reason}`;
    const count = (this.counts.get(key)?.count ?? 0) + 1 + suppressed;
    this.counts.set(key, { direction, reason, count });
    if (direction === 'outbound' && reason === 'cluster_mismatch' && typeof fields.peer === 'string') {
      this.clusterRefusedAtMs.set(fields.peer, this.nowMs());
    }
  }
}
