import type { FastifyInstance } from 'fastify';
import { adminRoutes } from './admin-routes.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { electionRoutes } from './election-routes.js';
import type { BackendPluginOptions } from './lock-backend.js';
import { lockRoutes } from './lock-routes.js';
import { memberRoutes } from './member-routes.js';
import { sessionRoutes } from './session-routes.js';
import { statusRoutes } from './status-routes.js';
import { uiRoutes } from './ui-routes.js';

/**
 * ROUTE_PLUGINS are the resources of the API, one fastify plugin each, all
 * served over a LockBackend. A new resource is a new plugin file listed here;
 * the node (http-server.ts) and the client tests' in-process cluster both
 * serve this list (the admin routes only where there is an AdminBackend).
 */
const ROUTE_PLUGINS = [lockRoutes, electionRoutes, sessionRoutes, statusRoutes, dashboardRoutes, uiRoutes, adminRoutes, memberRoutes] as const;

/** apiRoutes is the fastify plugin of the whole API over one backend: every plugin of ROUTE_PLUGINS. */
export async function apiRoutes(app: FastifyInstance, opts: BackendPluginOptions): Promise<void> {
  for (const plugin of ROUTE_PLUGINS) await app.register(plugin, opts);
}
