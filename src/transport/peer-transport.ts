/**
 * PeerTransport carries Raft messages between cluster members over TCP.
 *
 * Connection model: one connection per direction. This node dials every peer
 * and sends its messages on that outbound connection; connections accepted
 * from peers carry the peers' messages to us, and we answer on them only with
 * control frames (handshake, pings, snapshot acks). Per direction there is a
 * single ordered byte stream, so messages to a peer arrive in send order
 * (Raft does not need this, but it keeps pipelined appends cheap).
 *
 * Batching: send() only queues; one setImmediate per event-loop turn flushes
 * every peer's queue as frames of ~1 MiB (a frame is an array of messages) in
 * one corked write. TCP_NODELAY is set, so the batch leaves at once.
 *
 * Loss: per-peer queues are bounded by count and bytes and drop the oldest
 * message when full; Raft retries on its own timers (Raft §5.1, §5.3).
 *
 * Snapshots: sent outside the queue, one per peer at a time, in chunks of
 * snapshotChunkBytes. The receiver acknowledges each chunk and the sender keeps
 * at most snapshotWindowChunks unacknowledged, so a heartbeat queued during a
 * snapshot waits behind at most that much data (1 MiB by default), never the
 * whole snapshot. onSnapshotSent(peer, true) fires once the receiver has the
 * whole snapshot and handed it to its host (its final ack); false when the
 * connection fails first.
 *
 * Security: every connection is secured as `security` says (peer-security.ts):
 * mutual TLS, or a shared secret with a MAC on every frame, or (asked for
 * explicitly) nothing. A message reaches onMessage only from a connection
 * whose sender proved its identity, is a current peer, and names itself as
 * the message's sender; anything else is dropped, counted (securityStats)
 * and logged.
 */
import type { Server, Socket } from 'node:net';
import type { Message, NodeId } from '../raft/types.js';
import { assert } from '../raft/invariant.js';
import { InboundConnection } from './inbound-connection.js';
import { OutboundPeer, type PeerStats } from './outbound-peer.js';
import { ChannelSecurity, newSecurityStats, remoteOf, type PeerSecurity, type SecurityStats } from './peer-security.js';
import {
  LogLimiter,
  NOOP_LOGGER,
  resolveLimits,
  type PeerAddress,
  type TransportContext,
  type TransportLimits,
  type TransportLogger,
} from './transport-context.js';

/** PeerTransportOptions configure a transport. Limits not given take DEFAULT_TRANSPORT_LIMITS. */
export interface PeerTransportOptions extends Partial<TransportLimits> {
  readonly id: NodeId;
  readonly listen: PeerAddress;
  /** Every other member's address; an entry for `id` itself is ignored. */
  readonly peers: Readonly<Record<NodeId, PeerAddress>>;
  /** How connections are secured; `{mode: 'insecure'}` checks only clusterId and the sender's claimed id. */
  readonly security: PeerSecurity;
  readonly clusterId: string;
  /** Called for every valid message from an authenticated peer addressed to this node, in arrival order. Exceptions propagate (fail-stop). */
  readonly onMessage: (m: Message) => void;
  /** Called (deferred, at most once per reconnect backoff step) when a peer cannot be reached. */
  readonly onUnreachable: (peer: NodeId) => void;
  /** Called (deferred or from socket events, never inside send) with the outcome of each snapshot handed to send(). */
  readonly onSnapshotSent?: (peer: NodeId, ok: boolean) => void;
  readonly logger?: TransportLogger;
}

/** TransportErrorCode names the transport's expected failures. */
export type TransportErrorCode = 'listen_failed';

/** TransportError is an expected failure, e.g. the listen address is in use. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly code: TransportErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** WARN_INTERVAL_MS is how often one kind of repeated warning may be logged. */
const WARN_INTERVAL_MS = 10_000;

/** PeerTransport is the TCP transport between Raft peers (see the file comment for the connection model). */
export class PeerTransport {
  readonly id: NodeId;
  private readonly opts: PeerTransportOptions;
  private readonly ctx: TransportContext;
  private readonly outbound = new Map<NodeId, OutboundPeer>();
  /** Authenticated inbound connections, at most one per peer (a newer one replaces the older). */
  private readonly inboundByPeer = new Map<NodeId, InboundConnection>();
  /** Accepted connections still handshaking; with pendingTls, bounded by maxPendingHandshakes. */
  private readonly pendingInbound = new Set<InboundConnection>();
  /** TCP connections still in their TLS handshake, by remote address and port (what a TLS socket and its TCP socket share). */
  private readonly pendingTls = new Map<string, Socket>();
  private readonly dirty = new Set<OutboundPeer>();
  private flushImmediate: NodeJS.Immediate | null = null;
  private server: Server | null = null;
  private started = false;
  private stopped = false;

  constructor(opts: PeerTransportOptions) {
    assert(opts.id.length > 0, 'transport id must be non-empty');
    assert(opts.clusterId.length > 0, 'clusterId must be non-empty');
    this.id = opts.id;
    this.opts = opts;
    const logger = opts.logger ?? NOOP_LOGGER;
    const limiter = new LogLimiter(WARN_INTERVAL_MS);
    const limits = resolveLimits(opts);
    this.ctx = {
      id: opts.id,
      clusterId: opts.clusterId,
      security: new ChannelSecurity(opts.security, opts.clusterId, limits),
      stats: newSecurityStats(),
      limits,
      logger,
      limiter,
      isStopped: () => this.stopped,
      defer: (fn) => {
        setImmediate(() => {
          if (!this.stopped) fn();
        });
      },
      warnLimited: (key, obj, msg) => {
        const suppressed = limiter.allow(key, Date.now());
        if (suppressed === null) return;
        logger.warn(suppressed > 0 ? { ...obj, suppressed } : obj, msg);
      },
    };
    for (const [peer, addr] of Object.entries(opts.peers)) {
      if (peer !== opts.id) this.addPeer(peer, addr);
    }
  }

  /** start binds the listener (port 0 picks a free port) and begins dialing peers; resolves with the bound port. */
  async start(): Promise<{ port: number }> {
    assert(!this.started, 'transport started twice');
    this.started = true;
    const server = this.ctx.security.createServer({
      onConnection: (raw) => this.onConnection(raw),
      onChannel: (socket) => this.onChannel(socket),
      onTlsFailure: (reason, remote) => this.onTlsFailure(reason, remote),
    });
    this.server = server;
    const port = await new Promise<number>((resolve, reject) => {
      const onError = (err: Error): void => reject(new TransportError('listen_failed', `cannot listen on ${this.opts.listen.host}:${this.opts.listen.port}: ${err.message}`));
      server.once('error', onError);
      server.listen(this.opts.listen.port, this.opts.listen.host, () => {
        server.off('error', onError);
        const address = server.address();
        assert(address !== null && typeof address === 'object', 'a TCP server has an address object');
        resolve(address.port);
      });
    });
    server.on('error', (err) => this.ctx.logger.error({ err: err.message }, 'peer listener error'));
    this.ctx.logger.info({ id: this.id, host: this.opts.listen.host, port, security: this.ctx.security.mode }, 'peer transport listening');
    if (!this.stopped) for (const peer of this.outbound.values()) peer.start();
    return { port };
  }

  /**
   * send queues messages for their destinations and returns at once; they are
   * written on the next event-loop turn. Snapshot messages must carry data.
   * Messages to unknown peers are dropped (logged).
   */
  send(messages: readonly Message[]): void {
    if (this.stopped) return;
    for (const m of messages) {
      assert(m.from === this.id, () => `message from ${m.from} sent through the transport of ${this.id}`);
      assert(m.to !== this.id, () => `message to self (${m.type}) handed to the transport`);
      const peer = this.outbound.get(m.to);
      if (peer === undefined) {
        this.ctx.warnLimited(`send:unknown:${m.to}`, { to: m.to, type: m.type }, 'dropped message to an unknown peer');
        continue;
      }
      if (m.type === 'snapshot') peer.sendSnapshot(m);
      else peer.enqueue(m);
    }
  }

  /** updatePeerAddress sets (or adds) a peer's address and redials it now. */
  updatePeerAddress(id: NodeId, addr: PeerAddress): void {
    assert(id !== this.id, 'cannot set the address of self');
    if (this.stopped) return;
    const peer = this.outbound.get(id);
    if (peer === undefined) {
      const added = this.addPeer(id, addr);
      if (this.started) added.start();
      return;
    }
    peer.setAddress(addr);
  }

  /**
   * setPeers makes the dialed peers those listed (a cluster configuration's members, with their addresses) plus the
   * peers this transport was started with: a listed peer not yet known is dialed, and a known one no longer listed
   * is dropped, with its queue and connection, unless it is a starting peer (a node replaying an old configuration
   * must still reach them). A known peer keeps its address.
   */
  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void {
    if (this.stopped) return;
    for (const [id, addr] of peers) if (id !== this.id && !this.outbound.has(id)) this.updatePeerAddress(id, addr);
    for (const [id, peer] of [...this.outbound]) {
      if (peers.has(id) || id in this.opts.peers) continue;
      this.outbound.delete(id);
      this.dirty.delete(peer);
      void peer.stop();
      this.ctx.logger.info({ peer: id }, 'peer left the configuration, dropped');
    }
  }

  /** peerStats returns one peer's outbound counters, or null for an unknown peer. */
  peerStats(id: NodeId): PeerStats | null {
    return this.outbound.get(id)?.stats() ?? null;
  }

  /** securityStats returns a copy of the counters of what the transport refused. */
  securityStats(): SecurityStats {
    return { ...this.ctx.stats };
  }

  /** isConnected is true while the outbound connection to `id` is established and authenticated. */
  isConnected(id: NodeId): boolean {
    return this.outbound.get(id)?.state === 'ready';
  }

  /** stop closes the listener and every connection and clears all timers; resolves once all sockets are closed. No callback runs afterwards. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.flushImmediate !== null) clearImmediate(this.flushImmediate);
    this.flushImmediate = null;
    this.dirty.clear();
    const closing: Promise<void>[] = [];
    for (const peer of this.outbound.values()) closing.push(peer.stop());
    for (const conn of [...this.pendingInbound, ...this.inboundByPeer.values()]) conn.close('transport stopped');
    for (const raw of this.pendingTls.values()) raw.destroy();
    this.pendingInbound.clear();
    this.pendingTls.clear();
    this.inboundByPeer.clear();
    const server = this.server;
    this.server = null;
    // server.close calls back once every accepted connection has closed too.
    if (server !== null && server.listening) closing.push(new Promise<void>((resolve) => server.close(() => resolve())));
    await Promise.all(closing);
    this.ctx.logger.info({ id: this.id }, 'peer transport stopped');
  }

  private addPeer(id: NodeId, addr: PeerAddress): OutboundPeer {
    const peer = new OutboundPeer(this.ctx, id, addr, {
      onUnreachable: (p) => this.opts.onUnreachable(p),
      onSnapshotSent: (p, ok) => this.opts.onSnapshotSent?.(p, ok),
      scheduleFlush: (p) => this.scheduleFlush(p),
    });
    this.outbound.set(id, peer);
    return peer;
  }

  private scheduleFlush(peer: OutboundPeer): void {
    this.dirty.add(peer);
    if (this.flushImmediate !== null) return;
    // One flush per event-loop turn: everything sent in this turn shares frames and one write per peer.
    this.flushImmediate = setImmediate(() => {
      this.flushImmediate = null;
      this.flushDirty();
    });
  }

  /**
   * flush writes what send() queued now instead of at the turn's end. A host calls it once it has sent what it must
   * send before going on: a setImmediate scheduled from inside a setImmediate (the host's Ready loop) runs only in the
   * next loop iteration, after another poll phase, so a leader's appends left one iteration late.
   */
  flush(): void {
    if (this.flushImmediate !== null) {
      clearImmediate(this.flushImmediate);
      this.flushImmediate = null;
    }
    this.flushDirty();
  }

  private flushDirty(): void {
    if (this.dirty.size === 0) return;
    const peers = [...this.dirty];
    this.dirty.clear();
    for (const p of peers) p.flush();
  }

  /** onConnection admits a TCP connection while fewer than maxPendingHandshakes are unauthenticated (in TLS or in the hello). */
  private onConnection(raw: Socket): boolean {
    if (this.stopped) return false;
    const pending = this.pendingInbound.size + this.pendingTls.size;
    if (pending >= this.ctx.limits.maxPendingHandshakes) {
      this.ctx.warnLimited('inbound:too_many_pending', { remote: remoteOf(raw), pending }, 'too many unauthenticated connections, refusing');
      return false;
    }
    if (this.ctx.security.mode === 'tls') {
      const key = remoteOf(raw);
      this.pendingTls.set(key, raw);
      raw.once('close', () => {
        if (this.pendingTls.get(key) === raw) this.pendingTls.delete(key);
      });
    }
    return true;
  }

  private onTlsFailure(reason: string, remote: string): void {
    this.ctx.stats.tlsFailures += 1;
    this.ctx.warnLimited('inbound:tls_failed', { remote, reason }, 'refused inbound peer connection: TLS handshake failed');
  }

  /** onChannel starts the peer handshake on an admitted connection (with TLS: once its certificate was verified). */
  private onChannel(socket: Socket): void {
    this.pendingTls.delete(remoteOf(socket));
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const conn = new InboundConnection(this.ctx, socket, {
      isKnownPeer: (id) => this.outbound.has(id),
      onAuthenticated: (c) => this.onInboundAuthenticated(c),
      onClosed: (c) => this.onInboundClosed(c),
      onMessage: (m) => this.deliver(m),
    });
    this.pendingInbound.add(conn);
  }

  /**
   * deliver hands a message from an authenticated connection to the host,
   * unless its sender is no longer a peer: the set of peers can change after
   * a connection was accepted, and a removed member must not be heard.
   */
  private deliver(m: Message): void {
    if (!this.outbound.has(m.from)) {
      this.ctx.stats.nonMemberMessages += 1;
      this.ctx.warnLimited(`inbound:non_member:${m.from}`, { from: m.from, type: m.type }, 'dropped message from a sender that is not a current member');
      return;
    }
    this.opts.onMessage(m);
  }

  private onInboundAuthenticated(conn: InboundConnection): void {
    const peer = conn.peer;
    assert(peer !== null, 'authenticated connection has a peer');
    this.pendingInbound.delete(conn);
    const older = this.inboundByPeer.get(peer);
    // The peer redialed (restart or its side saw the old connection die): the old one is dead weight.
    if (older !== undefined) older.close('replaced by a newer connection from the same peer');
    this.inboundByPeer.set(peer, conn);
  }

  private onInboundClosed(conn: InboundConnection): void {
    this.pendingInbound.delete(conn);
    const peer = conn.peer;
    if (peer !== null && this.inboundByPeer.get(peer) === conn) this.inboundByPeer.delete(peer);
  }
}
