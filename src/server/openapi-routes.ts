import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { packageVersion } from '../node/package-version.js';
import type { RouteRole } from './auth.js';
import { openApiAnswer, withErrors } from './response-schemas.js';

/** The document's OpenAPI version: 3.1 takes the routes' JSON schemas as they are (type arrays, `const`). */
const OPENAPI_VERSION = '3.1.0';

/**
 * openApiRoutes is the fastify plugin of `GET /openapi.json`: the API as an
 * OpenAPI 3.1 document, which @fastify/swagger generates from the routes'
 * own schemas (schemas.ts for requests, response-schemas.ts for answers), so
 * it cannot drift from what the routes check and send. Every route after it
 * in the same app is described, except internal ones (`hide`); each
 * operation names the role it needs (`x-raftlock-role`) and the bearer
 * scheme, unless it is open. Register it before the route plugins.
 */
export async function openApiRoutes(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: OPENAPI_VERSION,
      info: {
        title: 'raftlock',
        version: packageVersion(),
        description: 'A distributed lock coordinator: fencing tokens, leases, sessions, FIFO waiters. Any member serves every route; writes and reads run on the leader.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token from the auth file (--auth-file); needed only where authentication is on' } },
      },
      tags: [
        { name: 'locks', description: 'exclusive and shared locks, semaphores, fencing tokens' },
        { name: 'elections', description: 'leader election on an exclusive lock: campaign, proclaim, resign, observe' },
        { name: 'sessions', description: 'sessions whose locks end with them' },
        { name: 'status', description: 'a member’s own state, health and metrics' },
        { name: 'status page', description: 'the status page (/ui) and the data it polls' },
        { name: 'members', description: 'runtime membership change, one member at a time' },
        { name: 'admin', description: 'operators’ routes' },
      ],
    },
    transform: ({ schema, url, route }) => ({ schema: { ...schema, ...roleOf(route as RouteOptions) }, url }),
  });
  app.get(
    '/openapi.json',
    { schema: { summary: 'This document', tags: ['status'], response: withErrors({ 200: openApiAnswer }) }, config: { role: 'reader' } },
    async () => app.swagger(),
  );
}
// The document must see the routes of the app it is registered in, not only its own.
Object.assign(openApiRoutes, { [Symbol.for('skip-override')]: true });

/** roleOf is the operation's security: none for open routes, the bearer scheme (with the role to hold) for the rest. */
function roleOf(route: RouteOptions): Record<string, unknown> {
  const role = (route.config as { role?: RouteRole } | undefined)?.role ?? 'none';
  return role === 'none' ? { security: [], 'x-raftlock-role': role } : { security: [{ bearer: [] }], 'x-raftlock-role': role };
}
