import type { FastifyInstance } from 'fastify';
import type { NodeMetrics } from './metrics.js';
import { textAnswer, withErrors } from './response-schemas.js';

/** MetricsPluginOptions give the plugin the node's registry and who may read it. */
export interface MetricsPluginOptions {
  readonly metrics: NodeMetrics;
  /** `none`: open to scrapers without a token (the default); `reader`: a reader token is needed (--metrics-auth). */
  readonly role?: 'none' | 'reader';
}

/**
 * metricsRoutes is the fastify plugin of `/metrics` (Prometheus text) and of
 * the request-latency histogram. It must be registered before the route
 * plugins whose latency it records.
 */
export async function metricsRoutes(app: FastifyInstance, { metrics, role = 'none' }: MetricsPluginOptions): Promise<void> {
  // A callback hook, not an async one: no promise and no microtask per request.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.requestSeconds.observe(
      { route: request.routeOptions.url ?? 'unknown', method: request.method, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['status'], response: withErrors({ 200: textAnswer('metrics in the Prometheus text format', 'text/plain') }) }, config: { role } }, async (request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
// The latency hook must see every route, not only this plugin's: fastify's documented way to skip encapsulation
// without the fastify-plugin package.
Object.assign(metricsRoutes, { [Symbol.for('skip-override')]: true });
