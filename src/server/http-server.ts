import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { LockService } from '../node/lock-service.js';
import type { RaftHost } from '../node/raft-host.js';
import type { NodeId } from '../raft/index.js';
import { apiRoutes } from './api-routes.js';
import { createHttpApp } from './http-app.js';
import { NodeMetrics } from './metrics.js';
import { metricsRoutes } from './metrics-routes.js';
import { RaftLockBackend } from './raft-lock-backend.js';

/** HttpServerOptions wires the HTTP API to one node. */
export interface HttpServerOptions {
  readonly host: RaftHost;
  readonly locks: LockService;
  /** Each member's HTTP base URL, for forwarding to the leader. */
  readonly peerHttp: Readonly<Record<NodeId, string>>;
  readonly logger: FastifyBaseLogger;
  /** How long a linearizable read waits for the leader to confirm itself. */
  readonly readTimeoutMs: number;
}

/**
 * buildHttpServer creates the fastify app of one node: metrics, then the lock
 * API, sessions and status over the node's RaftHost and LockService. Every
 * route is served by every node: writes and linearizable reads on a follower
 * are forwarded to the leader. The app is not listening yet.
 */
export function buildHttpServer(opts: HttpServerOptions): FastifyInstance {
  const app = createHttpApp(opts.logger);
  // First, so that its latency hook covers the routes registered after it.
  void app.register(metricsRoutes, { metrics: new NodeMetrics(opts.host, opts.locks) });
  void app.register(apiRoutes, { backend: new RaftLockBackend(opts) });
  return app;
}
