import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { LockService } from '../node/lock-service.js';
import type { OpenMember } from '../node/open-raft-host.js';
import type { RecentEvents } from '../node/recent-events.js';
import type { NodeId } from '../raft/index.js';
import type { AdminBackend } from './admin-backend.js';
import { apiRoutes } from './api-routes.js';
import { authPlugin } from './auth.js';
import { createHttpApp, openConnections } from './http-app.js';
import type { HttpSecurity } from './http-security.js';
import { registerLifecycleMetrics } from './lifecycle-metrics.js';
import type { LockBackend } from './lock-backend.js';
import { NodeMetrics } from './metrics.js';
import { metricsRoutes } from './metrics-routes.js';
import { openApiRoutes } from './openapi-routes.js';
import { PeerHttp } from './peer-http.js';
import { RaftLockBackend } from './raft-lock-backend.js';
import { RefusalLog } from './refusal-log.js';
import { waitQuotaPlugin } from './wait-quota.js';

/** HttpServerOptions wires the HTTP API to one node. */
export interface HttpServerOptions {
  readonly member: OpenMember;
  readonly locks: LockService;
  readonly admin: AdminBackend;
  /** The member's recent leader changes and expiries, for the status page. */
  readonly recentEvents: RecentEvents;
  /** Each member's HTTP base URL, for forwarding to the leader. */
  readonly peerHttp: Readonly<Record<NodeId, string>>;
  readonly logger: FastifyBaseLogger;
  /** How long a linearizable read waits for the leader to confirm itself. */
  readonly readTimeoutMs: number;
  readonly security: HttpSecurity;
}

/** NodeApiOptions are what the node's plugins need, besides the app: the backend, metrics and security. */
export interface NodeApiOptions {
  readonly backend: LockBackend;
  readonly metrics: NodeMetrics;
  readonly security: Pick<HttpSecurity, 'tokens' | 'signer' | 'metricsRole' | 'maxWaitsPerPrincipal'>;
  readonly refusals: { readonly limits: RefusalLog; readonly auth: RefusalLog };
  /** A real member's admin side (leader transfer, backups); absent where there is none (the client tests' cluster). */
  readonly admin?: AdminBackend;
}

/**
/**
 * nodeApi is the fastify plugin of everything a node serves: authentication
 * first (its hooks must see every route, and it refuses a route that does not
 * declare its role), the OpenAPI document (which describes the routes after
 * it), then metrics (whose latency hook covers the routes after it), the
 * per-principal cap on waiting requests, and the lock API with the admin
 * routes. A new plugin goes here or in api-routes.ts, after authPlugin.
 */
export async function nodeApi(app: FastifyInstance, opts: NodeApiOptions): Promise<void> {
  await app.register(authPlugin, { tokens: opts.security.tokens, signer: opts.security.signer, refusals: opts.refusals.auth });
  await app.register(openApiRoutes);
  await app.register(metricsRoutes, { metrics: opts.metrics, role: opts.security.metricsRole });
  await app.register(waitQuotaPlugin, { maxWaitsPerPrincipal: opts.security.maxWaitsPerPrincipal, refusals: opts.refusals.limits });
  await app.register(apiRoutes, { backend: opts.backend, ...(opts.admin !== undefined ? { admin: opts.admin } : {}) });
}

/**
 * buildHttpServer creates the fastify app of one node (HTTP or HTTPS, with
 * its timeouts and connection caps) serving nodeApi over the node's RaftHost
 * and LockService, and the admin routes. Every route is served by every node:
 * writes and linearizable reads on a follower are forwarded to the leader. The
 * app is not listening yet.
 */
export function buildHttpServer(opts: HttpServerOptions): FastifyInstance {
  const { security, member } = opts;
  const host = member.host;
  const refusals = { limits: new RefusalLog(opts.logger, 'http limit'), auth: new RefusalLog(opts.logger, 'http auth') };
  const app = createHttpApp(opts.logger, {
    ...(security.tls !== undefined ? { tls: security.tls } : {}),
    limits: { timeouts: security.timeouts, connections: security.connections, refusals: refusals.limits },
  });
  const peers = new PeerHttp({ ...(security.ca !== undefined ? { ca: security.ca } : {}), signer: security.signer });
  const metrics = new NodeMetrics(host, opts.locks, { ...refusals, openConnections: () => openConnections(app) });
  registerLifecycleMetrics(metrics.registry, member);
  const backend = new RaftLockBackend({
    ...opts,
    host,
    clusterId: member.clusterId,
    health: member.health,
    peers,
    onWaitEnded: (waitedMs, granted) => metrics.lockWaitSeconds.observe({ outcome: granted ? 'granted' : 'not_granted' }, waitedMs / 1000),
  });
  void app.register(nodeApi, { backend, admin: opts.admin, metrics, security, refusals });
  app.addHook('onClose', async () => {
    peers.close();
    refusals.limits.close();
    refusals.auth.close();
  });
  return app;
}
