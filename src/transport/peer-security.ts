/**
 * How peer connections are secured, in one place for both ends.
 *
 *   tls       mutual TLS 1.3 (node:tls): each member presents a certificate
 *             signed by the cluster's CA that names it (tls-identity.ts); the
 *             listener requires one from the dialer, and each side checks
 *             that the other's names the member it claims or dials. Every
 *             frame then rides the authenticated, encrypted channel.
 *   secret    a shared cluster secret: both ends prove it in the handshake
 *             (handshake-auth.ts) and every later frame carries a MAC under
 *             per-connection keys (frame-mac.ts). Authenticated, not encrypted.
 *   insecure  neither: anyone who reaches the peer port can speak for any
 *             member. Only for a trusted network, and only when asked for.
 */
import { createServer as createTlsServer, createSecureContext, TLSSocket, connect as tlsConnect, type SecureContext } from 'node:tls';
import { connect as netConnect, createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { NodeId } from '../raft/types.js';
import { assert } from '../raft/invariant.js';
import { FrameOpener, FrameSealer, MAC_BYTES, deriveFrameKeys } from './frame-mac.js';
import { computeProof, verifyProof, type HandshakeTranscript } from './handshake-auth.js';
import { certifiesMember, describeCertificate } from './tls-identity.js';

/** PeerTlsFiles are PEM texts: the cluster CA's certificate, and this member's certificate and private key. */
export interface PeerTlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** PeerSecurity is how a transport secures its connections; see the file comment. */
export type PeerSecurity =
  | ({ readonly mode: 'tls' } & PeerTlsFiles)
  | { readonly mode: 'secret'; readonly secret: string }
  | { readonly mode: 'insecure' };

/** SecurityStats count what the transport refused; each event is also logged (rate-limited). */
export interface SecurityStats {
  /** Hellos refused (no or wrong credentials, wrong cluster, node or version, a certificate that names another member). */
  refusedHandshakes: number;
  /** TLS handshakes that failed (no certificate, another CA, not TLS at all) or whose certificate named the wrong member. */
  tlsFailures: number;
  /** Frames whose MAC did not verify (forged, altered, replayed, reordered); each closed its connection. */
  badMacFrames: number;
  /** Messages from a sender that is not a current member, dropped. */
  nonMemberMessages: number;
}

/** FrameMac is one connection's sealer (frames it sends) and opener (frames it receives). */
export interface FrameMac {
  readonly sealer: FrameSealer;
  readonly opener: FrameOpener;
}

/** ListenerHooks are what a transport does with the connections its listener accepts. */
export interface ListenerHooks {
  /** A TCP connection arrived (before any TLS); false refuses it (it is destroyed). */
  onConnection(raw: Socket): boolean;
  /** The connection is ready for the handshake: the raw socket, or (TLS) the verified TLS socket over it. */
  onChannel(socket: Socket): void;
  /** A TLS handshake failed: no certificate, one the CA did not sign, not TLS at all, or too slow. */
  onTlsFailure(reason: string, remote: string): void;
}

/** SocketOptions are applied to every peer socket: Raft messages are small and latency-bound, and dead peers must be noticed. */
export interface SocketOptions {
  readonly keepaliveIntervalMs: number;
  readonly handshakeTimeoutMs: number;
}

/** sealWith adds a connection's MAC to an encoded frame (secret mode); without one the frame goes as it is. */
export function sealWith(mac: FrameMac | null, frame: Buffer): Buffer {
  return mac === null ? frame : mac.sealer.seal(frame);
}

/** unsealWith checks and strips a received payload's MAC (secret mode), counting a bad one; null rejects the frame. */
export function unsealWith(mac: FrameMac | null, payload: Uint8Array, stats: SecurityStats): Uint8Array | null {
  if (mac === null) return payload;
  const opened = mac.opener.open(payload);
  if (opened === null) stats.badMacFrames += 1;
  return opened;
}

/** newSecurityStats is a zeroed counter set. */
export function newSecurityStats(): SecurityStats {
  return { refusedHandshakes: 0, tlsFailures: 0, badMacFrames: 0, nonMemberMessages: 0 };
}

/**
 * ChannelSecurity is one transport's PeerSecurity turned into what its
 * connections do: open and accept sockets, prove and check identities, and
 * authenticate frames.
 */
export class ChannelSecurity {
  readonly mode: PeerSecurity['mode'];
  /** frameOverheadBytes is what each frame after the handshake carries beyond its payload (the MAC). */
  readonly frameOverheadBytes: number;
  private readonly secret: string | null;
  private readonly tls: SecureContext | null;
  private readonly tlsFiles: PeerTlsFiles | null;

  constructor(
    security: PeerSecurity,
    private readonly clusterId: string,
    private readonly sockets: SocketOptions,
  ) {
    this.mode = security.mode;
    this.secret = security.mode === 'secret' ? security.secret : null;
    assert(this.secret === null || this.secret.length > 0, 'a peer secret must be non-empty');
    // TLS 1.3 only: nothing older needs to talk to a raftlock member.
    this.tlsFiles = security.mode === 'tls' ? { ca: security.ca, cert: security.cert, key: security.key } : null;
    this.tls = this.tlsFiles === null ? null : createSecureContext({ ...this.tlsFiles, minVersion: 'TLSv1.3' });
    this.frameOverheadBytes = this.secret === null ? 0 : MAC_BYTES;
  }

  /**
   * dial opens a connection to a peer; `onOpen` runs once the channel is up
   * (TLS: handshake done and the listener's certificate names `peer`) and
   * `onRefused` with the reason when the listener's certificate does not
   * name `peer` (the socket is destroyed then).
   */
  dial(host: string, port: number, peer: NodeId, onOpen: () => void, onRefused: (reason: string) => void): Socket {
    const tcp = { host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: this.sockets.keepaliveIntervalMs };
    if (this.tls === null) {
      const socket = netConnect(tcp);
      socket.once('connect', onOpen);
      return socket;
    }
    // Hostname checks do not apply: members are named by id (tls-identity.ts), checked once the handshake is done.
    const socket = tlsConnect({ ...tcp, secureContext: this.tls, rejectUnauthorized: true, checkServerIdentity: () => undefined });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerX509Certificate();
      if (cert !== undefined && certifiesMember(cert, this.clusterId, peer)) return onOpen();
      onRefused(`the listener's certificate does not name ${peer} of cluster ${this.clusterId} (${describeCertificate(cert)})`);
      socket.destroy();
    });
    return socket;
  }

  /**
   * createServer makes the (unbound) peer listener for this mode. With TLS it
   * is node's tls.Server, which requires a client certificate, verifies it
   * against the CA and drops the connection before any frame is read when
   * that fails (tls.Server does the verification; a bare server-side
   * TLSSocket would not).
   */
  createServer(hooks: ListenerHooks): Server {
    const tcp = { noDelay: true, keepAlive: true, keepAliveInitialDelay: this.sockets.keepaliveIntervalMs };
    if (this.tlsFiles === null) {
      return createNetServer(tcp, (raw) => {
        if (hooks.onConnection(raw)) hooks.onChannel(raw);
        else raw.destroy();
      });
    }
    // tls.Server builds its own context from these (it ignores a `secureContext` option).
    const server = createTlsServer({
      ...tcp,
      ...this.tlsFiles,
      minVersion: 'TLSv1.3',
      requestCert: true,
      rejectUnauthorized: true,
      handshakeTimeout: this.sockets.handshakeTimeoutMs,
    });
    // 'connection' is emitted with the raw socket once tls.Server has wrapped it: destroying it ends the TLS handshake too.
    server.on('connection', (raw: Socket) => {
      if (!hooks.onConnection(raw)) raw.destroy();
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      // tls.Server already destroyed an unverified client (rejectUnauthorized); this is a second lock on the door.
      if (socket.authorized) return hooks.onChannel(socket);
      hooks.onTlsFailure(`client certificate not accepted: ${String(socket.authorizationError)}`, remoteOf(socket));
      socket.destroy();
    });
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => hooks.onTlsFailure(err.message, remoteOf(socket)));
    return server;
  }

  /** checkPeerCertificate says why the dialer's certificate does not name `from` of this cluster (TLS), or null when it does or without TLS. */
  checkPeerCertificate(socket: Socket, from: NodeId): string | null {
    if (this.tls === null) return null;
    const cert = socket instanceof TLSSocket ? socket.getPeerX509Certificate() : undefined;
    if (cert !== undefined && certifiesMember(cert, this.clusterId, from)) return null;
    return `certificate does not name ${from} of cluster ${this.clusterId} (${describeCertificate(cert)})`;
  }

  /** proof is this end's handshake proof (secret mode), else null. */
  proof(label: 'hello' | 'welcome', t: HandshakeTranscript): Uint8Array | null {
    return this.secret === null ? null : computeProof(this.secret, label, t);
  }

  /** checkProof verifies the other end's proof in secret mode; true without a secret. */
  checkProof(label: 'hello' | 'welcome', t: HandshakeTranscript, auth: Uint8Array | null): boolean {
    return this.secret === null || verifyProof(this.secret, label, t, auth);
  }

  /** frameMac is one connection's frame authentication for the end `role` (secret mode), else null. */
  frameMac(role: 'dialer' | 'listener', t: HandshakeTranscript): FrameMac | null {
    if (this.secret === null) return null;
    // The transcript's `from` is always the dialer and `to` the listener.
    const keys = deriveFrameKeys(this.secret, t.listenerNonce, t.dialerNonce, t.clusterId, t.from, t.to);
    return role === 'dialer'
      ? { sealer: new FrameSealer(keys.dialerToListener), opener: new FrameOpener(keys.listenerToDialer) }
      : { sealer: new FrameSealer(keys.listenerToDialer), opener: new FrameOpener(keys.dialerToListener) };
  }
}

/** remoteOf is "address:port" of a socket's other end, for logs and for matching a TLS socket to its TCP socket. */
export function remoteOf(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}
