import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { sendError, sendFailure } from './error-mapping.js';

const BODY_LIMIT_BYTES = 64 * 1024;

/**
 * createHttpApp makes an empty fastify app with the API's conventions and no
 * routes: bounded bodies, strict JSON-schema validation, and every error
 * answered as `{error, message}` (client mistakes as 400 bad_request, unknown
 * routes as 404 not_found, anything unexpected as 500 internal). Route
 * plugins are registered on it (see http-server.ts).
 */
export function createHttpApp(logger: FastifyBaseLogger): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: BODY_LIMIT_BYTES,
    // Long names must reach the schema (and get its 400), not the router's 414; 256 characters percent-encoded fit.
    routerOptions: { maxParamLength: 1024 },
    // Errors the framework raises before routing (bad URL encoding, oversized parameters) are bad input too.
    frameworkErrors: (err, request, reply) => {
      void sendError(reply, 'bad_request', err.message);
    },
    // Per-request logs would dominate at thousands of requests per second; latency goes to /metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  // Every client error fastify raises (bad JSON, schema mismatch, wrong content type, body too large) is a 400.
  app.setErrorHandler((err: { statusCode?: number; validation?: unknown; message: string }, request, reply) => {
    if (err.validation !== undefined || (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)) {
      return sendError(reply, 'bad_request', err.message);
    }
    return sendFailure(reply, err);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, 'not_found', `no route ${request.method} ${request.url}`));
  closeConnectionsOnClose(app);
  return app;
}

/**
 * closeConnectionsOnClose makes a closing app answer with `Connection: close`. server.close() closes only the
 * keep-alive sockets that are idle when it is called; one serving a request then became idle afterwards and stayed
 * open for the keep-alive timeout (72 s), holding a SIGTERM'd member's shutdown (and a rolling restart) that long.
 */
function closeConnectionsOnClose(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (closing) void reply.header('connection', 'close');
    return payload;
  });
}
