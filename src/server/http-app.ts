import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { guardConnections, type ConnectionGuard, type ConnectionLimits } from './connection-guard.js';
import { sendError, sendFailure } from './error-mapping.js';
import type { RefusalLog } from './refusal-log.js';

const BODY_LIMIT_BYTES = 64 * 1024;
/** How often Node checks open connections against the headers and request timeouts (its default, 30 s, would let them overstay by that much). */
const TIMEOUT_CHECK_INTERVAL_MS = 500;

/** The connection guard of each app made with limits. */
const guards = new WeakMap<FastifyInstance, ConnectionGuard>();

/** HttpTimeouts bound how long a connection may take to send a request, and stay idle between requests. */
export interface HttpTimeouts {
  /** From the connection (or the end of the previous request) to the end of a request's headers; also the TLS handshake's bound. */
  readonly headersTimeoutMs: number;
  /** From the start to the end of receiving a request (headers and body). Answers may take longer (long-polls). */
  readonly requestTimeoutMs: number;
  /** How long a keep-alive connection may sit idle between requests. */
  readonly idleTimeoutMs: number;
}

/** HttpAppOptions turn on HTTPS and the connection limits; without them the app is plain HTTP with Node's defaults (tests). */
export interface HttpAppOptions {
  /** PEM key and certificate: serve HTTPS. */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer };
  readonly limits?: { readonly timeouts: HttpTimeouts; readonly connections: ConnectionLimits; readonly refusals: RefusalLog };
}

/**
 * createHttpApp makes an empty fastify app with the API's conventions and no
 * routes: bounded bodies, strict JSON-schema validation, and every error
 * answered as `{error, message}` (client mistakes as 400 bad_request, unknown
 * routes as 404 not_found, anything unexpected as 500 internal). With
 * `options`, it serves HTTPS and enforces timeouts and connection caps
 * (connection-guard.ts). Route plugins are registered on it (see
 * http-server.ts).
 */
export function createHttpApp(logger: FastifyBaseLogger, options: HttpAppOptions = {}): FastifyInstance {
  const limits = options.limits;
  const serverLimits = limits === undefined ? {} : { headersTimeout: limits.timeouts.headersTimeoutMs, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS };
  let guard: ConnectionGuard | null = null;
  const common = {
    loggerInstance: logger,
    bodyLimit: BODY_LIMIT_BYTES,
    ...(limits !== undefined ? { requestTimeout: limits.timeouts.requestTimeoutMs, keepAliveTimeout: limits.timeouts.idleTimeoutMs } : {}),
    // Long names must reach the schema (and get its 400), not the router's 414; 256 characters percent-encoded fit.
    routerOptions: { maxParamLength: 1024 },
    // Errors the framework raises before routing (bad URL encoding, oversized parameters) are bad input too.
    frameworkErrors: (err: Error, request: unknown, reply: Parameters<typeof sendError>[0]) => {
      void sendError(reply, 'bad_request', err.message);
    },
    // Errors of the HTTP parser, before fastify sees a request: timeouts and malformed requests.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket, limits?.refusals ?? null, guard),
    // Per-request logs would dominate at thousands of requests per second; latency goes to /metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request: pino's child() serializes its bindings ({reqId}) on every request, about 2% of a
    // busy leader's CPU. The few request-time logs name their request id themselves (error-mapping.ts, leader-forwarder.ts).
    childLoggerFactory: (parent: FastifyBaseLogger) => parent,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  };
  // An HTTPS fastify has https.Server's type; its request API is http.Server's, which the plugins are written against.
  const app = (
    options.tls !== undefined
      ? Fastify({ ...common, https: { key: options.tls.key, cert: options.tls.cert, handshakeTimeout: limits?.timeouts.headersTimeoutMs ?? 120_000, ...serverLimits } })
      : Fastify({ ...common, http: serverLimits })
  ) as unknown as FastifyInstance;
  if (limits !== undefined) {
    guard = guardConnections(app.server, limits.connections, limits.refusals);
    guards.set(app, guard);
    watchIdleAndTls(app, limits.refusals);
  }
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
  // A callback hook, not an async one: no promise and no microtask per answer.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });
}

/** openConnections is the number of client connections `app` has open (0 for an app made without limits). */
export function openConnections(app: FastifyInstance): number {
  return guards.get(app)?.open() ?? 0;
}

/**
 * watchIdleAndTls counts keep-alive connections closed for idling (quietly:
 * clients do that all the time) and TLS handshakes that timed out.
 */
function watchIdleAndTls(app: FastifyInstance, refusals: RefusalLog): void {
  // A 'timeout' listener takes over Node's default of destroying the idle socket.
  app.server.on('timeout', (socket: Socket) => {
    refusals.count('idle_timeout');
    socket.destroy();
  });
  app.server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') refusals.hit('tls_handshake_timeout', { address: socket.remoteAddress });
    else refusals.count('tls_handshake_failed');
  });
}

/**
 * answerClientError answers what Node's HTTP parser refused before fastify
 * saw a request, in the API's `{error, message}` form: a request not in by
 * its deadline (408 request_timeout, counted as a headers or request
 * timeout), anything malformed (400 bad_request).
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket, refusals: RefusalLog | null, guard: ConnectionGuard | null): void {
  // The client hung up (reset, or closed in the middle of a request): nothing to answer.
  if (err.code === 'ECONNRESET' || err.code === 'HPE_INVALID_EOF_STATE' || socket.destroyed) {
    socket.destroy();
    return;
  }
  let status: number;
  let body: { error: string; message: string };
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    // Headers that never completed, or a body that never did (its request was being served).
    const which = guard?.serving(socket) === true ? 'request_timeout' : 'headers_timeout';
    refusals?.hit(which, { address: socket.remoteAddress });
    status = 408;
    body = { error: 'request_timeout', message: `the request did not arrive in time (${which.replace('_', ' ')})` };
  } else {
    refusals?.count('malformed_request');
    status = 400;
    body = { error: 'bad_request', message: `malformed HTTP request (${err.code ?? err.message})` };
  }
  if (socket.writable) {
    const text = JSON.stringify(body);
    socket.write(`HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nContent-Length: ${Buffer.byteLength(text)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${text}`);
  }
  socket.destroy();
}
