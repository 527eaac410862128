import { connect, type Socket } from 'node:net';

/** RespValue is a decoded RESP2 reply. Errors decode to RespError values (not thrown) so a pipeline keeps its order. */
export type RespValue = string | number | null | RespError | RespValue[];

/** RespError is a Redis error reply (`-ERR ...`). */
export class RespError extends Error {
  override readonly name = 'RespError';
}

/** encodeCommand encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly (string | number)[]): Buffer {
  if (args.length === 0) throw new RangeError('encodeCommand: a command needs at least its name');
  let out = `*${args.length}\r\n`;
  for (const arg of args) {
    const s = String(arg);
    out += `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  }
  return Buffer.from(out);
}

/** Bound on nesting and on one bulk string, so a corrupt stream cannot make the decoder allocate without limit. */
const MAX_DEPTH = 16;
const MAX_BULK_BYTES = 64 * 1024 * 1024;

/**
 * decodeReply decodes one RESP2 value from `buf` at `offset`. Returns the value
 * and the offset after it, or null when `buf` does not yet hold a whole value.
 * Throws on bytes that are not RESP.
 */
export function decodeReply(buf: Buffer, offset = 0, depth = 0): { value: RespValue; next: number } | null {
  if (depth > MAX_DEPTH) throw new Error('RESP: nesting too deep');
  if (offset >= buf.length) return null;
  const lineEnd = buf.indexOf('\r\n', offset + 1, 'latin1');
  if (lineEnd < 0) return null;
  const kind = buf[offset];
  const line = buf.toString('utf8', offset + 1, lineEnd);
  const after = lineEnd + 2;
  switch (kind) {
    case 0x2b: // '+'
      return { value: line, next: after };
    case 0x2d: // '-'
      return { value: new RespError(line), next: after };
    case 0x3a: // ':'
      return { value: parseInteger(line), next: after };
    case 0x24: { // '$'
      const len = parseInteger(line);
      if (len === -1) return { value: null, next: after };
      if (len < 0 || len > MAX_BULK_BYTES) throw new Error(`RESP: bad bulk length ${len}`);
      if (buf.length < after + len + 2) return null;
      return { value: buf.toString('utf8', after, after + len), next: after + len + 2 };
    }
    case 0x2a: { // '*'
      const count = parseInteger(line);
      if (count === -1) return { value: null, next: after };
      if (count < 0 || count > 1_000_000) throw new Error(`RESP: bad array length ${count}`);
      const items: RespValue[] = [];
      let at = after;
      for (let i = 0; i < count; i++) {
        const item = decodeReply(buf, at, depth + 1);
        if (item === null) return null;
        items.push(item.value);
        at = item.next;
      }
      return { value: items, next: at };
    }
    default:
      throw new Error(`RESP: unexpected type byte 0x${(kind ?? 0).toString(16)} at ${offset}`);
  }
}

function parseInteger(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new Error(`RESP: bad integer "${text}"`);
  return Number(text);
}

/**
 * RedisConnection is a minimal pipelining Redis client over one TCP
 * connection: replies are matched to commands in order (RESP guarantees it).
 * Bounded: at most `maxInFlight` commands wait at once.
 */
export class RedisConnection {
  private readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly pending: { resolve: (v: RespValue) => void; reject: (e: Error) => void }[] = [];
  private head = 0;
  private closedError: Error | null = null;
  private readonly ready: Promise<void>;

  private constructor(host: string, port: number, private readonly maxInFlight: number) {
    this.socket = connect({ host, port, noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('redis connection closed')));
  }

  /** open connects to host:port. */
  static async open(host: string, port: number, maxInFlight = 10_000): Promise<RedisConnection> {
    const conn = new RedisConnection(host, port, maxInFlight);
    await conn.ready;
    return conn;
  }

  /** command sends one command; resolves with its reply (an error reply resolves to a RespError). */
  command(args: readonly (string | number)[]): Promise<RespValue> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    if (this.pending.length - this.head >= this.maxInFlight) return Promise.reject(new Error('redis: too many commands in flight'));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(encodeCommand(args));
    });
  }

  /** call is command() that throws error replies. */
  async call(args: readonly (string | number)[]): Promise<RespValue> {
    const reply = await this.command(args);
    if (reply instanceof RespError) throw reply;
    return reply;
  }

  close(): void {
    this.fail(new Error('redis connection closed by the client'));
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let offset = 0;
    // Bounded by the bytes received: every iteration consumes at least one reply.
    for (;;) {
      let decoded;
      try {
        decoded = decodeReply(this.buffer, offset);
      } catch (err) {
        this.fail(err as Error);
        this.socket.destroy();
        return;
      }
      if (decoded === null) break;
      offset = decoded.next;
      const waiter = this.pending[this.head++];
      if (waiter === undefined) {
        this.fail(new Error('redis: reply without a command'));
        return;
      }
      waiter.resolve(decoded.value);
    }
    this.buffer = offset === this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(offset);
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
  }

  private fail(err: Error): void {
    if (this.closedError !== null) return;
    this.closedError = err;
    for (let i = this.head; i < this.pending.length; i++) this.pending[i]!.reject(err);
    this.pending.length = 0;
    this.head = 0;
  }
}
