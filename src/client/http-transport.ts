import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import {
  NoLeaderError,
  OutcomeUnknownError,
  RaftLockClientError,
  TimeoutError,
  UnavailableError,
  errorFromResponse,
} from './errors.js';
import { monotonicNowMs } from './monotonic-clock.js';

/** TransportOptions are the resolved (defaulted) knobs of an HttpTransport. */
export interface TransportOptions {
  readonly endpoints: readonly string[];
  /** Bound on one HTTP attempt, on top of the server's legitimate wait (a long-poll's waitMs). */
  readonly requestTimeoutMs: number;
  /** Retries after the first attempt; the attempts of one call are at most maxRetries + 1. */
  readonly maxRetries: number;
  /** First backoff delay; it doubles per retry up to retryMaxDelayMs, with jitter. */
  readonly retryBaseMs: number;
  readonly retryMaxDelayMs: number;
  /** Bound on one logical call with all its retries, on top of the server's legitimate wait. */
  readonly callTimeoutMs: number;
  /** Probe /v1/status in the background (at the first call and after a failover) and stick to the leader. */
  readonly preferLeader: boolean;
  /** Bearer token sent with every request, if any. */
  readonly token?: string;
  /** CA certificates (PEM) trusted for HTTPS endpoints instead of Node's default list. */
  readonly ca?: string | Buffer;
}

/** CallOptions describe one logical call; a retry resends exactly the same method, path and body. */
export interface CallOptions {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Path and query, already encoded, starting with `/`. */
  readonly path: string;
  /** JSON body. A write's body carries its requestId, so every retry of the call carries the same one. */
  readonly body?: unknown;
  /** Whether the call changes state: an attempt that may have reached the server then makes the outcome unknown. */
  readonly write: boolean;
  /** How long the server may legitimately hold the request (a long-poll acquire's waitMs). */
  readonly waitMs?: number;
  readonly signal?: AbortSignal;
  /** Absolute deadline on the monotonic clock; the call gives up by then even if retries remain. */
  readonly deadlineMs?: number;
  /** Talk to this endpoint only, once (status of one node). */
  readonly endpoint?: string;
}

/** CallResult is the parsed 2xx body and when (monotonic ms) the attempt that produced it started. */
export interface CallResult<T> {
  readonly body: T;
  readonly attemptStartMs: number;
  readonly endpoint: string;
}

/** A retryable failure of one attempt. `maybeApplied`: the request may have reached a server that acted on it. */
interface RetryableFailure {
  readonly kind: 'connection' | 'attempt_timeout' | 'unavailable' | 'outcome_unknown';
  readonly code: string;
  readonly message: string;
  readonly maybeApplied: boolean;
  readonly cause?: unknown;
}

type AttemptOutcome<T> = { readonly ok: true; readonly result: CallResult<T> } | { readonly ok: false; readonly failure: RetryableFailure };

/** Connection errors that prove the request never reached a server. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);
/** Minimum pause between two background leader probes. */
const LEADER_PROBE_INTERVAL_MS = 1_000;
const LEADER_PROBE_TIMEOUT_MS = 2_000;
/** Bound on an answer's body: every answer of the API is a small JSON object. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/**
 * Bound on open connections per endpoint (one per call in flight). Idle ones are kept up to the same bound, so the
 * pool settles at the application's peak concurrency: closing sockets a burst will need again costs a TCP handshake
 * (and on HTTPS a TLS one) per call. The server's keep-alive timeout closes ones that stay idle.
 */
const MAX_SOCKETS_PER_ENDPOINT = 1024;
const MAX_IDLE_SOCKETS_PER_ENDPOINT = MAX_SOCKETS_PER_ENDPOINT;

/** HttpAnswer is one HTTP response: its status and its body as text. */
interface HttpAnswer {
  readonly status: number;
  readonly text: string;
}

/**
 * HttpTransport sends the client's calls to the cluster. It keeps a "current"
 * endpoint (the last one that answered without 503/connection failure) and
 * rotates on connection errors, attempt timeouts, 503 and 504, retrying with
 * exponential backoff and jitter within a bounded number of attempts and a
 * total deadline. A retry resends the same body, so a write's requestId is
 * the same on every attempt and the server's dedupe table (Raft thesis §6.3)
 * applies it at most once.
 */
export class HttpTransport {
  private readonly endpoints: readonly string[];
  private currentIndex = 0;
  private lastProbeAtMs = -Infinity;
  private probing = false;
  // node:http with keep-alive rather than fetch: fetch (undici, web streams, transferable abort signals) cost about
  // 0.4 ms more CPU per request here, which made the client, not the cluster, the bottleneck of a busy application.
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS_PER_ENDPOINT, maxFreeSockets: MAX_IDLE_SOCKETS_PER_ENDPOINT });
  private readonly httpsAgent: HttpsAgent;
  private readonly authorization: string | undefined;
  private readonly targets: ReadonlyMap<string, RequestTarget>;

  constructor(private readonly options: TransportOptions) {
    if (options.endpoints.length === 0) throw new RaftLockClientError('bad_request', 'at least one endpoint is required');
    if (options.token !== undefined && !/^[\x21-\x7e]+$/.test(options.token)) throw new RaftLockClientError('bad_request', 'token must be printable ASCII without spaces');
    this.authorization = options.token === undefined ? undefined : `Bearer ${options.token}`;
    this.httpsAgent = new HttpsAgent({
      keepAlive: true,
      maxSockets: MAX_SOCKETS_PER_ENDPOINT,
      maxFreeSockets: MAX_IDLE_SOCKETS_PER_ENDPOINT,
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
    });
    this.endpoints = options.endpoints.map(normalizeEndpoint);
    this.targets = new Map(this.endpoints.map((e) => [e, requestTarget(e)]));
    if (!(options.maxRetries >= 0 && Number.isInteger(options.maxRetries))) throw new RaftLockClientError('bad_request', 'maxRetries must be a non-negative integer');
    if (!(options.requestTimeoutMs > 0 && options.callTimeoutMs > 0)) throw new RaftLockClientError('bad_request', 'timeouts must be positive');
  }

  /** currentEndpoint is where the next call goes first. */
  get currentEndpoint(): string {
    const endpoint = this.endpoints[this.currentIndex];
    if (endpoint === undefined) throw new Error(`invariant: currentIndex ${this.currentIndex} out of ${this.endpoints.length}`);
    return endpoint;
  }

  /** allEndpoints lists the configured endpoints, normalized. */
  get allEndpoints(): readonly string[] {
    return this.endpoints;
  }

  /**
   * call runs one logical call: at most maxRetries + 1 attempts before the
   * deadline. Resolves with the first 2xx body; throws the typed error of the
   * first definitive error answer; throws `signal.reason` if aborted.
   */
  async call<T>(opts: CallOptions): Promise<CallResult<T>> {
    const startMs = monotonicNowMs();
    const waitMs = opts.waitMs ?? 0;
    const deadlineMs = Math.min(opts.deadlineMs ?? Infinity, startMs + this.options.callTimeoutMs + waitMs);
    const maxAttempts = opts.endpoint !== undefined ? 1 : this.options.maxRetries + 1;
    if (opts.endpoint === undefined && this.options.preferLeader && this.lastProbeAtMs === -Infinity) this.probeLeaderInBackground();

    let maybeApplied = false;
    let last: RetryableFailure | undefined;
    // A member that answered "no leader" outweighs members that could not be reached: that is a lost quorum.
    let noLeader: RetryableFailure | undefined;
    let attempts = 0;
    // Bounded: at most maxAttempts iterations.
    for (; attempts < maxAttempts; attempts++) {
      opts.signal?.throwIfAborted();
      if (attempts > 0) await sleep(Math.min(this.backoffMs(attempts), deadlineMs - monotonicNowMs()), opts.signal);
      const remainingMs = deadlineMs - monotonicNowMs();
      // Under 1 ms is no budget: timers run in whole milliseconds (a 199.6 ms attempt timeout fires at 199), so an
      // attempt cut short by the deadline would otherwise be followed by a request with a fraction of a ms left.
      if (remainingMs < 1) break;
      const endpoint = opts.endpoint ?? this.currentEndpoint;
      const outcome = await this.attempt<T>(endpoint, opts, Math.min(this.options.requestTimeoutMs + waitMs, remainingMs));
      if (outcome.ok) return outcome.result;
      last = outcome.failure;
      if (last.code === 'no_leader') noLeader = last;
      if (opts.write && last.maybeApplied) maybeApplied = true;
      if (opts.endpoint === undefined) this.rotateFrom(endpoint);
    }
    throw finalError(opts, last?.kind === 'connection' && noLeader !== undefined ? noLeader : last, maybeApplied, attempts, monotonicNowMs() >= deadlineMs);
  }

  /**
   * discoverLeader asks every endpoint's /v1/status at once and makes the one
   * that reports `role: "leader"` current. Returns it, or null if none did.
   */
  async discoverLeader(signal?: AbortSignal): Promise<string | null> {
    this.lastProbeAtMs = monotonicNowMs();
    const timeoutMs = Math.min(this.options.requestTimeoutMs, LEADER_PROBE_TIMEOUT_MS);
    const roles = await Promise.all(
      this.endpoints.map(async (endpoint) => {
        try {
          const res = await this.send(endpoint, 'GET', '/v1/status', undefined, timeoutMs, signal);
          const body = parseJson(res.text) as { role?: unknown } | undefined;
          return res.status === 200 && body?.role === 'leader';
        } catch {
          return false;
        }
      }),
    );
    signal?.throwIfAborted();
    const index = roles.indexOf(true);
    if (index < 0) return null;
    this.currentIndex = index;
    return this.currentEndpoint;
  }

  private probeLeaderInBackground(): void {
    if (this.probing || this.endpoints.length < 2 || monotonicNowMs() - this.lastProbeAtMs < LEADER_PROBE_INTERVAL_MS) return;
    this.probing = true;
    this.discoverLeader()
      .catch(() => null)
      .finally(() => {
        this.probing = false;
      });
  }

  /** rotateFrom moves past `endpoint` if it is still current (concurrent calls that failed on it rotate once). */
  private rotateFrom(endpoint: string): void {
    if (this.currentEndpoint !== endpoint) return;
    this.currentIndex = (this.currentIndex + 1) % this.endpoints.length;
    if (this.options.preferLeader) this.probeLeaderInBackground();
  }

  /** backoffMs is the pause before retry number `retry` (1-based): exponential, capped, with "equal jitter". */
  private backoffMs(retry: number): number {
    const ceilingMs = Math.min(this.options.retryMaxDelayMs, this.options.retryBaseMs * 2 ** Math.min(retry - 1, 30));
    return ceilingMs / 2 + (Math.random() * ceilingMs) / 2;
  }

  /** attempt sends one HTTP request; definitive error answers throw, retryable failures return. */
  private async attempt<T>(endpoint: string, opts: CallOptions, timeoutMs: number): Promise<AttemptOutcome<T>> {
    const attemptStartMs = monotonicNowMs();
    try {
      const res = await this.send(endpoint, opts.method, opts.path, opts.body === undefined ? undefined : JSON.stringify(opts.body), timeoutMs, opts.signal);
      const body = parseJson(res.text);
      if (res.status >= 200 && res.status < 300) {
        if (body === undefined) throw new RaftLockClientError('bad_response', `${endpoint} answered ${res.status} with a body that is not JSON`);
        return { ok: true, result: { body: body as T, attemptStartMs, endpoint } };
      }
      const code = errorCodeOf(body) ?? `http_${res.status}`;
      const message = `${endpoint}: ${messageOf(body) ?? code}`;
      // 503: the server did not act on the request (no leader, overloaded, shutting down, proposal dropped).
      if (res.status === 503) return { ok: false, failure: { kind: 'unavailable', code, message, maybeApplied: false } };
      // 504: the server proposed the write but could not learn its fate.
      if (res.status === 504) return { ok: false, failure: { kind: 'outcome_unknown', code, message, maybeApplied: true } };
      throw errorFromResponse(res.status, body);
    } catch (err) {
      if (err instanceof RaftLockClientError) throw err;
      if (opts.signal?.aborted === true) throw opts.signal.reason;
      if (err instanceof AttemptTimeout) {
        return { ok: false, failure: { kind: 'attempt_timeout', code: 'attempt_timeout', message: `${endpoint} did not answer within ${Math.round(timeoutMs)} ms`, maybeApplied: true, cause: err } };
      }
      return {
        ok: false,
        failure: { kind: 'connection', code: 'unreachable', message: `${endpoint}: ${describeRequestError(err)}`, maybeApplied: !provablyNotSent(err), cause: err },
      };
    }
  }

  /** close drops the idle keep-alive connections (calls in flight finish). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /**
   * send makes one HTTP request and collects the answer (bounded); rejects on connection errors, with an
   * AttemptTimeout after `timeoutMs`, and with `signal`'s reason when it aborts. The hot path allocates the request
   * and its answer only: no URL is parsed (endpoints are parsed once) and no AbortController is made per attempt.
   */
  private send(endpoint: string, method: string, path: string, body: string | undefined, timeoutMs: number, signal: AbortSignal | undefined): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      const target = this.targets.get(endpoint);
      if (target === undefined) throw new Error(`invariant: unknown endpoint ${endpoint}`);
      const headers: Record<string, string | number> = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      if (this.authorization !== undefined) headers['authorization'] = this.authorization;
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const fail = (err: unknown): void => {
        if (settle()) reject(err);
      };
      const onAbort = (): void => {
        if (settle()) {
          req.destroy();
          reject(signal?.reason);
        }
      };
      const onResponse = (res: IncomingMessage): void => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_RESPONSE_BYTES) {
            req.destroy(new RaftLockClientError('bad_response', `${endpoint} answered with more than ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (settle()) resolve({ status: res.statusCode ?? 0, text: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', fail);
      };
      const req = (target.https ? httpsRequest : httpRequest)(
        { protocol: target.protocol, hostname: target.hostname, port: target.port, path: target.basePath + path, method, headers, agent: target.https ? this.httpsAgent : this.httpAgent },
        onResponse,
      );
      req.on('error', fail);
      const timer = setTimeout(() => {
        if (settle()) {
          req.destroy();
          reject(new AttemptTimeout(timeoutMs));
        }
      }, timeoutMs);
      if (signal !== undefined) {
        if (signal.aborted) {
          onAbort();
          return;
        }
        signal.addEventListener('abort', onAbort, { once: true });
      }
      req.end(body);
    });
  }
}

/** AttemptTimeout is how send says an attempt ran out of time (the request was destroyed). */
class AttemptTimeout extends Error {
  constructor(timeoutMs: number) {
    super(`attempt timed out after ${Math.round(timeoutMs)} ms`);
  }
}

/** RequestTarget is an endpoint parsed once for node:http's request options. */
interface RequestTarget {
  readonly https: boolean;
  readonly protocol: string;
  readonly hostname: string;
  readonly port: number;
  /** Path prefix of the endpoint (usually empty), before each call's path. */
  readonly basePath: string;
}

function requestTarget(endpoint: string): RequestTarget {
  const url = new URL(endpoint);
  const https = url.protocol === 'https:';
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { https, protocol: url.protocol, hostname, port: url.port === '' ? (https ? 443 : 80) : Number(url.port), basePath: url.pathname.replace(/\/+$/, '') };
}

/** finalError is what a call throws when its attempts or its deadline ran out on retryable failures. */
function finalError(opts: CallOptions, last: RetryableFailure | undefined, maybeApplied: boolean, attempts: number, deadlinePassed: boolean): RaftLockClientError {
  const what = `${opts.method} ${opts.path}`;
  const after = `after ${attempts} attempt(s)${deadlinePassed ? ' and the call deadline' : ''}`;
  const lastText = last === undefined ? 'no attempt could start' : `last: ${last.message}`;
  const cause = last?.cause;
  if (maybeApplied) return new OutcomeUnknownError(`${what}: outcome unknown ${after}; it may or may not have taken effect (${lastText})`, { cause });
  if (last === undefined || (deadlinePassed && last.kind !== 'unavailable')) return new TimeoutError(`${what}: no answer ${after} (${lastText})`, { cause });
  if (last.code === 'no_leader') return new NoLeaderError(`${what}: no leader ${after} (${lastText})`, { cause });
  if (last.kind === 'attempt_timeout') return new TimeoutError(`${what}: no answer ${after} (${lastText})`, { cause });
  return new UnavailableError(last.code, `${what}: cluster unavailable ${after} (${lastText})`, { cause });
}

/** sleep waits `ms` (nothing if ≤ 0) or rejects with the signal's reason when aborted. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function normalizeEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new RaftLockClientError('bad_request', `endpoint ${JSON.stringify(endpoint)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RaftLockClientError('bad_request', `endpoint ${endpoint} must be http(s)`);
  return endpoint.replace(/\/+$/, '');
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorCodeOf(body: unknown): string | undefined {
  const code = (body as { error?: unknown } | undefined)?.error;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(body: unknown): string | undefined {
  const message = (body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}

/** The system error codes of a failed request: on the error itself or, for a connection tried on several addresses, on each of an AggregateError's errors. */
function errorCodes(err: unknown): string[] {
  const e = err as { code?: unknown; errors?: unknown } | null;
  if (e === null || typeof e !== 'object') return [];
  const nested = Array.isArray(e.errors) ? e.errors.map((x) => (x as { code?: unknown }).code) : [];
  return [e.code, ...nested].filter((c): c is string => typeof c === 'string' && c !== 'ABORT_ERR');
}

/** Codes of a TLS handshake that refused the server's certificate: the request was never delivered. */
const TLS_REFUSAL = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS/;

function provablyNotSent(err: unknown): boolean {
  const codes = errorCodes(err);
  return codes.length > 0 && codes.every((c) => NOT_SENT_CODES.has(c) || TLS_REFUSAL.test(c));
}

function describeRequestError(err: unknown): string {
  const codes = errorCodes(err);
  if (codes.some((c) => TLS_REFUSAL.test(c))) return `${codes.join(', ')}: its HTTPS certificate is not trusted (give the cluster's CA: the ca option, --ca)`;
  if (codes.length > 0) return codes.join(', ');
  return err instanceof Error ? err.message : String(err);
}
