/**
 * A raw peer for tests: a plain socket to a transport that speaks the frame
 * format by hand, so a test can send exactly the bytes it wants (hostile or
 * not), and, knowing the secret, complete the shared-secret handshake and
 * seal frames itself (to replay, reorder or alter them afterwards).
 */
import { connect, type Socket } from 'node:net';
import { encodeFrame, FrameDecoder, type FrameReader } from '../../src/transport/frame-codec.js';
import { deriveFrameKeys, FrameOpener, FrameSealer } from '../../src/transport/frame-mac.js';
import { computeProof, newNonce, verifyProof, type HandshakeTranscript } from '../../src/transport/handshake-auth.js';
import { parseListenerFrame, PROTOCOL_VERSION } from '../../src/transport/wire-protocol.js';
import { Watched } from './helpers.js';

/** RawPeer is one raw connection and what came back on it. */
export interface RawPeer {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  /** Frames received, decoded (opened with `opener` once set). */
  readonly frames: Watched<unknown>;
  /** Protocol errors seen while reading (e.g. a bad MAC from the listener). */
  readonly errors: string[];
  /** Set by secretHandshake: seals what `send` writes, and opens what arrives. */
  sealer: FrameSealer | null;
  opener: FrameOpener | null;
  /** send encodes a frame and writes it, sealed when `sealer` is set. */
  send(value: unknown): void;
  /** seal encodes and seals a frame without writing it, to write it later, twice, or altered. */
  seal(value: unknown): Buffer;
}

/** rawPeer connects to 127.0.0.1:`port`; the socket goes into `registry` for the test's cleanup. */
export function rawPeer(port: number, registry: Socket[]): RawPeer {
  const socket = connect({ host: '127.0.0.1', port });
  registry.push(socket);
  const frames = new Watched<unknown>();
  const decoder = new FrameDecoder();
  const errors: string[] = [];
  const peer: RawPeer = {
    socket,
    closed: new Promise<void>((resolve) => socket.on('close', () => resolve())),
    frames,
    errors,
    sealer: null,
    opener: null,
    send: (value) => void socket.write(peer.seal(value)),
    seal: (value) => (peer.sealer === null ? encodeFrame(value) : peer.sealer.seal(encodeFrame(value))),
  };
  let failed = false;
  const reader: FrameReader<unknown> = {
    unseal: (payload) => (peer.opener === null ? payload : peer.opener.open(payload)),
    parse: (value) => value,
    malformedReason: 'malformed',
    isOpen: () => !failed,
    onFrame: (value) => frames.push(value),
    onProtocolError: (reason) => {
      failed = true;
      errors.push(reason);
    },
  };
  socket.on('data', (chunk: Buffer) => decoder.read(chunk, reader));
  socket.on('error', () => {});
  return peer;
}

/**
 * secretHandshake completes the shared-secret handshake as member `from`
 * dialing `to`: it answers the challenge with a proof, checks the listener's
 * proof in the welcome, and sets the peer's sealer and opener. Throws if the
 * listener does not welcome it.
 */
export async function secretHandshake(peer: RawPeer, secret: string, from: string, to: string, clusterId: string): Promise<void> {
  await peer.frames.until((f) => f.length >= 1, 'challenge');
  const challenge = parseListenerFrame(peer.frames.items[0]);
  if (challenge?.k !== 'challenge') throw new Error(`expected a challenge, got ${JSON.stringify(peer.frames.items[0])}`);
  const t: HandshakeTranscript = { listenerNonce: challenge.nonce, dialerNonce: newNonce(), from, to, clusterId };
  peer.send({ k: 'hello', v: PROTOCOL_VERSION, clusterId, from, to, nonce: t.dialerNonce, auth: computeProof(secret, 'hello', t) });
  await peer.frames.until((f) => f.length >= 2, 'welcome');
  const welcome = parseListenerFrame(peer.frames.items[1]);
  if (welcome?.k !== 'welcome') throw new Error(`expected a welcome, got ${JSON.stringify(peer.frames.items[1])}`);
  if (!verifyProof(secret, 'welcome', t, welcome.auth)) throw new Error('the listener did not prove the secret');
  const keys = deriveFrameKeys(secret, t.listenerNonce, t.dialerNonce, clusterId, from, to);
  peer.sealer = new FrameSealer(keys.dialerToListener);
  peer.opener = new FrameOpener(keys.listenerToDialer);
}
