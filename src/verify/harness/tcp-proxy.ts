/**
 * A TCP proxy for one DIRECTED link of the cluster under test: node i dials the
 * proxy to reach node j, and the proxy relays the bytes of that connection both
 * ways. The node code has no fault hooks, so every network fault of a verify run
 * is one of these proxies misbehaving on purpose:
 *
 * - 'open': relay.
 * - 'blocked': a clean partition of i→j. Current connections are reset, new ones
 *   are accepted and reset at once, so nothing crosses and both ends notice.
 * - 'blackhole': connections stay up but every byte is read and discarded, in both
 *   directions. Nobody is told: the dialer must notice the silence itself (raftlock
 *   drops a connection silent for 5 s). Healing resets the connections that were
 *   blackholed, because bytes dropped from the middle of a TCP stream would corrupt
 *   its framing, which a real network never does.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** ProxyMode is what the proxy does with traffic. */
export type ProxyMode = 'open' | 'blocked' | 'blackhole';

/** ProxyStats counts what the proxy did, for tests and the run log. */
export interface ProxyStats {
  readonly accepted: number;
  readonly refused: number;
  readonly bytesForwarded: number;
  readonly bytesDiscarded: number;
  readonly open: number;
}

/** MAX_PROXY_CONNECTIONS bounds the relayed pairs of one link (a node dials one connection per peer). */
export const MAX_PROXY_CONNECTIONS = 256;

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  /** Set once a byte of this pair was discarded: it can never carry traffic again. */
  tainted: boolean;
}

/**
 * TcpProxy relays connections from a loopback listen port to `targetPort` on
 * 127.0.0.1 and lets the harness cut them.
 */
export class TcpProxy {
  private server: Server | null = null;
  private modeValue: ProxyMode = 'open';
  private readonly pairs = new Set<Pair>();
  private portValue = 0;
  private accepted = 0;
  private refused = 0;
  private bytesForwarded = 0;
  private bytesDiscarded = 0;

  /** TcpProxy creates a stopped proxy; call start(). `name` appears in errors only. */
  constructor(
    readonly name: string,
    readonly targetPort: number,
    private readonly targetHost = '127.0.0.1',
  ) {
    if (!(Number.isInteger(targetPort) && targetPort > 0 && targetPort < 65536)) throw new Error(`proxy ${name}: bad target port ${targetPort}`);
  }

  /** port is the loopback port the proxy listens on (0 before start). */
  get port(): number {
    return this.portValue;
  }

  /** address is `127.0.0.1:port`, the form raftlock's --peers takes. */
  get address(): string {
    return `127.0.0.1:${this.portValue}`;
  }

  /** mode is the current fault mode. */
  get mode(): ProxyMode {
    return this.modeValue;
  }

  /** start listens on 127.0.0.1 on a free port (or `port`, when given). */
  async start(port = 0): Promise<void> {
    if (this.server !== null) throw new Error(`proxy ${this.name} started twice`);
    const server = createServer({ noDelay: true }, (socket) => this.onConnection(socket));
    this.server = server;
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', fail);
        done();
      });
    });
    const addr = server.address();
    if (addr === null || typeof addr !== 'object') throw new Error(`proxy ${this.name}: no listen address`);
    this.portValue = addr.port;
  }

  /** block cuts the link: current connections are reset and new ones refused until unblock(). */
  block(): void {
    this.modeValue = 'blocked';
    for (const p of [...this.pairs]) this.destroyPair(p, true);
  }

  /** blackhole silently swallows all traffic of current and new connections until unblock(). */
  blackhole(): void {
    this.modeValue = 'blackhole';
  }

  /** unblock heals the link; connections that lost bytes to a blackhole are reset so the nodes redial cleanly. */
  unblock(): void {
    this.modeValue = 'open';
    for (const p of [...this.pairs]) if (p.tainted) this.destroyPair(p, true);
  }

  /** setMode applies a mode by name. */
  setMode(mode: ProxyMode): void {
    if (mode === 'open') this.unblock();
    else if (mode === 'blocked') this.block();
    else this.blackhole();
  }

  /** stats returns the counters. */
  stats(): ProxyStats {
    return {
      accepted: this.accepted,
      refused: this.refused,
      bytesForwarded: this.bytesForwarded,
      bytesDiscarded: this.bytesDiscarded,
      open: this.pairs.size,
    };
  }

  /** stop closes the listener and every connection. Idempotent. */
  async stop(): Promise<void> {
    const server = this.server;
    this.modeValue = 'blocked';
    for (const p of [...this.pairs]) this.destroyPair(p, false);
    if (server === null) return;
    this.server = null;
    await new Promise<void>((done) => server.close(() => done()));
  }

  private onConnection(client: Socket): void {
    client.on('error', () => {});
    if (this.modeValue === 'blocked' || this.pairs.size >= MAX_PROXY_CONNECTIONS) {
      this.refused++;
      client.resetAndDestroy();
      return;
    }
    this.accepted++;
    const upstream = connect({ port: this.targetPort, host: this.targetHost, noDelay: true });
    upstream.on('error', () => {});
    const pair: Pair = { client, upstream, tainted: this.modeValue === 'blackhole' };
    this.pairs.add(pair);
    this.relay(pair, client, upstream);
    this.relay(pair, upstream, client);
    const onClose = (): void => this.destroyPair(pair, false);
    client.once('close', onClose);
    upstream.once('close', onClose);
  }

  /** relay copies `from` to `to` with backpressure, or discards while blackholed. */
  private relay(pair: Pair, from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (this.modeValue === 'blackhole' || pair.tainted) {
        pair.tainted = true;
        this.bytesDiscarded += chunk.length;
        return;
      }
      if (this.modeValue === 'blocked') return; // being torn down
      this.bytesForwarded += chunk.length;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    // A half-close is forwarded, so an HTTP client that ends its side is seen by the server.
    from.once('end', () => {
      if (!pair.tainted && this.modeValue === 'open') to.end();
    });
  }

  private destroyPair(pair: Pair, reset: boolean): void {
    if (!this.pairs.delete(pair)) return;
    for (const s of [pair.client, pair.upstream]) {
      if (s.destroyed) continue;
      if (reset && s.readyState === 'open') s.resetAndDestroy();
      else s.destroy();
    }
  }
}
