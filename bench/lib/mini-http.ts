import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { HttpAccess } from './load-target.js';

/** HttpResponse is a status code and the body as text. */
export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

/** Bounds of one response, so a misbehaving server cannot make the parser grow without limit. */
const MAX_HEAD_BYTES = 16 * 1024;
const MAX_BODY_BYTES = 16 * 1024 * 1024;

/**
 * parseResponse parses one HTTP/1.1 response from the start of `buf`.
 * Returns it with the byte count it used and whether the server will close
 * the connection, or null when `buf` does not hold all of it yet. Supports
 * Content-Length and chunked bodies (etcd's gateway streams chunked).
 */
export function parseResponse(buf: Buffer): { response: HttpResponse; used: number; close: boolean } | null {
  const headEnd = buf.indexOf('\r\n\r\n', 0, 'latin1');
  if (headEnd < 0) {
    if (buf.length > MAX_HEAD_BYTES) throw new Error('http: response head too large');
    return null;
  }
  const head = buf.toString('latin1', 0, headEnd);
  const lines = head.split('\r\n');
  const statusLine = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (statusLine === null) throw new Error(`http: bad status line ${JSON.stringify(lines[0])}`);
  const status = Number(statusLine[1]);
  let contentLength = -1;
  let chunked = false;
  let close = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') contentLength = Number(value);
    else if (name === 'transfer-encoding') chunked = value.toLowerCase().includes('chunked');
    else if (name === 'connection') close = value.toLowerCase() === 'close';
  }
  const bodyStart = headEnd + 4;
  if (chunked) {
    const parts: Buffer[] = [];
    let at = bodyStart;
    // Bounded: each iteration consumes one chunk of the buffer.
    for (;;) {
      const sizeEnd = buf.indexOf('\r\n', at, 'latin1');
      if (sizeEnd < 0) return null;
      const size = parseInt(buf.toString('latin1', at, sizeEnd).split(';')[0]!, 16);
      if (!Number.isFinite(size) || size < 0 || size > MAX_BODY_BYTES) throw new Error('http: bad chunk size');
      const dataStart = sizeEnd + 2;
      if (size === 0) {
        // Last chunk, then optional trailers and an empty line.
        const end = buf.indexOf('\r\n\r\n', sizeEnd, 'latin1');
        if (end < 0) return null;
        return { response: { status, body: Buffer.concat(parts).toString('utf8') }, used: end + 4, close };
      }
      if (buf.length < dataStart + size + 2) return null;
      parts.push(buf.subarray(dataStart, dataStart + size));
      at = dataStart + size + 2;
    }
  }
  if (contentLength < 0) {
    // No length and not chunked: HTTP/1.1 says the body runs to the close; only bodiless statuses are accepted here.
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) return { response: { status, body: '' }, used: bodyStart, close };
    throw new Error('http: response without Content-Length or chunked encoding');
  }
  if (contentLength > MAX_BODY_BYTES) throw new Error('http: body too large');
  if (buf.length < bodyStart + contentLength) return null;
  return { response: { status, body: buf.toString('utf8', bodyStart, bodyStart + contentLength) }, used: bodyStart + contentLength, close };
}

/**
 * HttpConnection is a minimal keep-alive HTTP/1.1 client over one TCP
 * connection, one request at a time (what one benchmark client does). It
 * costs far less CPU per request than fetch, so the load generator leaves
 * the 2 cores to the servers. It reconnects lazily after a close. With
 * `access`, it speaks TLS (verifying the server against `access.ca`) and
 * sends a bearer token.
 */
export class HttpConnection {
  private socket: Socket | null = null;
  private connecting: Promise<Socket> | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  private waiter: { resolve: (r: HttpResponse) => void; reject: (e: Error) => void } | null = null;
  private readonly hostHeader: string;
  private readonly extraHead: string;

  constructor(readonly host: string, readonly port: number, private readonly access: HttpAccess = {}) {
    this.hostHeader = `${host}:${port}`;
    this.extraHead = access.token === undefined ? '' : `Authorization: Bearer ${access.token}\r\n`;
  }

  /** request sends one request and resolves with the response; rejects on connection failure or `timeoutMs`. */
  async request(method: string, path: string, body?: string, timeoutMs = 60_000): Promise<HttpResponse> {
    if (this.waiter !== null) throw new Error('HttpConnection: one request at a time');
    const socket = await this.open();
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n${this.extraHead}`;
    if (body !== undefined) head += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    else head += '\r\n';
    return new Promise<HttpResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        this.drop(new Error(`http: no answer from ${this.hostHeader}${path} within ${timeoutMs} ms`));
        reject(new Error(`http: no answer from ${this.hostHeader}${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      socket.write(head);
    });
  }

  /** json sends a JSON body (or none) and parses the JSON answer; a body that is not JSON comes back as text. */
  async json(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<{ status: number; body: any }> {
    const res = await this.request(method, path, body === undefined ? undefined : JSON.stringify(body), timeoutMs);
    let parsed: unknown = res.body;
    try {
      parsed = res.body === '' ? null : JSON.parse(res.body);
    } catch {
      // keep the text
    }
    return { status: res.status, body: parsed };
  }

  close(): void {
    this.drop(new Error('http: connection closed by the client'));
  }

  private open(): Promise<Socket> {
    if (this.socket !== null) return Promise.resolve(this.socket);
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const ca = this.access.ca;
      const socket = ca === undefined ? connect({ host: this.host, port: this.port, noDelay: true }) : tlsConnect({ host: this.host, port: this.port, ca }).setNoDelay(true);
      socket.once(ca === undefined ? 'connect' : 'secureConnect', () => {
        socket.off('error', reject);
        socket.on('error', (err) => this.drop(err));
        this.socket = socket;
        this.connecting = null;
        resolve(socket);
      });
      socket.once('error', (err) => {
        this.connecting = null;
        reject(err);
      });
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('close', () => {
        if (this.socket === socket) this.drop(new Error(`http: ${this.hostHeader} closed the connection`));
      });
    });
    return this.connecting;
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let parsed;
    try {
      parsed = parseResponse(this.buffer);
    } catch (err) {
      this.drop(err as Error);
      return;
    }
    if (parsed === null) return;
    this.buffer = parsed.used === this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(parsed.used);
    const waiter = this.waiter;
    this.waiter = null;
    if (parsed.close) this.drop(new Error('http: server closed the connection'));
    if (waiter === null) {
      this.drop(new Error('http: response without a request'));
      return;
    }
    waiter.resolve(parsed.response);
  }

  private drop(err: Error): void {
    const socket = this.socket;
    this.socket = null;
    this.buffer = Buffer.alloc(0);
    socket?.destroy();
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(err);
  }
}
