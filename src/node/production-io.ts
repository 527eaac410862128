/**
 * The production edges of a host (see host-io.ts): node's event loop for the
 * scheduler, Date.now and performance.now for the clock, PeerTransport (TCP)
 * and a RaftStore (LevelDB) behind the callback interfaces.
 */
import type { MemberRecord, Message, NodeId } from '../raft/index.js';
import type { RaftStore, SaveBatch } from '../storage/index.js';
import { PeerTransport, newSecurityStats, type PeerAddress, type PeerTransportOptions, type SecurityStats } from '../transport/index.js';
import { parseHostPort } from './node-config.js';
import type { Done, HostClock, HostScheduler, HostStore, HostTransport, TimerHandle, TransportHandlers } from './host-io.js';

interface NodeTimer extends TimerHandle {
  readonly timeout: NodeJS.Timeout;
}

/** EVENT_LOOP_SCHEDULER runs callbacks on node's event loop. */
export const EVENT_LOOP_SCHEDULER: HostScheduler = {
  defer: (fn) => {
    setImmediate(fn);
  },
  after: (ms, fn): NodeTimer => ({ timerId: 0, timeout: setTimeout(fn, ms) }),
  every: (ms, fn): NodeTimer => ({ timerId: 0, timeout: setInterval(fn, ms) }),
  cancel: (timer) => clearTimeout((timer as NodeTimer).timeout),
};

/** SYSTEM_CLOCK is this machine's clocks. */
export const SYSTEM_CLOCK: HostClock = {
  wallMs: () => Date.now(),
  monotonicMs: () => performance.now(),
};

/** TcpHostTransport is a PeerTransport whose callbacks are bound by the host that uses it. */
export class TcpHostTransport implements HostTransport {
  private transport: PeerTransport | null = null;

  constructor(private readonly options: Omit<PeerTransportOptions, 'onMessage' | 'onUnreachable' | 'onSnapshotSent'>) {}

  bind(handlers: TransportHandlers): void {
    if (this.transport !== null) throw new Error('TcpHostTransport bound twice');
    this.transport = new PeerTransport({
      ...this.options,
      onMessage: (m) => handlers.onMessage(m),
      onUnreachable: (peer) => handlers.onUnreachable(peer),
      onSnapshotSent: (peer, ok) => handlers.onSnapshotSent(peer, ok),
    });
  }

  open(): Promise<{ port: number }> {
    return this.bound().start();
  }

  send(messages: readonly Message[]): void {
    this.bound().send(messages);
  }

  /** setPeers dials new members and drops removed ones; a member in `--peers` is dialed at that address (it may be a proxy's). */
  flush(): void {
    this.bound().flush();
  }

  setPeers(members: readonly MemberRecord[]): void {
    const peers = new Map<NodeId, PeerAddress>();
    for (const m of members) {
      const addr = this.options.peers[m.id] ?? peerAddressOf(m);
      if (addr !== null) peers.set(m.id, addr);
    }
    this.bound().setPeers(peers);
  }

  close(): Promise<void> {
    return this.bound().stop();
  }

  /** securityStats counts what the transport's security refused (all zero before bind). */
  securityStats(): SecurityStats {
    return this.transport === null ? newSecurityStats() : this.transport.securityStats();
  }

  private bound(): PeerTransport {
    if (this.transport === null) throw new Error('TcpHostTransport used before bind()');
    return this.transport;
  }
}

/** peerAddressOf parses a member record's "host:port", or null when it has none (a bootstrap member) or it is malformed. */
function peerAddressOf(m: MemberRecord): PeerAddress | null {
  if (m.peerAddress === '') return null;
  try {
    return parseHostPort(m.peerAddress, `member ${m.id}`);
  } catch {
    return null;
  }
}

/** callbackStore adapts a promise-based RaftStore (LevelDB or its in-memory twin) to the host's callback interface. */
export function callbackStore(store: RaftStore): HostStore {
  const settle = (write: Promise<void>, done: Done): void => {
    write.then(
      () => done(null),
      (err: unknown) => done(err ?? new Error('store write failed')),
    );
  };
  return {
    save: (batch: SaveBatch, done) => settle(store.save(batch), done),
    saveSnapshot: (snapshot, done) => settle(store.saveSnapshot(snapshot), done),
    close: () => store.close(),
  };
}
