/**
 * The peer transport: TCP between Raft members, with length-prefixed msgpack
 * frames, batching, bounded queues, reconnects, mutual TLS or a shared secret
 * with a MAC per frame, and chunked snapshots.
 */
export { PeerTransport, TransportError, type PeerTransportOptions, type TransportErrorCode } from './peer-transport.js';
export { newSecurityStats, type PeerSecurity, type PeerTlsFiles, type SecurityStats } from './peer-security.js';
export { certifiesMember, memberUri } from './tls-identity.js';
export type { PeerStats, OutboundState } from './outbound-peer.js';
export {
  DEFAULT_TRANSPORT_LIMITS,
  NOOP_LOGGER,
  type PeerAddress,
  type TransportLimits,
  type TransportLogger,
} from './transport-context.js';
export {
  decodeFrames,
  decodePayload,
  encodeFrame,
  FrameDecoder,
  FrameError,
  DEFAULT_MAX_FRAME_BYTES,
  FRAME_HEADER_BYTES,
  type FrameErrorCode,
} from './frame-codec.js';
export { parseMessage, estimateMessageBytes } from './message-shape.js';
export { parseDialerFrame, parseListenerFrame, PROTOCOL_VERSION, type DialerFrame, type ListenerFrame } from './wire-protocol.js';
