/**
 * InboundConnection is one accepted connection (with TLS: once the TLS
 * handshake verified the dialer's certificate): it challenges the dialer, checks its
 * hello (version, cluster, addressee, known sender, and its credentials: the
 * certificate names the sender, or the secret's proof), then reads the
 * dialer's messages and snapshot chunks (each one's MAC checked, in secret
 * mode) and hands them up. It writes only control frames (challenge,
 * welcome/refused, ping, snapAck). Everything the peer sends is untrusted: any
 * malformed or unauthentic frame closes the connection and is logged and
 * counted; nothing a peer sends can throw out of here.
 */
import type { Socket } from 'node:net';
import type { Message, NodeId } from '../raft/types.js';
import { encodeFrame, FrameDecoder, type FrameReader } from './frame-codec.js';
import { newNonce, type HandshakeTranscript } from './handshake-auth.js';
import { remoteOf, sealWith, unsealWith, type FrameMac } from './peer-security.js';
import { SnapshotAssembler } from './snapshot-assembler.js';
import { HANDSHAKE_MAX_FRAME_BYTES, type TransportContext } from './transport-context.js';
import {
  parseDialerFrame,
  PROTOCOL_VERSION,
  type DialerFrame,
  type HelloFrame,
  type ListenerFrame,
  type RefusalReason,
  type SnapshotChunkFrame,
} from './wire-protocol.js';

/** InboundHooks connect an inbound connection to its transport. */
export interface InboundHooks {
  isKnownPeer(id: NodeId): boolean;
  onAuthenticated(conn: InboundConnection): void;
  onClosed(conn: InboundConnection): void;
  onMessage(m: Message): void;
}

/** InboundState: handshaking until a valid hello, then ready; closing after a refusal or error. */
export type InboundState = 'handshaking' | 'ready' | 'closing';

/** A listener's pings pile up only if the dialer stopped reading; past this the connection is dropped. */
const MAX_INBOUND_BUFFERED_BYTES = 1024 * 1024;

export class InboundConnection {
  private stateValue: InboundState = 'handshaking';
  private peerId: NodeId | null = null;
  private readonly nonce = newNonce();
  private readonly decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
  /** The frame MAC of an authenticated connection in secret mode; null before the hello and in the other modes. */
  private mac: FrameMac | null = null;
  private readonly reader: FrameReader<DialerFrame> = {
    unseal: (payload) => unsealWith(this.mac, payload, this.ctx.stats),
    unsealFailedReason: 'frame failed authentication (bad MAC: forged, altered, replayed or reordered)',
    parse: parseDialerFrame,
    malformedReason: 'malformed frame',
    // A handler (or the host, from onMessage) may have closed us or stopped the transport.
    isOpen: () => !this.isFinished(),
    onFrame: (frame) => this.onFrame(frame),
    onProtocolError: (reason) => this.protocolError(reason),
  };
  private readonly assembler: SnapshotAssembler;
  private handshakeTimer: NodeJS.Timeout | null;
  private pingTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** remote is "address:port" of the dialer, for logs. */
  readonly remote: string;

  /** The socket is the accepted one, or the TLS socket over it; the listener set no-delay and keepalive. */
  constructor(
    private readonly ctx: TransportContext,
    private readonly socket: Socket,
    private readonly hooks: InboundHooks,
  ) {
    this.remote = remoteOf(socket);
    this.assembler = new SnapshotAssembler(ctx.limits.maxSnapshotBytes);
    // Also bounds how long a refused connection lingers half-closed.
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = null;
      if (this.stateValue === 'handshaking') {
        this.ctx.warnLimited('inbound:handshake_timeout', { remote: this.remote }, 'inbound handshake timed out, closing');
      }
      socket.destroy();
    }, ctx.limits.handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.ctx.logger.debug({ remote: this.remote, peer: this.peerId, err: err.message }, 'inbound socket error');
    });
    socket.on('close', () => this.onClose());
    this.write({ k: 'challenge', nonce: this.nonce });
  }

  /** peer is the authenticated sender, null before the handshake. */
  get peer(): NodeId | null {
    return this.peerId;
  }

  /** state is the handshake/connection state. */
  get state(): InboundState {
    return this.stateValue;
  }

  /** close drops the connection (e.g. replaced by a newer one from the same peer, or transport stop). */
  close(reason: string): void {
    this.ctx.logger.debug({ remote: this.remote, peer: this.peerId, reason }, 'closing inbound connection');
    this.stateValue = 'closing';
    this.socket.destroy();
  }

  /** isFinished is a method (not an inline check) because handlers called in between may change the state. */
  private isFinished(): boolean {
    return this.stateValue === 'closing' || this.ctx.isStopped();
  }

  private write(frame: ListenerFrame): void {
    this.socket.write(sealWith(this.mac, encodeFrame(frame)));
  }

  private onData(chunk: Buffer): void {
    if (this.isFinished()) return;
    this.decoder.read(chunk, this.reader);
  }

  private onFrame(frame: DialerFrame): void {
    if (this.stateValue === 'handshaking') {
      if (frame.k !== 'hello') return this.protocolError(`'${frame.k}' frame before hello`);
      return this.onHello(frame);
    }
    switch (frame.k) {
      case 'hello':
        return this.protocolError('second hello');
      case 'msgs':
        for (const m of frame.m) {
          if (this.isFinished()) return;
          this.deliver(m);
        }
        return;
      case 'snap':
        return this.onSnapshotChunk(frame);
    }
  }

  private onHello(hello: HelloFrame): void {
    const { id, clusterId, security } = this.ctx;
    const transcript: HandshakeTranscript = { listenerNonce: this.nonce, dialerNonce: hello.nonce, from: hello.from, to: hello.to, clusterId: hello.clusterId };
    let reason: RefusalReason | null = null;
    let detail: string | null = null;
    if (hello.v !== PROTOCOL_VERSION) reason = 'version_mismatch';
    else if (hello.clusterId !== clusterId) reason = 'cluster_mismatch';
    else if (hello.to !== id) reason = 'wrong_node';
    else if (hello.from === id || !this.hooks.isKnownPeer(hello.from)) reason = 'unknown_node';
    else if (!security.checkProof('hello', transcript, hello.auth)) reason = 'auth_failed';
    else if ((detail = security.checkPeerCertificate(this.socket, hello.from)) !== null) reason = 'identity_mismatch';
    if (reason !== null) {
      this.ctx.stats.refusedHandshakes += 1;
      this.ctx.warnLimited(
        `inbound:refused:${reason}`,
        { remote: this.remote, from: hello.from, clusterId: hello.clusterId, security: security.mode, reason, ...(detail === null ? {} : { detail }) },
        'refused inbound peer connection',
      );
      this.stateValue = 'closing';
      // Tell the dialer why, then close; the handshake timer destroys it if the dialer never closes its side.
      this.socket.end(encodeFrame({ k: 'refused', reason } satisfies ListenerFrame));
      return;
    }
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    this.stateValue = 'ready';
    this.peerId = hello.from;
    this.decoder.setMaxFrameBytes(this.ctx.limits.maxFrameBytes + security.frameOverheadBytes);
    this.hooks.onAuthenticated(this);
    this.write({ k: 'welcome', auth: security.proof('welcome', transcript) });
    // Every frame after the welcome, both ways, is authenticated (secret mode; TLS already authenticates the channel).
    this.mac = security.frameMac('listener', transcript);
    this.pingTimer = setInterval(() => this.ping(), this.ctx.limits.keepaliveIntervalMs);
    this.ctx.logger.info({ remote: this.remote, peer: hello.from, security: security.mode }, 'accepted peer connection');
  }

  private ping(): void {
    if (this.stateValue !== 'ready') return;
    if (this.socket.writableLength > MAX_INBOUND_BUFFERED_BYTES) {
      this.ctx.warnLimited(`inbound:stuck:${this.peerId}`, { remote: this.remote, peer: this.peerId }, 'peer stopped reading, closing');
      this.socket.destroy();
      return;
    }
    this.write({ k: 'ping' });
  }

  /** deliver hands a message up if it really is from the authenticated peer and for this node; otherwise drops it. */
  private deliver(m: Message): void {
    if (m.from !== this.peerId || m.to !== this.ctx.id) {
      this.ctx.warnLimited(
        `inbound:misaddressed:${this.peerId}`,
        { remote: this.remote, peer: this.peerId, from: m.from, to: m.to, type: m.type },
        'dropped message with a sender or addressee that does not match the connection',
      );
      return;
    }
    this.hooks.onMessage(m);
  }

  private onSnapshotChunk(frame: SnapshotChunkFrame): void {
    if (frame.head !== null && (frame.head.from !== this.peerId || frame.head.to !== this.ctx.id)) {
      // Unlike a stray small message, a misaddressed snapshot would waste up to maxSnapshotBytes: drop the connection.
      return this.protocolError('snapshot with a sender or addressee that does not match the connection');
    }
    const result = this.assembler.accept(frame);
    if (result.ok === false) return this.protocolError(result.reason);
    if (result.complete !== null) this.hooks.onMessage(result.complete);
    if (this.isFinished()) return;
    // Acknowledge after delivery, so "done" means the host has the whole snapshot.
    this.write({ k: 'snapAck', seq: frame.seq, received: result.received, done: result.complete !== null });
  }

  private protocolError(reason: string): void {
    this.ctx.warnLimited(
      `inbound:protocol:${this.peerId ?? 'unauthenticated'}`,
      { remote: this.remote, peer: this.peerId, reason },
      'protocol error on inbound connection, closing',
    );
    this.stateValue = 'closing';
    this.socket.destroy();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.stateValue = 'closing';
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.handshakeTimer = null;
    this.pingTimer = null;
    this.assembler.reset();
    this.hooks.onClosed(this);
  }
}
