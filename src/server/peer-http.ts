import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Identity } from './auth-tokens.js';
import type { ForwardSigner } from './forward-signature.js';

/** PeerAnswer is another member's HTTP answer: status, headers and body text. */
export interface PeerAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/** PeerRequest is one request to another member's HTTP API. */
export interface PeerRequest {
  readonly method: string;
  /** Path and query, as the receiver will see them (and as the signature covers them). */
  readonly path: string;
  /** JSON text of the body, if any. */
  readonly body?: string;
  /** Headers to add (a forwarded-marker, say). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Who the request speaks for: a client relayed by this member, this member itself, or nobody (authentication off). */
  readonly caller: Identity | 'member' | null;
  readonly signal: AbortSignal;
}

/** PeerHttpOptions say how to trust other members' HTTPS certificates and how to vouch for callers. */
export interface PeerHttpOptions {
  /** CA certificates (PEM) that sign members' HTTPS certificates; default Node's own list. */
  readonly ca?: string | Buffer;
  /** Signs relayed identities; null without a cluster secret (nothing is signed). */
  readonly signer: ForwardSigner | null;
}

/** Bound on a member's answer (a list of locks with their holders is the largest). */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
/** Bound on connections to one member (one per relay in flight, long-polls included) and idle ones kept. */
const MAX_SOCKETS_PER_MEMBER = 4_096;
const MAX_IDLE_SOCKETS_PER_MEMBER = 64;

/**
 * PeerHttp is how a member calls another member's HTTP API: relaying a
 * request to the leader, or asking it to cancel a waiter. Over HTTPS it
 * verifies the other member's certificate against `ca` and its name (a
 * follower must not hand a caller's request to whoever answers at the
 * leader's address); with a signer, every request carries the signed
 * identity it speaks for (forward-signature.ts). node:http with keep-alive,
 * as the client library, for its lower cost per request than fetch.
 */
export class PeerHttp {
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS_PER_MEMBER, maxFreeSockets: MAX_IDLE_SOCKETS_PER_MEMBER });
  private readonly httpsAgent: HttpsAgent;

  constructor(private readonly opts: PeerHttpOptions) {
    this.httpsAgent = new HttpsAgent({
      keepAlive: true,
      maxSockets: MAX_SOCKETS_PER_MEMBER,
      maxFreeSockets: MAX_IDLE_SOCKETS_PER_MEMBER,
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
    });
  }

  /** send makes one request to the member at `base` (its URL's origin); rejects on connection errors and on the signal. */
  send(base: string, req: PeerRequest): Promise<PeerAnswer> {
    const url = new URL(req.path, base);
    const body = req.body ?? '';
    const signed = this.signedHeaders(req, `${url.pathname}${url.search}`, body);
    const headers: Record<string, string | number> = {
      ...req.headers,
      ...signed,
      ...(req.body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
    };
    const https = url.protocol === 'https:';
    return new Promise<PeerAnswer>((resolve, reject) => {
      const onResponse = (res: IncomingMessage): void => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_ANSWER_BYTES) {
            request.destroy(new Error(`${base} answered with more than ${MAX_ANSWER_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      };
      const request = (https ? httpsRequest : httpRequest)(url, { method: req.method, headers, agent: https ? this.httpsAgent : this.httpAgent, signal: req.signal }, onResponse);
      request.on('error', reject);
      request.end(req.body);
    });
  }

  /** close drops idle connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private signedHeaders(req: PeerRequest, path: string, body: string): Record<string, string> {
    if (this.opts.signer === null || req.caller === null) return {};
    return this.opts.signer.headers(req.caller === 'member' ? null : req.caller, req.method, path, body);
  }
}

/** Error codes of a TLS handshake that refused the other member's certificate (no request was sent). */
const TLS_REFUSAL = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS/;

/** isCertificateRefusal says whether a send failed because the member's HTTPS certificate is not trusted here. */
export function isCertificateRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TLS_REFUSAL.test(code);
}

/** neverSent says whether a failed send provably never reached the member: refused connection or refused certificate. */
export function neverSent(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ECONNREFUSED' || isCertificateRefusal(err);
}
