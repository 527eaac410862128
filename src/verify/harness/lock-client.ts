/**
 * A verify client: one Jepsen "process" issuing one lock operation at a time over
 * raw HTTP and recording each as one history operation.
 *
 * An operation is one invocation and one completion, whatever happened between:
 * the client starts at its home node and fails over to the others; on 503 (no
 * leader; definitely not applied) it retries after a short pause, and on a lost
 * attempt (timeout, reset, 504) it retries too, with the SAME requestId, so the
 * server applies the write at most once (Raft thesis §6.3) and a definite answer
 * to any attempt is the answer of the operation. If no attempt got a definite
 * answer and some attempt may have reached a server, the outcome is 'unknown'.
 * The operation's time budget bounds all of this.
 */
import type {
  AcquireOp,
  FailOutput,
  HolderView,
  Operation,
  ReadOp,
  ReleaseOp,
  RenewOp,
} from '../history.js';
import { httpCall, type CallResult, type HttpAccess } from './http-call.js';
import type { HistoryRecorder } from './history-recorder.js';
import { sleep, type RunClock } from './run-clock.js';

/** LockClientOptions configures one client. */
export interface LockClientOptions {
  /** The history's process id of this client. */
  readonly process: number | string;
  /** Every node's HTTP base URL; the client talks to all of them. */
  readonly endpoints: readonly string[];
  /** Index of the home node in endpoints. */
  readonly home: number;
  readonly clock: RunClock;
  readonly recorder: HistoryRecorder;
  /** Bound on one operation, retries included (default 5,000 ms). */
  readonly opTimeoutMs?: number;
  /** Bound on one attempt (default 2,000 ms). */
  readonly attemptTimeoutMs?: number;
  /** Prefix making requestIds unique across runs against the same data. */
  readonly requestIdPrefix: string;
  /** The CA and bearer token of a secured cluster (run-security.ts); default none. */
  readonly access?: HttpAccess;
}

/** What one attempt proved. */
type AttemptVerdict =
  | { readonly kind: 'definite'; readonly status: number; readonly body: Record<string, unknown> }
  | { readonly kind: 'not_applied'; readonly error: string }
  | { readonly kind: 'maybe'; readonly error: string };

/** MAX_ATTEMPTS bounds the retries of one operation (the time budget usually ends it first). */
const MAX_ATTEMPTS = 64;
const RETRY_PAUSE_MS = 100;
/** A client that failed over returns to its home node every this many operations. */
const HOME_EVERY_OPS = 8;

function classify(r: CallResult): AttemptVerdict {
  if (r.kind === 'not_sent') return { kind: 'not_applied', error: `unreachable:${r.error}` };
  if (r.kind === 'lost') return { kind: 'maybe', error: r.error };
  const code = typeof r.body['error'] === 'string' ? r.body['error'] : `http_${r.status}`;
  if (r.status === 200 || r.status === 400 || r.status === 404 || r.status === 409) return { kind: 'definite', status: r.status, body: r.body };
  // 503: no leader; 401/403: refused before any route ran (authentication is checked first, relays included).
  if (r.status === 503 || r.status === 401 || r.status === 403) return { kind: 'not_applied', error: code };
  // 504 outcome_unknown, 500 internal, anything else: the write may have happened.
  return { kind: 'maybe', error: code };
}

/** ClientStats counts attempts by verdict, for the run summary. */
export interface ClientStats {
  attempts: number;
  retries: number;
}

/** LockClient issues lock operations and records them. */
export class LockClient {
  private seq = 0;
  private seqOps = 1;
  private cursor: number;
  readonly stats: ClientStats = { attempts: 0, retries: 0 };
  private readonly opTimeoutMs: number;
  private readonly attemptTimeoutMs: number;

  constructor(private readonly opts: LockClientOptions) {
    if (opts.endpoints.length === 0) throw new Error('LockClient needs at least one endpoint');
    this.cursor = opts.home % opts.endpoints.length;
    this.opTimeoutMs = opts.opTimeoutMs ?? 5_000;
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 2_000;
  }

  get process(): number | string {
    return this.opts.process;
  }

  /** acquire asks for `key` for `owner` with a lease of ttlMs (no waiting). */
  async acquire(key: string, owner: string, ttlMs: number): Promise<AcquireOp> {
    const requestId = this.requestId();
    const r = await this.call('POST', `/v1/locks/${encodeURIComponent(key)}/acquire`, { owner, ttlMs, requestId });
    const base = { ...r.common, key, f: 'acquire' as const, input: { owner, ttlMs } };
    if (r.final.kind === 'definite' && r.final.status === 200) {
      const token = r.final.body['token'];
      if (typeof token === 'number' && Number.isFinite(token)) return this.record({ ...base, status: 'ok', output: { token }, completeMs: r.completeMs });
      return this.record({ ...base, status: 'unknown', output: null, completeMs: r.completeMs });
    }
    return this.record({ ...base, ...this.nonOk(r) } as AcquireOp);
  }

  /** release gives back (owner, token). */
  async release(key: string, owner: string, token: number): Promise<ReleaseOp> {
    const requestId = this.requestId();
    const r = await this.call('POST', `/v1/locks/${encodeURIComponent(key)}/release`, { owner, token, requestId });
    const base = { ...r.common, key, f: 'release' as const, input: { owner, token } };
    if (r.final.kind === 'definite' && r.final.status === 200) return this.record({ ...base, status: 'ok', output: {}, completeMs: r.completeMs });
    return this.record({ ...base, ...this.nonOk(r) } as ReleaseOp);
  }

  /** renew sets the lease of (owner, token) to ttlMs from when the server applies it. */
  async renew(key: string, owner: string, token: number, ttlMs: number): Promise<RenewOp> {
    const requestId = this.requestId();
    const r = await this.call('POST', `/v1/locks/${encodeURIComponent(key)}/renew`, { owner, token, ttlMs, requestId });
    const base = { ...r.common, key, f: 'renew' as const, input: { owner, token, ttlMs } };
    if (r.final.kind === 'definite' && r.final.status === 200) return this.record({ ...base, status: 'ok', output: {}, completeMs: r.completeMs });
    return this.record({ ...base, ...this.nonOk(r) } as RenewOp);
  }

  /** read is a linearizable read of one lock (served by the leader after a read barrier). */
  async read(key: string, opTimeoutMs?: number): Promise<ReadOp> {
    const r = await this.call('GET', `/v1/locks/${encodeURIComponent(key)}`, undefined, opTimeoutMs);
    const base = { ...r.common, key, f: 'read' as const, input: {} };
    if (r.final.kind === 'definite' && r.final.status === 200) {
      const holdersRaw = r.final.body['holders'];
      const lastToken = r.final.body['lastToken'];
      if (Array.isArray(holdersRaw) && typeof lastToken === 'number') {
        const holders: HolderView[] = holdersRaw.map((h: { owner?: unknown; token?: unknown }) => ({ owner: String(h.owner), token: Number(h.token) }));
        return this.record({ ...base, status: 'ok', output: { holders, lastToken }, completeMs: r.completeMs });
      }
    }
    // A read has no effect: any non-ok outcome is recorded as a failure to read or unknown.
    return this.record({ ...base, ...this.nonOk(r) } as ReadOp);
  }

  private requestId(): string {
    return `${this.opts.requestIdPrefix}-${String(this.opts.process)}-${++this.seq}`;
  }

  private nonOk(r: { final: AttemptVerdict; completeMs: number; sawMaybe: boolean }):
    | { status: 'fail'; output: FailOutput; completeMs: number }
    | { status: 'unknown'; output: null; completeMs: number } {
    const f = r.final;
    if (f.kind === 'definite') {
      const error = typeof f.body['error'] === 'string' ? f.body['error'] : `http_${f.status}`;
      return { status: 'fail', output: { error }, completeMs: r.completeMs };
    }
    if (r.sawMaybe) return { status: 'unknown', output: null, completeMs: r.completeMs };
    return { status: 'fail', output: { error: f.error }, completeMs: r.completeMs };
  }

  private record<O extends Operation>(op: O): O {
    this.opts.recorder.add(op);
    return op;
  }

  /**
   * call runs the attempts of one operation: fail over on every non-definite
   * answer, pause briefly after a refusal, stop at a definite answer or at the
   * operation's deadline.
   */
  private async call(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    opTimeoutMs = this.opTimeoutMs,
  ): Promise<{ common: { id: number; process: number | string; invokeMs: number }; final: AttemptVerdict; completeMs: number; sawMaybe: boolean }> {
    const { clock, recorder, endpoints } = this.opts;
    const id = recorder.nextId();
    const invokeMs = clock.nowMs();
    const deadlineMs = invokeMs + opTimeoutMs;
    let sawMaybe = false;
    let unreachableInRow = 0;
    let final: AttemptVerdict = { kind: 'not_applied', error: 'no_attempt' };
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const remainingMs = deadlineMs - clock.nowMs();
      if (remainingMs < 20) break;
      if (attempt > 0) this.stats.retries++;
      this.stats.attempts++;
      const url = endpoints[this.cursor]!;
      const verdict = classify(await httpCall(url, method, path, body, Math.min(this.attemptTimeoutMs, remainingMs), this.opts.access));
      final = verdict;
      if (verdict.kind === 'definite') break;
      if (verdict.kind === 'maybe') sawMaybe = true;
      // Fail over: the next node may know the leader, or be it.
      this.cursor = (this.cursor + 1) % endpoints.length;
      // Pause after a refusal, and after a whole round of unreachable nodes (all killed).
      unreachableInRow = verdict.kind === 'not_applied' && verdict.error.startsWith('unreachable') ? unreachableInRow + 1 : 0;
      if ((verdict.kind === 'not_applied' && unreachableInRow === 0) || unreachableInRow >= endpoints.length) {
        unreachableInRow = 0;
        await sleep(Math.min(RETRY_PAUSE_MS, deadlineMs - clock.nowMs()));
      }
    }
    // Failover is sticky (a paused home node would cost every operation an attempt
    // timeout), but every few operations the client tries its home node again.
    if (this.seqOps++ % HOME_EVERY_OPS === 0) this.cursor = this.opts.home % endpoints.length;
    return { common: { id, process: this.opts.process, invokeMs }, final, completeMs: clock.nowMs(), sawMaybe };
  }
}
