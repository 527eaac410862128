import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { LockService } from '../node/lock-service.js';
import type { OpenMember } from '../node/open-raft-host.js';
import type { NodeId } from '../raft/index.js';
import type { AdminBackend } from './admin-backend.js';
import { apiRoutes } from './api-routes.js';
import { createHttpApp } from './http-app.js';
import { registerLifecycleMetrics } from './lifecycle-metrics.js';
import { NodeMetrics } from './metrics.js';
import { metricsRoutes } from './metrics-routes.js';
import { RaftLockBackend } from './raft-lock-backend.js';

/** HttpServerOptions wires the HTTP API to one node. */
export interface HttpServerOptions {
  readonly member: OpenMember;
  readonly locks: LockService;
  readonly admin: AdminBackend;
  /** Each member's HTTP base URL, for forwarding to the leader. */
  readonly peerHttp: Readonly<Record<NodeId, string>>;
  readonly logger: FastifyBaseLogger;
  /** How long a linearizable read waits for the leader to confirm itself. */
  readonly readTimeoutMs: number;
}

/**
 * buildHttpServer creates the fastify app of one node: metrics, then the lock
 * API, sessions, status and the admin routes over the node's RaftHost and
 * LockService. Every route is served by every node: writes and linearizable
 * reads on a follower are forwarded to the leader. The app is not listening yet.
 */
export function buildHttpServer(opts: HttpServerOptions): FastifyInstance {
  const app = createHttpApp(opts.logger);
  const { member } = opts;
  const host = member.host;
  const metrics = new NodeMetrics(host, opts.locks);
  registerLifecycleMetrics(metrics.registry, member);
  // First, so that its latency hook covers the routes registered after it.
  void app.register(metricsRoutes, { metrics });
  const backend = new RaftLockBackend({ ...opts, host, clusterId: member.clusterId, health: member.health });
  void app.register(apiRoutes, { backend, admin: opts.admin });
  return app;
}
