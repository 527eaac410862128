/**
 * One raw HTTP request of a verify client, classified by what it proves.
 *
 * The harness uses node:http without connection reuse rather than fetch: a fresh
 * connection per attempt tells exactly whether the request can have reached the
 * server. A failure before the TCP connection was established means the request
 * was never sent (it cannot have taken effect); anything after that without a
 * response (a reset, a timeout) means it may have. Over HTTPS the request is
 * written only once the TLS handshake is done, so that is the line instead: a
 * refused or failed handshake sent nothing.
 */
import { request, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';

/** HttpAccess is how the harness reaches a secured cluster: HTTPS under `ca` (PEM), a bearer `token`. */
export interface HttpAccess {
  readonly ca?: string;
  readonly token?: string;
}

/** CallResult is the outcome of one attempt. */
export type CallResult =
  | { readonly kind: 'response'; readonly status: number; readonly body: Record<string, unknown> }
  /** The connection was never established: definitely not applied. */
  | { readonly kind: 'not_sent'; readonly error: string }
  /** Sent, or possibly sent, and no response came: the outcome is unknown. */
  | { readonly kind: 'lost'; readonly error: string };

/** MAX_RESPONSE_BYTES bounds a response body; raftlock's answers are far smaller. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** sendRequest opens an HTTP or (https: URL) HTTPS request, verifying the server against `access.ca`. */
function sendRequest(url: URL, options: RequestOptions, access: HttpAccess, onResponse: (res: IncomingMessage) => void): ClientRequest {
  if (url.protocol !== 'https:') return request(options, onResponse);
  return httpsRequest({ ...options, ...(access.ca !== undefined ? { ca: access.ca } : {}) }, onResponse);
}

/**
 * httpCall sends one request to `baseUrl` + `path` and never throws: every
 * failure is a CallResult. `timeoutMs` bounds the whole exchange.
 */
export function httpCall(baseUrl: string, method: 'GET' | 'POST' | 'DELETE', path: string, body: unknown, timeoutMs: number, access: HttpAccess = {}): Promise<CallResult> {
  const url = new URL(path, baseUrl);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    const finish = (r: CallResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = sendRequest(
      url,
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        agent: false,
        headers: {
          connection: 'close',
          ...(access.token !== undefined ? { authorization: `Bearer ${access.token}` } : {}),
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
        },
      },
      access,
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(new Error('response too large'));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> = {};
          try {
            const v: unknown = JSON.parse(text);
            if (typeof v === 'object' && v !== null && !Array.isArray(v)) parsed = v as Record<string, unknown>;
          } catch {
            parsed = { error: 'unparsable_response', text: text.slice(0, 200) };
          }
          finish({ kind: 'response', status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', (err) => finish({ kind: 'lost', error: err.message }));
      },
    );
    const timer = setTimeout(() => {
      finish(connected ? { kind: 'lost', error: `timeout after ${timeoutMs} ms` } : { kind: 'not_sent', error: `connect timeout after ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    // From here on the request can have reached the server: TCP connected (HTTP), or the TLS handshake done (HTTPS).
    const sentOn = url.protocol === 'https:' ? 'secureConnect' : 'connect';
    req.on('socket', (socket: Socket) => {
      socket.once(sentOn, () => {
        connected = true;
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      finish(connected ? { kind: 'lost', error: err.code ?? err.message } : { kind: 'not_sent', error: err.code ?? err.message });
    });
    if (payload !== undefined) req.end(payload);
    else req.end();
  });
}
