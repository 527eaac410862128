/**
 * The network of a verify run: one TcpProxy per directed peer link i→j (node i
 * sends its Raft messages to j through it) and one per directed HTTP link i→j
 * (node i forwards client requests to leader j through it). A fault is a set of
 * directed links that are cut; cutting i→j cuts both proxies of that direction,
 * so a node that cannot send to the leader cannot relay a client's request to it
 * either. Clients reach every node directly: they are not part of the partition.
 */
import type { HttpScheme } from '../../launch/serve-args.js';
import { TcpProxy, type ProxyMode } from './tcp-proxy.js';

/** LinkEndpoint is one node's real listen ports. */
export interface LinkEndpoint {
  readonly id: string;
  readonly peerPort: number;
  readonly httpPort: number;
}

/** CutMode is how a cut link misbehaves: reset connections, or swallow bytes silently. */
export type CutMode = Exclude<ProxyMode, 'open'>;

interface Link {
  readonly peer: TcpProxy;
  readonly http: TcpProxy;
}

/** LinkNetwork owns the proxies of every directed link between `nodes`. */
export class LinkNetwork {
  private readonly links = new Map<string, Link>();

  private constructor(readonly nodes: readonly LinkEndpoint[]) {}

  /** create starts 2·n·(n-1) proxies on free loopback ports; on failure it stops the ones it started. */
  static async create(nodes: readonly LinkEndpoint[]): Promise<LinkNetwork> {
    const ids = new Set(nodes.map((n) => n.id));
    if (ids.size !== nodes.length) throw new Error('LinkNetwork: duplicate node ids');
    const net = new LinkNetwork(nodes);
    try {
      for (const from of nodes) {
        for (const to of nodes) {
          if (from.id === to.id) continue;
          const peer = new TcpProxy(`peer ${from.id}->${to.id}`, to.peerPort);
          const http = new TcpProxy(`http ${from.id}->${to.id}`, to.httpPort);
          net.links.set(LinkNetwork.key(from.id, to.id), { peer, http });
          await peer.start();
          await http.start();
        }
      }
    } catch (err) {
      await net.stop();
      throw err;
    }
    return net;
  }

  private static key(from: string, to: string): string {
    return `${from}\u0000${to}`;
  }

  private link(from: string, to: string): Link {
    const l = this.links.get(LinkNetwork.key(from, to));
    if (l === undefined) throw new Error(`no link ${from}->${to}`);
    return l;
  }

  private endpoint(id: string): LinkEndpoint {
    const e = this.nodes.find((n) => n.id === id);
    if (e === undefined) throw new Error(`no node ${id}`);
    return e;
  }

  /** peerAddress is what `from` dials to reach `to` (its own real address for itself). */
  peerAddress(from: string, to: string): string {
    if (from === to) return `127.0.0.1:${this.endpoint(to).peerPort}`;
    return this.link(from, to).peer.address;
  }

  /** httpUrl is where `from` forwards HTTP requests meant for `to`; `https` when the members serve it (TLS passes the proxy as bytes). */
  httpUrl(from: string, to: string, scheme: HttpScheme = 'http'): string {
    if (from === to) return `${scheme}://127.0.0.1:${this.endpoint(to).httpPort}`;
    return `${scheme}://${this.link(from, to).http.address}`;
  }

  /** setLink sets one directed link's mode (both its peer and its HTTP proxy). */
  setLink(from: string, to: string, mode: ProxyMode): void {
    const l = this.link(from, to);
    l.peer.setMode(mode);
    l.http.setMode(mode);
  }

  /** apply cuts every directed link `allowed` rejects (with `mode`) and opens every other one. */
  apply(allowed: (from: string, to: string) => boolean, mode: CutMode): void {
    for (const from of this.nodes) {
      for (const to of this.nodes) {
        if (from.id === to.id) continue;
        this.setLink(from.id, to.id, allowed(from.id, to.id) ? 'open' : mode);
      }
    }
  }

  /** heal opens every link. */
  heal(): void {
    this.apply(() => true, 'blocked');
  }

  /** cutLinks lists the directed links that are not open, as "from->to". */
  cutLinks(): string[] {
    const out: string[] = [];
    for (const [k, l] of this.links) {
      if (l.peer.mode !== 'open') out.push(k.replace('\u0000', '->'));
    }
    return out.sort();
  }

  /** proxy exposes one proxy, for tests. */
  proxy(from: string, to: string, kind: 'peer' | 'http'): TcpProxy {
    return this.link(from, to)[kind];
  }

  /** stop closes every proxy. Idempotent. */
  async stop(): Promise<void> {
    const all: Promise<void>[] = [];
    for (const l of this.links.values()) all.push(l.peer.stop(), l.http.stop());
    await Promise.all(all);
  }
}
