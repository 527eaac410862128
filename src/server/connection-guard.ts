import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { isIPv4 } from 'node:net';
import type { Socket } from 'node:net';
import type { RefusalLog } from './refusal-log.js';

/** ConnectionLimits bound the connections one node keeps open. */
export interface ConnectionLimits {
  /** Open connections on this node; past it the oldest idle one is closed to make room, or the new one if none is idle. */
  readonly maxConnections: number;
  /** Open connections from one client address. */
  readonly maxConnectionsPerAddress: number;
  /** Addresses the per-address cap does not apply to (the members: a follower relays many clients' requests). */
  readonly exemptAddresses: ReadonlySet<string>;
}

/** One open connection: its address, how many requests on it are being served now, and whether one ever was. */
interface Connection {
  readonly socket: Socket;
  readonly address: string;
  active: number;
  served: boolean;
}

/** ConnectionGuard is what the HTTP app asks of the guard: whether a connection is serving a request now. */
export interface ConnectionGuard {
  /** serving says whether `socket` (the raw or the TLS socket) has a request whose headers arrived and which is not answered yet. */
  serving(socket: Socket): boolean;
  /** open is the number of open connections. */
  open(): number;
}

/**
 * guardConnections enforces ConnectionLimits on `server` as connections
 * arrive, before TLS or HTTP parsing spends anything on them. A connection
 * from an address over its cap is closed at once. At the node's cap a
 * connection with no request in progress is closed to make room: the oldest
 * that never completed a request (idle since it opened, or still sending its
 * headers), else the oldest idle keep-alive one. So a flood of idle or slow
 * connections cannot lock out clients that send requests; only when every
 * connection is serving a request is the new one refused. Each refusal is
 * counted and logged (RefusalLog).
 */
export function guardConnections(server: HttpServer, limits: ConnectionLimits, refusals: RefusalLog): ConnectionGuard {
  // Insertion order is age: the first idle one found is the oldest.
  const connections = new Map<string, Connection>();
  const perAddress = new Map<string, number>();

  const remove = (key: string, c: Connection): void => {
    if (connections.get(key) !== c) return;
    connections.delete(key);
    const left = (perAddress.get(c.address) ?? 1) - 1;
    if (left <= 0) perAddress.delete(c.address);
    else perAddress.set(c.address, left);
  };

  server.on('connection', (socket: Socket) => {
    const address = normalizeAddress(socket.remoteAddress);
    const key = socketKey(socket);
    if (key === null) {
      socket.destroy();
      return;
    }
    const fromAddress = perAddress.get(address) ?? 0;
    if (fromAddress >= limits.maxConnectionsPerAddress && !limits.exemptAddresses.has(address)) {
      refusals.hit('connections_per_address', { address, open: fromAddress });
      socket.destroy();
      return;
    }
    if (connections.size >= limits.maxConnections) {
      const idle = oldestIdle(connections);
      if (idle === null) {
        refusals.hit('connections_per_node', { address, open: connections.size });
        socket.destroy();
        return;
      }
      refusals.hit('connections_per_node_idle_closed', { address: idle[1].address, open: connections.size });
      remove(idle[0], idle[1]);
      idle[1].socket.destroy();
    }
    const c: Connection = { socket, address, active: 0, served: false };
    connections.set(key, c);
    perAddress.set(address, fromAddress + 1);
    socket.once('close', () => remove(key, c));
  });

  // A connection's socket as requests see it (the TLS socket over HTTPS): found by key once, then without building one.
  const bySocket = new WeakMap<Socket, Connection>();
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    let c = bySocket.get(request.socket);
    if (c === undefined) {
      const key = socketKey(request.socket);
      c = key === null ? undefined : connections.get(key);
      if (c === undefined) return;
      bySocket.set(request.socket, c);
    }
    c.active++;
    c.served = true;
    response.once('close', () => {
      c.active--;
    });
  });

  return {
    serving: (socket) => {
      const key = socketKey(socket);
      return key !== null && (connections.get(key)?.active ?? 0) > 0;
    },
    open: () => connections.size,
  };
}

/** oldestIdle picks the connection to close for room: never served first, then idle keep-alive; oldest first. */
function oldestIdle(connections: Map<string, Connection>): [string, Connection] | null {
  let keptAlive: [string, Connection] | null = null;
  for (const entry of connections) {
    if (entry[1].active > 0) continue;
    if (!entry[1].served) return entry;
    keptAlive ??= entry;
  }
  return keptAlive;
}

/**
 * socketKey names a connection by its client's address and port, which the
 * raw TCP socket and the TLS socket over it share (the server sees the raw
 * one at 'connection' and the TLS one in requests).
 */
function socketKey(socket: Socket): string | null {
  if (socket.remoteAddress === undefined || socket.remotePort === undefined) return null;
  return `${normalizeAddress(socket.remoteAddress)}|${socket.remotePort}`;
}

/** normalizeAddress makes an IPv4-mapped IPv6 address (::ffff:10.0.0.1) its IPv4 self, so both count as one client. */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  const mapped = /^::ffff:(.+)$/i.exec(address);
  return mapped !== null && isIPv4(mapped[1]!) ? mapped[1]! : address;
}
