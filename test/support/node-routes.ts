import { pino } from 'pino';
import type { LockService } from '../../src/node/lock-service.js';
import type { RaftHost } from '../../src/node/raft-host.js';
import type { AdminBackend } from '../../src/server/admin-backend.js';
import type { RouteRole } from '../../src/server/auth.js';
import { createHttpApp } from '../../src/server/http-app.js';
import { nodeApi } from '../../src/server/http-server.js';
import { NodeMetrics } from '../../src/server/metrics.js';
import { RefusalLog } from '../../src/server/refusal-log.js';
import { InProcessLocks } from '../client/in-process-locks.js';

/** NodeRoute is one route a node serves and the role it declares. */
export interface NodeRoute {
  readonly method: string;
  /** The route's pattern, `:name` and `:id` included. */
  readonly url: string;
  readonly role: RouteRole;
}

/**
 * nodeRoutes lists every route a `raftlock serve` node serves, taken from the
 * fastify app itself: the same plugin (nodeApi) the node registers, built
 * over an in-process backend. A route added to any plugin appears here
 * without a test having to list it. HEAD routes (fastify's copies of the GET
 * routes, with their config) are left out. `metricsRole` is what the node
 * under test was given with --metrics-auth.
 */
export async function nodeRoutes(metricsRole: 'none' | 'reader'): Promise<NodeRoute[]> {
  const silent = pino({ level: 'silent' });
  const app = createHttpApp(silent);
  const routes: NodeRoute[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routes.push({ method, url: route.url, role: route.config?.role ?? ('undeclared' as RouteRole) });
    }
  });
  const locks = new InProcessLocks();
  const status = { id: 'n1', role: 'leader' as const, term: 1, leader: 'n1', commitIndex: 0, appliedIndex: 0, members: ['n1'] };
  try {
    await app.register(nodeApi, {
      backend: locks.backend(() => status),
      // A real member serves the admin and member routes too; registering them reads nothing of the backend.
      admin: {} as AdminBackend,
      // Only the registry's shape matters here: nothing scrapes it.
      metrics: new NodeMetrics({} as RaftHost, {} as LockService),
      security: { tokens: null, signer: null, metricsRole, maxWaitsPerPrincipal: 1 },
      refusals: { limits: new RefusalLog(silent, 'limit'), auth: new RefusalLog(silent, 'auth') },
    });
    await app.ready();
  } finally {
    await app.close();
    locks.close();
  }
  return routes;
}
