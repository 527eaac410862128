/**
 * A forged peer: a raw TCP client on a member's peer port that pretends to be
 * another member. It speaks the frame format and the hello of the current
 * protocol version, with no credentials or wrong ones, and then sends the
 * messages of the issue-12 attack: an AppendEntries carrying a configuration
 * entry that makes the target a one-member cluster, and a TimeoutNow that
 * forces an election. It records what the target answered, so a test can
 * tell "refused" from "accepted". One more forger knows the cluster secret
 * and completes the handshake, then sends a frame whose MAC is wrong: what a
 * man in the middle who altered a frame would deliver.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Message } from '../../src/raft/types.js';
import type { PeerTlsFiles } from '../../src/transport/index.js';
import { encodeFrame, FrameDecoder } from '../../src/transport/frame-codec.js';
import { FrameSealer } from '../../src/transport/frame-mac.js';
import { computeProof } from '../../src/transport/handshake-auth.js';
import { PROTOCOL_VERSION } from '../../src/transport/wire-protocol.js';

/** ForgedPeerTarget is the member attacked and the Raft state the forged messages build on. */
export interface ForgedPeerTarget {
  readonly host: string;
  readonly port: number;
  readonly clusterId: string;
  /** The member the forger claims to be (the leader makes the forgery most convincing). */
  readonly claimFrom: string;
  readonly to: string;
  /** The target's current term and last log position, from its /v1/status. */
  readonly term: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Speak TLS with these files (a certificate of another CA, or of another member); default plain TCP. */
  readonly tls?: PeerTlsFiles;
}

/** Credentials is what the forger puts in its hello's auth field. */
export type Credentials = 'none' | 'wrong';

/** ForgeryOutcome is what the target sent back before it closed the connection (or the forger gave up). */
export interface ForgeryOutcome {
  /** Every frame the target sent, decoded; undecodable bytes (e.g. a TLS alert) end the list. */
  readonly frames: unknown[];
  /** True when the target closed the connection within the wait. */
  readonly closed: boolean;
  readonly bytesReceived: number;
}

/** attackMessages are the forged Raft messages: a config entry {voters: [to]} and a TimeoutNow. */
export function attackMessages(t: ForgedPeerTarget): Message[] {
  const term = t.term + 1;
  return [
    {
      type: 'append',
      from: t.claimFrom,
      to: t.to,
      term,
      prevLogIndex: t.lastIndex,
      prevLogTerm: t.lastTerm,
      commit: t.lastIndex + 1,
      entries: [{ index: t.lastIndex + 1, term, type: 'config', data: new Uint8Array(0), config: { voters: [t.to], learners: [], members: [] } }],
    },
    { type: 'timeoutNow', from: t.claimFrom, to: t.to, term },
  ];
}

/** helloFrame is the forger's hello: the claimed identity and `auth` of no or wrong credentials. */
function helloFrame(t: ForgedPeerTarget, credentials: Credentials): unknown {
  return {
    k: 'hello',
    v: PROTOCOL_VERSION,
    clusterId: t.clusterId,
    from: t.claimFrom,
    to: t.to,
    nonce: new Uint8Array(randomBytes(32)),
    // A wrong secret's HMAC is indistinguishable from random bytes of the same size.
    auth: credentials === 'none' ? null : new Uint8Array(randomBytes(32)),
  };
}

/**
 * Step is one thing the forger writes: a frame, raw bytes, or bytes built from
 * the frames the target sent so far, once one of kind `afterKind` arrived.
 */
type Step = { readonly frame: unknown } | { readonly raw: Buffer } | { readonly afterKind: string; readonly build: (received: readonly unknown[]) => Buffer };

/** kindOf is a decoded frame's `k`, or '?'. */
function kindOf(f: unknown): string {
  return typeof f === 'object' && f !== null && 'k' in f ? String((f as { k: unknown }).k) : '?';
}

/**
 * forge connects, writes `steps` (each after a short pause, the first once
 * the target's challenge arrived or after `settleMs`) and collects what comes
 * back until the target closes or `waitMs` passes. Always closes its socket.
 */
async function forge(t: ForgedPeerTarget, steps: readonly Step[], waitMs: number, settleMs = 300): Promise<ForgeryOutcome> {
  const socket: Socket =
    t.tls === undefined
      ? connect({ host: t.host, port: t.port })
      : tlsConnect({ host: t.host, port: t.port, ...t.tls, checkServerIdentity: () => undefined, rejectUnauthorized: false });
  const frames: unknown[] = [];
  const decoder = new FrameDecoder();
  let bytesReceived = 0;
  let undecodable = false;
  let closed = false;
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    bytesReceived += chunk.length;
    if (undecodable) return;
    try {
      for (const v of decoder.push(chunk)) frames.push(v);
    } catch {
      undecodable = true;
    }
  });
  const closedP = new Promise<void>((resolve) =>
    socket.on('close', () => {
      closed = true;
      resolve();
    }),
  );
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  try {
    await Promise.race([new Promise<void>((r) => socket.once(t.tls === undefined ? 'connect' : 'secureConnect', () => r())), closedP]);
    const deadline = Date.now() + settleMs;
    while (frames.length === 0 && !closed && Date.now() < deadline) await sleep(10);
    for (const step of steps) {
      if (closed) break;
      if ('build' in step) {
        const until = Date.now() + waitMs;
        while (!frames.some((f) => kindOf(f) === step.afterKind) && !closed && Date.now() < until) await sleep(10);
        if (closed || !frames.some((f) => kindOf(f) === step.afterKind)) break;
        socket.write(step.build(frames));
      } else {
        socket.write('frame' in step ? encodeFrame(step.frame) : step.raw);
      }
      await sleep(50);
    }
    await Promise.race([closedP, sleep(waitMs)]);
    return { frames, closed, bytesReceived };
  } finally {
    socket.destroy();
  }
}

/** forgeHelloOnly sends just the hello: whether the member welcomes it is the question. */
export function forgeHelloOnly(t: ForgedPeerTarget, credentials: Credentials, waitMs = 500): Promise<ForgeryOutcome> {
  return forge(t, [{ frame: helloFrame(t, credentials) }], waitMs);
}

/** forgeHelloThenAttack sends the hello and, without waiting for an answer, the forged messages. */
export function forgeHelloThenAttack(t: ForgedPeerTarget, credentials: Credentials, waitMs = 1_000): Promise<ForgeryOutcome> {
  return forge(t, [{ frame: helloFrame(t, credentials) }, { frame: { k: 'msgs', m: attackMessages(t) } }], waitMs);
}

/** forgeAttackWithoutHello sends the forged messages as the first frame, with no hello at all. */
export function forgeAttackWithoutHello(t: ForgedPeerTarget, waitMs = 1_000): Promise<ForgeryOutcome> {
  return forge(t, [{ frame: { k: 'msgs', m: attackMessages(t) } }], waitMs);
}

/** forgeGarbage sends the hello and then random bytes, then the forged messages once more. */
export function forgeGarbage(t: ForgedPeerTarget, credentials: Credentials, waitMs = 1_000): Promise<ForgeryOutcome> {
  return forge(
    t,
    [{ frame: helloFrame(t, credentials) }, { raw: randomBytes(512) }, { frame: { k: 'msgs', m: attackMessages(t) } }],
    waitMs,
  );
}

/**
 * forgeTamperedFrame knows the cluster `secret`: it answers the challenge with
 * a valid hello, followed at once by the forged messages under a MAC of
 * another key, as if a frame had been altered on the wire; the member
 * welcomes the hello and must refuse that frame.
 */
export function forgeTamperedFrame(t: ForgedPeerTarget, secret: string, waitMs = 2_000): Promise<ForgeryOutcome> {
  const dialerNonce = new Uint8Array(randomBytes(32));
  const hello = (received: readonly unknown[]): Buffer => {
    const challenge = received.find((f) => kindOf(f) === 'challenge') as { nonce: Uint8Array };
    const transcript = { listenerNonce: challenge.nonce, dialerNonce, from: t.claimFrom, to: t.to, clusterId: t.clusterId };
    return encodeFrame({ ...(helloFrame(t, 'none') as object), nonce: dialerNonce, auth: computeProof(secret, 'hello', transcript) });
  };
  const tampered = new FrameSealer(randomBytes(32)).seal(encodeFrame({ k: 'msgs', m: attackMessages(t) }));
  // In one write with the hello: the claimed member's own reconnect could replace this connection before a later one.
  return forge(t, [{ afterKind: 'challenge', build: (received) => Buffer.concat([hello(received), tampered]) }], waitMs);
}

/** frameKinds lists the `k` of each decoded frame, for assertions and messages. */
export function frameKinds(outcome: ForgeryOutcome): string[] {
  return outcome.frames.map(kindOf);
}
