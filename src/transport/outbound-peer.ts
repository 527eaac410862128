/**
 * OutboundPeer owns this node's single dialed connection to one peer: the
 * bounded message queue, the reconnect loop with backoff, the handshake (TLS
 * and the listener's certificate, or the secret's proofs both ways), the
 * per-turn batching and the paced sending of one snapshot at a time.
 */
import type { Socket } from 'node:net';
import type { Message, NodeId, SnapshotMessage } from '../raft/types.js';
import { assert } from '../raft/invariant.js';
import { Backoff } from './backoff.js';
import { BoundedQueue } from './bounded-queue.js';
import { encodeFrame, FrameDecoder, FrameError, type FrameReader } from './frame-codec.js';
import { newNonce, type HandshakeTranscript } from './handshake-auth.js';
import { estimateMessageBytes } from './message-shape.js';
import { sealWith, unsealWith, type FrameMac } from './peer-security.js';
import { type TransportContext, type PeerAddress, HANDSHAKE_MAX_FRAME_BYTES } from './transport-context.js';
import { parseListenerFrame, PROTOCOL_VERSION, type ListenerFrame, type SnapshotAckFrame } from './wire-protocol.js';

/** OutboundState is where the connection to a peer stands. */
export type OutboundState = 'idle' | 'connecting' | 'handshaking' | 'ready' | 'backoff' | 'stopped';

/** PeerStats is a snapshot of one peer's outbound counters (the connection state is OutboundPeer.state). */
export interface PeerStats {
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  readonly droppedMessages: number;
  readonly framesSent: number;
  readonly connects: number;
  readonly dials: number;
}

/** OutboundCallbacks are the transport's upcalls, already deferred by the caller's context where needed. */
export interface OutboundCallbacks {
  onUnreachable(peer: NodeId): void;
  onSnapshotSent(peer: NodeId, ok: boolean): void;
  scheduleFlush(peer: OutboundPeer): void;
}

interface OutgoingSnapshot {
  readonly seq: number;
  readonly head: SnapshotMessage;
  readonly data: Uint8Array;
  headerSent: boolean;
  sentOff: number;
  ackedOff: number;
  lastProgressMs: number;
}

/** Frames of queued messages are cut at about this many estimated bytes (well under maxFrameBytes, so encoding rarely needs a split). */
const TARGET_BATCH_BYTES = 1024 * 1024;

export class OutboundPeer {
  private stateValue: OutboundState = 'idle';
  private readonly queue: BoundedQueue<Message>;
  private readonly backoff: Backoff;
  private socket: Socket | null = null;
  private decoder: FrameDecoder | null = null;
  /** The handshake of the current connection, once the hello is sent; its MAC (secret mode) once welcomed. */
  private transcript: HandshakeTranscript | null = null;
  private mac: FrameMac | null = null;
  private helloSent = false;
  private lastHeardMs = 0;
  private lastError: Error | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private handshakeTimer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  /** Set once per backoff step (one dial attempt) so onUnreachable is reported at most once per step. */
  private unreachableReported = false;
  private snapshot: OutgoingSnapshot | null = null;
  private nextSnapshotSeq = 1;
  private framesSent = 0;
  private connects = 0;
  private dials = 0;

  constructor(
    private readonly ctx: TransportContext,
    readonly peer: NodeId,
    private addr: PeerAddress,
    private readonly callbacks: OutboundCallbacks,
  ) {
    const { limits } = ctx;
    this.queue = new BoundedQueue(limits.maxQueuedMessagesPerPeer, limits.maxQueuedBytesPerPeer);
    this.backoff = new Backoff(limits.reconnectMinMs, limits.reconnectMaxMs);
  }

  /** state is the connection state. */
  get state(): OutboundState {
    return this.stateValue;
  }

  /** stats returns the counters. */
  stats(): PeerStats {
    return {
      queuedMessages: this.queue.length,
      queuedBytes: this.queue.bytes,
      droppedMessages: this.queue.dropped,
      framesSent: this.framesSent,
      connects: this.connects,
      dials: this.dials,
    };
  }

  /** start dials the peer if its address is known. */
  start(): void {
    assert(this.stateValue === 'idle', `outbound peer ${this.peer} started twice`);
    if (this.addr.port !== 0) this.dial();
  }

  /** setAddress points the peer at a new address and redials now (the old connection, if any, is dropped). */
  setAddress(addr: PeerAddress): void {
    if (this.stateValue === 'stopped') return;
    this.addr = addr;
    this.backoff.reset();
    if (this.socket !== null) {
      // The close handler schedules the redial with a fresh (minimal) backoff.
      this.socket.destroy();
    } else if (addr.port !== 0) {
      this.clearRetryTimer();
      this.dial();
    }
  }

  /** enqueue queues a message for the next flush (bounded; drops the oldest). */
  enqueue(m: Message): void {
    if (this.stateValue === 'stopped') return;
    const dropped = this.queue.push(m, estimateMessageBytes(m));
    if (dropped > 0) this.ctx.logger.debug({ peer: this.peer, dropped }, 'peer queue full, dropped oldest messages');
    if (this.stateValue === 'ready') this.callbacks.scheduleFlush(this);
    else this.reportUnreachable();
  }

  /** sendSnapshot starts streaming a snapshot; outcome reported through onSnapshotSent. One at a time. */
  sendSnapshot(m: SnapshotMessage): void {
    assert(m.data !== null, 'a snapshot message must carry its data before it is sent');
    if (this.stateValue === 'stopped') return;
    if (this.stateValue !== 'ready') {
      this.reportUnreachable();
      this.ctx.defer(() => this.callbacks.onSnapshotSent(this.peer, false));
      return;
    }
    if (m.data.byteLength > this.ctx.limits.maxSnapshotBytes) {
      this.ctx.logger.error({ peer: this.peer, bytes: m.data.byteLength, limit: this.ctx.limits.maxSnapshotBytes }, 'snapshot exceeds maxSnapshotBytes, not sent');
      this.ctx.defer(() => this.callbacks.onSnapshotSent(this.peer, false));
      return;
    }
    const current = this.snapshot;
    if (current !== null) {
      if (current.head.meta.index === m.meta.index && current.head.meta.term === m.meta.term) {
        // The same snapshot again: the one in flight will report for both.
        this.ctx.logger.debug({ peer: this.peer, index: m.meta.index }, 'snapshot already in flight, coalesced');
      } else {
        this.ctx.logger.debug({ peer: this.peer, index: m.meta.index, inFlight: current.head.meta.index }, 'another snapshot in flight, refused');
        this.ctx.defer(() => this.callbacks.onSnapshotSent(this.peer, false));
      }
      return;
    }
    const head: SnapshotMessage = { type: 'snapshot', from: m.from, to: m.to, term: m.term, meta: m.meta, data: null };
    this.snapshot = {
      seq: this.nextSnapshotSeq++,
      head,
      data: m.data,
      headerSent: false,
      sentOff: 0,
      ackedOff: 0,
      lastProgressMs: Date.now(),
    };
    this.callbacks.scheduleFlush(this);
  }

  /**
   * flush writes the queued messages in frames of ~TARGET_BATCH_BYTES, all in
   * one corked write, then as much snapshot data as the ack window allows.
   * Messages go first so heartbeats wait behind at most the window's snapshot
   * bytes, never behind a whole snapshot.
   */
  flush(): void {
    const socket = this.socket;
    if (this.stateValue !== 'ready' || socket === null) return;
    const { maxSocketBufferedBytes } = this.ctx.limits;
    socket.cork();
    try {
      // Bounded: each iteration removes at least one message from the bounded queue.
      while (this.queue.length > 0 && socket.writableLength < maxSocketBufferedBytes) {
        const batch: Message[] = [];
        let bytes = 0;
        while (this.queue.length > 0 && (batch.length === 0 || bytes + this.queue.peekBytes()! <= TARGET_BATCH_BYTES)) {
          bytes += this.queue.peekBytes()!;
          batch.push(this.queue.shift()!);
        }
        this.writeBatch(socket, batch);
      }
      this.pumpSnapshot(socket);
    } finally {
      socket.uncork();
    }
    // If the socket buffer is full we resume on 'drain'.
  }

  /** stop drops the connection, the queue and any snapshot without reporting; resolves once the socket is closed. */
  stop(): Promise<void> {
    this.stateValue = 'stopped';
    this.clearRetryTimer();
    this.clearConnectionTimers();
    this.queue.clear();
    this.snapshot = null;
    const socket = this.socket;
    this.socket = null;
    if (socket === null || socket.closed) return Promise.resolve();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.destroy();
    return closed;
  }

  private writeBatch(socket: Socket, batch: Message[]): void {
    let frame: Buffer;
    try {
      frame = encodeFrame({ k: 'msgs', m: batch }, this.ctx.limits.maxFrameBytes);
    } catch (err) {
      if (!(err instanceof FrameError) || err.code !== 'frame_too_large') throw err;
      if (batch.length === 1) {
        // A single message over the frame limit means maxAppendBytes is misconfigured; it can never be sent.
        this.ctx.logger.error({ peer: this.peer, type: batch[0]!.type, err: err.message }, 'message larger than maxFrameBytes dropped');
        return;
      }
      const mid = Math.ceil(batch.length / 2);
      this.writeBatch(socket, batch.slice(0, mid));
      this.writeBatch(socket, batch.slice(mid));
      return;
    }
    this.writeFrame(socket, frame);
    this.framesSent += 1;
  }

  /** writeFrame writes one encoded frame, with its MAC once the connection has one. */
  private writeFrame(socket: Socket, frame: Buffer): void {
    socket.write(sealWith(this.mac, frame));
  }

  private pumpSnapshot(socket: Socket): void {
    const s = this.snapshot;
    if (s === null) return;
    const { snapshotChunkBytes, snapshotWindowChunks, maxFrameBytes } = this.ctx.limits;
    const windowBytes = snapshotChunkBytes * snapshotWindowChunks;
    const total = s.data.byteLength;
    // Bounded: each iteration advances sentOff by a chunk (or sends the single header chunk of an empty snapshot).
    while ((!s.headerSent || s.sentOff < total) && s.sentOff - s.ackedOff < windowBytes) {
      const end = Math.min(total, s.sentOff + snapshotChunkBytes);
      const frame = encodeFrame(
        { k: 'snap', seq: s.seq, off: s.sentOff, total, head: s.headerSent ? null : s.head, chunk: s.data.subarray(s.sentOff, end) },
        maxFrameBytes,
      );
      this.writeFrame(socket, frame);
      s.headerSent = true;
      s.sentOff = end;
      this.framesSent += 1;
    }
  }

  private onSnapshotAck(frame: SnapshotAckFrame): void {
    const s = this.snapshot;
    if (s === null || frame.seq !== s.seq) {
      this.protocolError('acknowledgement for a snapshot not in flight');
      return;
    }
    if (frame.received < s.ackedOff || frame.received > s.sentOff) {
      this.protocolError(`snapshot acknowledgement of ${frame.received} bytes outside [${s.ackedOff}, ${s.sentOff}]`);
      return;
    }
    s.ackedOff = frame.received;
    s.lastProgressMs = Date.now();
    if (frame.done) {
      if (frame.received !== s.data.byteLength) {
        this.protocolError('snapshot reported done before all bytes arrived');
        return;
      }
      this.snapshot = null;
      this.ctx.logger.debug({ peer: this.peer, index: s.head.meta.index, bytes: s.data.byteLength }, 'snapshot delivered');
      this.callbacks.onSnapshotSent(this.peer, true);
      return;
    }
    this.flush();
  }

  private dial(): void {
    assert(this.stateValue === 'idle' || this.stateValue === 'backoff', `dial from state ${this.stateValue}`);
    assert(this.socket === null, 'dial with a live socket');
    this.retryTimer = null;
    this.dials += 1;
    this.unreachableReported = false; // a new backoff step
    this.stateValue = 'connecting';
    this.helloSent = false;
    this.transcript = null;
    this.mac = null;
    this.lastError = null;
    // The listener only ever sends small control frames, so the small limit stays for the connection's life.
    this.decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
    const onOpen = (): void => {
      if (this.socket === socket) this.stateValue = 'handshaking';
    };
    const onRefused = (reason: string): void => {
      this.ctx.stats.tlsFailures += 1;
      this.ctx.warnLimited(`tls:${this.peer}`, { peer: this.peer, reason }, 'refused peer: its certificate does not name it');
      this.lastError = new Error(reason);
    };
    const socket = this.ctx.security.dial(this.addr.host, this.addr.port, this.peer, onOpen, onRefused);
    // ChannelSecurity.dial set no-delay and keepalive.
    this.socket = socket;
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = null;
      this.lastError = new Error('handshake timed out');
      socket.destroy();
    }, this.ctx.limits.handshakeTimeoutMs);
    const reader: FrameReader<ListenerFrame> = {
      unseal: (payload) => unsealWith(this.mac, payload, this.ctx.stats),
      unsealFailedReason: 'frame from listener failed authentication (bad MAC)',
      parse: parseListenerFrame,
      malformedReason: 'malformed frame from listener',
      isOpen: () => this.socket === socket, // a frame handler may have dropped the connection
      onFrame: (frame) => this.onFrame(socket, frame),
      onProtocolError: (reason) => this.protocolError(reason),
    };
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk, reader));
    socket.on('drain', () => {
      if (this.socket === socket) this.flush();
    });
    socket.on('error', (err) => {
      if (this.socket === socket) this.lastError = err;
    });
    socket.on('close', () => this.onClose(socket));
  }

  private onData(socket: Socket, chunk: Buffer, reader: FrameReader<ListenerFrame>): void {
    if (this.socket !== socket || this.decoder === null || this.ctx.isStopped()) return;
    this.decoder.read(chunk, reader);
  }

  private onFrame(socket: Socket, frame: ListenerFrame): void {
    switch (frame.k) {
      case 'challenge': {
        if (this.stateValue !== 'handshaking' || this.helloSent) return this.protocolError('unexpected challenge');
        const { id, clusterId, security } = this.ctx;
        const t: HandshakeTranscript = { listenerNonce: frame.nonce, dialerNonce: newNonce(), from: id, to: this.peer, clusterId };
        const auth = security.proof('hello', t);
        socket.write(encodeFrame({ k: 'hello', v: PROTOCOL_VERSION, clusterId, from: id, to: this.peer, nonce: t.dialerNonce, auth }));
        this.transcript = t;
        this.helloSent = true;
        return;
      }
      case 'welcome': {
        const t = this.transcript;
        if (this.stateValue !== 'handshaking' || !this.helloSent || t === null) return this.protocolError('unexpected welcome');
        if (!this.ctx.security.checkProof('welcome', t, frame.auth)) {
          // Someone answered on the peer's address without knowing the secret: never send it anything.
          this.ctx.stats.refusedHandshakes += 1;
          return this.protocolError('the listener did not prove the cluster secret');
        }
        // Every frame after the welcome, both ways, is authenticated (secret mode).
        this.mac = this.ctx.security.frameMac('dialer', t);
        this.clearConnectionTimers();
        this.stateValue = 'ready';
        this.connects += 1;
        this.backoff.reset();
        this.unreachableReported = false;
        this.lastHeardMs = Date.now();
        this.checkTimer = setInterval(() => this.checkLiveness(socket), this.ctx.limits.keepaliveIntervalMs);
        this.ctx.logger.info({ peer: this.peer, addr: `${this.addr.host}:${this.addr.port}` }, 'connected to peer');
        this.flush();
        return;
      }
      case 'refused':
        this.ctx.warnLimited(
          `refused:${this.peer}:${frame.reason}`,
          { peer: this.peer, reason: frame.reason, addr: `${this.addr.host}:${this.addr.port}` },
          'peer refused our handshake',
        );
        this.lastError = new Error(`refused: ${frame.reason}`);
        socket.destroy();
        return;
      case 'ping':
        if (this.stateValue !== 'ready') return this.protocolError('ping before welcome');
        this.lastHeardMs = Date.now();
        return;
      case 'snapAck':
        if (this.stateValue !== 'ready') return this.protocolError('snapshot acknowledgement before welcome');
        this.lastHeardMs = Date.now();
        this.onSnapshotAck(frame);
        return;
    }
  }

  private checkLiveness(socket: Socket): void {
    if (this.socket !== socket || this.stateValue !== 'ready') return;
    const nowMs = Date.now();
    const { idleTimeoutMs, snapshotAckTimeoutMs } = this.ctx.limits;
    if (nowMs - this.lastHeardMs > idleTimeoutMs) {
      this.lastError = new Error(`peer silent for ${nowMs - this.lastHeardMs} ms`);
      socket.destroy();
      return;
    }
    const s = this.snapshot;
    if (s !== null && nowMs - s.lastProgressMs > snapshotAckTimeoutMs) {
      this.lastError = new Error(`snapshot acknowledgements stalled for ${nowMs - s.lastProgressMs} ms`);
      socket.destroy();
    }
  }

  private protocolError(reason: string): void {
    this.ctx.warnLimited(`protocol:${this.peer}`, { peer: this.peer, reason }, 'protocol error on outbound connection, dropping it');
    this.lastError = new Error(reason);
    this.socket?.destroy();
  }

  private onClose(socket: Socket): void {
    if (this.socket !== socket) return;
    const wasReady = this.stateValue === 'ready';
    this.socket = null;
    this.decoder = null;
    this.clearConnectionTimers();
    if (this.stateValue === 'stopped' || this.ctx.isStopped()) return;
    const err = this.lastError?.message ?? 'connection closed';
    if (wasReady) {
      this.ctx.logger.warn({ peer: this.peer, err }, 'connection to peer lost');
    } else {
      this.ctx.logger.debug({ peer: this.peer, err, attempt: this.backoff.attempt }, 'dial failed');
      this.ctx.warnLimited(`dial:${this.peer}`, { peer: this.peer, err, attempt: this.backoff.attempt }, 'cannot connect to peer');
    }
    if (this.snapshot !== null) {
      // Raft §7: the leader retries InstallSnapshot; the receiver drops its partial copy with the connection.
      this.snapshot = null;
      this.ctx.defer(() => this.callbacks.onSnapshotSent(this.peer, false));
    }
    if (wasReady || this.queue.length > 0) this.reportUnreachable();
    if (this.addr.port === 0) {
      this.stateValue = 'idle'; // address unknown: wait for setAddress
      return;
    }
    this.stateValue = 'backoff';
    const delayMs = this.backoff.nextDelayMs();
    this.retryTimer = setTimeout(() => this.dial(), delayMs);
  }

  private reportUnreachable(): void {
    if (this.unreachableReported) return;
    this.unreachableReported = true;
    this.ctx.defer(() => this.callbacks.onUnreachable(this.peer));
  }

  private clearRetryTimer(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private clearConnectionTimers(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    if (this.checkTimer !== null) clearInterval(this.checkTimer);
    this.handshakeTimer = null;
    this.checkTimer = null;
  }
}
