import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { API_BOUNDS, LOCK_NAME_RULE, isLockName } from '../api/contract.js';
import type { AcquireOptions, CampaignOptions } from './acquire-options.js';
import {
  BadRequestError,
  LockHeldError,
  LockLostError,
  NoLeaderError,
  NotHolderError,
  OutcomeUnknownError,
  RaftLockClientError,
  SessionLostError,
  SessionNotFoundError,
  TimeoutError,
  UnavailableError,
} from './errors.js';
import { HttpTransport } from './http-transport.js';
import { LeaseKeeper, confirmFresh, leaseGrantOf, type LeaseGrant } from './lease-keeper.js';
import { Leadership, checkElectionValue, electionPath } from './leadership.js';
import { LockHandle, runWithLock } from './lock-handle.js';
import { monotonicNowMs } from './monotonic-clock.js';
import { watchLoop } from './watch-loop.js';
import { Session, deleteSession, sendKeepalive } from './session.js';
import type {
  CallSignal,
  CheckResult,
  EndpointStatus,
  ForceReleaseResult,
  ListOptions,
  LeaderInfo,
  LockInfo,
  LockListWatchEvent,
  LockMode,
  LockWatchEvent,
  NodeStatus,
  RaftLockClientOptions,
  SessionOptions,
  WatchOptions,
} from './types.js';

/** DEFAULT_LOCK_TTL_MS is a lock's lease when acquire is given no ttlMs. */
export const DEFAULT_LOCK_TTL_MS = 15_000;
const DEFAULT_SESSION_TTL_MS = 15_000;
/** How long a campaign pauses before it retries a round that failed for want of a leader. */
const CAMPAIGN_RETRY_PAUSE_MS = 500;
/** How long one blocking read of a watch waits on the server by default. */
const DEFAULT_WATCH_WAIT_MS = 30_000;


/** The body of a granted acquire. */
interface GrantBody {
  name: string;
  owner: string;
  token: number;
  mode: LockMode;
  expiresInMs: number;
  holdCount: number;
  sessionId?: string;
}

/**
 * RaftLockClient talks to a raftlock cluster over HTTP. Every call goes to
 * the current endpoint (the leader once found) and fails over across the
 * others on connection errors, 503 and 504, retrying with backoff; a write's
 * retries all carry one requestId, so a retry never acquires (or releases)
 * twice. Every method takes an AbortSignal.
 */
export class RaftLockClient {
  /** owner is the default owner of this client's locks and sessions. */
  readonly owner: string;
  private readonly transport: HttpTransport;
  private readonly safetyMarginFor: (ttlMs: number) => number;

  constructor(options: RaftLockClientOptions) {
    const callTimeoutMs = options.callTimeoutMs ?? 30_000;
    // Every retry of a call must reach the server while it still remembers the call's requestId (DEDUPE_TTL_MS).
    if (!(callTimeoutMs > 0 && callTimeoutMs <= API_BOUNDS.callTimeoutMsMax)) {
      throw new BadRequestError(`callTimeoutMs must be above 0 and at most ${API_BOUNDS.callTimeoutMsMax}: retries beyond it could act twice`);
    }
    this.transport = new HttpTransport({
      endpoints: options.endpoints,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      maxRetries: options.maxRetries ?? 6,
      retryBaseMs: options.retryBaseMs ?? 50,
      retryMaxDelayMs: 2_000,
      callTimeoutMs,
      preferLeader: options.preferLeader ?? true,
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
    });
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.safetyMarginFor = options.safetyMarginMs ?? ((ttlMs) => Math.max(ttlMs / 10, 50));
  }

  /** currentEndpoint is the endpoint the next call tries first. */
  get currentEndpoint(): string {
    return this.transport.currentEndpoint;
  }

  /** close drops the idle keep-alive connections; calls in flight finish. Idle connections never keep a process alive. */
  close(): void {
    this.transport.close();
  }

  /**
   * acquire takes the lock `name` and resolves with its LockHandle once
   * granted (waiting up to `waitMs` in the lock's FIFO queue). Throws
   * LockHeldError if not granted in time, BadRequestError on bad arguments,
   * NoLeaderError / UnavailableError / TimeoutError when the cluster could not
   * be reached, OutcomeUnknownError when it could not learn whether the grant
   * happened (the hold, if any, then expires with its lease). Callers must
   * release() the handle (or use withLock).
   *
   * Holds are reentrant per owner (the server counts them): two acquires of
   * one lock with the same owner both succeed, with the same token. All of a
   * client's acquires share its owner unless `options.owner` says otherwise,
   * so give concurrent tasks of one process their own owner when they must
   * exclude each other. Waiting is not reentrant: while an acquire of an
   * owner waits for a lock, another acquire of that lock by the same owner
   * (or under the same session) fails with code `already_waiting`.
   */
  acquire(name: string, options: AcquireOptions = {}): Promise<LockHandle> {
    return this.acquireAt(`${lockPath(name)}/acquire`, name, options, {});
  }

  /** acquireAt is acquire through `path` (a lock's acquire, or an election's campaign, which adds its `value` in `extraBody`). */
  private async acquireAt(path: string, name: string, options: AcquireOptions, extraBody: { value?: string; requestId?: string }): Promise<LockHandle> {
    checkName(name);
    const session = options.session;
    if (session !== undefined && options.ttlMs !== undefined) throw new BadRequestError('give ttlMs or session, not both');
    session?.lost.throwIfAborted();
    const ttlMs = options.ttlMs ?? DEFAULT_LOCK_TTL_MS;
    if (session === undefined && !(Number.isInteger(ttlMs) && ttlMs >= API_BOUNDS.ttlMsMin && ttlMs <= API_BOUNDS.ttlMsMax)) {
      throw new BadRequestError(`ttlMs must be an integer from ${API_BOUNDS.ttlMsMin} to ${API_BOUNDS.ttlMsMax}`);
    }
    const waitMs = options.waitMs ?? 0;
    if (!(Number.isInteger(waitMs) && waitMs >= 0)) throw new BadRequestError('waitMs must be a non-negative integer');
    const owner = options.owner ?? session?.owner ?? this.owner;
    const body = {
      owner,
      ...(session !== undefined ? { sessionId: session.id } : { ttlMs }),
      mode: options.mode ?? 'exclusive',
      waitMs,
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
      ...(options.lockDelayMs !== undefined ? { lockDelayMs: options.lockDelayMs } : {}),
      ...extraBody,
      requestId: extraBody.requestId ?? randomUUID(),
    };
    const res = await this.transport.call<GrantBody>({
      method: 'POST',
      path,
      body,
      write: true,
      waitMs,
      ...signalOf(options),
    });
    const grant = res.body;
    if (!(Number.isSafeInteger(grant.token) && grant.token >= 1)) throw new RaftLockClientError('bad_response', `acquire answered without a fencing token: ${JSON.stringify(grant)}`);
    const sendRelease = (signal: AbortSignal | undefined): Promise<void> => this.sendRelease(name, owner, grant.token, signal);

    if (session !== undefined) {
      const handle: LockHandle = new LockHandle({
        name,
        owner,
        token: grant.token,
        mode: grant.mode,
        session,
        sendRelease,
        onReleased: () => session.forget(handle),
      });
      session.track(handle);
      return handle;
    }

    const safetyMarginMs = this.safetyMarginFor(ttlMs);
    let first: LeaseGrant;
    try {
      first = await confirmFresh(leaseGrantOf(res, 'acquire'), ttlMs, safetyMarginMs, () =>
        this.sendRenew(name, owner, grant.token, ttlMs, Infinity, options.signal),
      );
    } catch (err) {
      void sendRelease(undefined).catch(() => undefined);
      if (err instanceof NotHolderError) throw new LockLostError(`lock ${name} was granted but lost before its lease could be confirmed`, { cause: err });
      throw err;
    }
    const keeper = new LeaseKeeper(
      {
        ttlMs,
        safetyMarginMs,
        autoRenew: true,
        renew: (deadlineMs, signal) => this.sendRenew(name, owner, grant.token, ttlMs, deadlineMs, signal),
        isLoss: (err) => err instanceof NotHolderError,
        lostReason: (why, cause) => new LockLostError(`lock ${name} (token ${grant.token}) lost: ${why}`, { cause }),
      },
      first,
    );
    return new LockHandle({ name, owner, token: grant.token, mode: grant.mode, keeper, sendRelease });
  }

  /**
   * withLock acquires `name`, runs `fn` with the handle, and releases it
   * whatever happens: `fn`'s result or exception propagates (a failed release
   * is swallowed, as the lease expires by itself). `fn` should watch
   * `lock.lost` and stop its work when it fires.
   */
  withLock<T>(name: string, fn: (lock: LockHandle) => Promise<T> | T, options: AcquireOptions = {}): Promise<T> {
    return runWithLock(this.acquire(name, options), fn);
  }

  /** session creates a server-side session, kept alive every ttlMs/3 until close(). */
  async session(options: SessionOptions = {}): Promise<Session> {
    const ttlMs = options.ttlMs ?? DEFAULT_SESSION_TTL_MS;
    if (!Number.isInteger(ttlMs) || ttlMs < API_BOUNDS.sessionTtlMsMin || ttlMs > API_BOUNDS.sessionTtlMsMax) {
      throw new BadRequestError(`session ttlMs must be an integer from ${API_BOUNDS.sessionTtlMsMin} to ${API_BOUNDS.sessionTtlMsMax}`);
    }
    const res = await this.transport.call<{ sessionId: string; ttlMs: number; expiresInMs?: unknown }>({
      method: 'POST',
      path: '/v1/sessions',
      body: { ttlMs, owner: this.owner, requestId: randomUUID() },
      write: true,
      ...signalOf(options),
    });
    const { sessionId } = res.body;
    if (typeof sessionId !== 'string' || sessionId === '') throw new RaftLockClientError('bad_response', 'session create answered without a sessionId');
    const grantedTtlMs = typeof res.body.ttlMs === 'number' ? res.body.ttlMs : ttlMs;
    const safetyMarginMs = this.safetyMarginFor(grantedTtlMs);
    let first: LeaseGrant;
    try {
      // The session is dated by what its deadline had left, not by its ttl: a retry's answer may carry the
      // deadline the first attempt set, an attempt timeout or more ago (issue 11, hole 3).
      first = await confirmFresh(leaseGrantOf(res, 'session create'), grantedTtlMs, safetyMarginMs, () =>
        sendKeepalive(this.transport, sessionId, Infinity, options.signal),
      );
    } catch (err) {
      void deleteSession(this.transport, sessionId).catch(() => 0);
      if (err instanceof SessionNotFoundError) throw new SessionLostError(`session ${sessionId} was created but lost before it could be confirmed`, { cause: err });
      throw err;
    }
    return new Session({
      id: sessionId,
      ttlMs: grantedTtlMs,
      owner: this.owner,
      safetyMarginMs,
      transport: this.transport,
      first,
      acquire: (name, acquireOptions) => this.acquire(name, acquireOptions),
    });
  }

  /** check asks whether `token` is still the valid fencing token of `name` (a linearizable read). */
  async check(name: string, token: number, options: CallSignal = {}): Promise<CheckResult> {
    checkName(name);
    const res = await this.transport.call<CheckResult>({ method: 'POST', path: `${lockPath(name)}/check`, body: { token }, write: false, ...signalOf(options) });
    return res.body;
  }

  /** get reads one lock's holders, waiter count and last token. */
  async get(name: string, options: CallSignal = {}): Promise<LockInfo> {
    checkName(name);
    const res = await this.transport.call<LockInfo>({ method: 'GET', path: lockPath(name), write: false, ...signalOf(options) });
    return res.body;
  }

  /** list reads up to `limit` locks whose names start with `prefix`, in name order, after `after`. */
  async list(options: ListOptions = {}): Promise<LockInfo[]> {
    const query = new URLSearchParams();
    if (options.prefix !== undefined) query.set('prefix', options.prefix);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.after !== undefined) query.set('after', options.after);
    const qs = query.toString();
    const res = await this.transport.call<{ locks: LockInfo[] }>({ method: 'GET', path: `/v1/locks${qs === '' ? '' : `?${qs}`}`, write: false, ...signalOf(options) });
    return res.body.locks;
  }

  /** forceRelease removes every holder and waiter of `name` (an operator's tool: holders learn it at their next renewal). */
  async forceRelease(name: string, options: CallSignal = {}): Promise<ForceReleaseResult> {
    checkName(name);
    const res = await this.transport.call<Partial<ForceReleaseResult>>({
      method: 'DELETE',
      path: `${lockPath(name)}?requestId=${randomUUID()}`,
      write: true,
      ...signalOf(options),
    });
    return { released: res.body.released === true, holdersRemoved: res.body.holdersRemoved ?? 0, waitersRemoved: res.body.waitersRemoved ?? 0 };
  }

  /**
   * watch yields the state of lock `name` at once and then after each change
   * of its holders, waiters, values or limit (not of remaining lease times),
   * in order, through blocking reads (`?index=N&wait=...`). Changes that come
   * faster than one read's round trip are seen as one (the newest state).
   * Runs until the loop that consumes it stops, or `signal` aborts (it then
   * throws the abort reason); throws if the cluster stays unreachable past
   * the client's retries.
   */
  watch(name: string, options: WatchOptions = {}): AsyncGenerator<LockWatchEvent, void, undefined> {
    checkName(name);
    return watchLoop<LockWatchEvent>(this.transport, lockPath(name), watchLoopOptions(options), (info) => lockInfoShape(info));
  }

  /** watchPrefix is watch for every lock whose name starts with `prefix` (up to `limit` of them; an operator's view: admin role). */
  watchPrefix(prefix: string, options: WatchOptions & { limit?: number } = {}): AsyncGenerator<LockListWatchEvent, void, undefined> {
    const query = new URLSearchParams({ prefix });
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    return watchLoop<LockListWatchEvent>(this.transport, `/v1/locks?${query.toString()}`, watchLoopOptions(options), (list) =>
      JSON.stringify(list.locks.map((l) => [l.name, lockInfoShape(l)])),
    );
  }

  /**
   * campaign waits to be elected leader of election `name` and resolves with
   * the Leadership (its fencing token, `lost`, proclaim, resign), like etcd's
   * Election.Campaign. An election is the exclusive lock `name` whose hold
   * carries `value`: candidates wait in its FIFO queue, and the token of each
   * leadership is larger than every earlier one's. Waits until elected (in
   * rounds of the server's longest wait), `options.waitMs` runs out
   * (LockHeldError) or `options.signal` aborts. Campaigning again while
   * leader (same owner) keeps the leadership and proclaims `value`.
   */
  async campaign(name: string, value: string, options: CampaignOptions = {}): Promise<Leadership> {
    checkName(name);
    checkElectionValue(value);
    const totalMs = options.waitMs ?? Infinity;
    if (!(totalMs === Infinity || (Number.isInteger(totalMs) && totalMs >= 0))) throw new BadRequestError('waitMs must be a non-negative integer or Infinity');
    const endMs = monotonicNowMs() + totalMs;
    const { waitMs: _waitMs, ...holdOptions } = options;
    // A round whose outcome is unknown (the cluster lost its leader meanwhile) is retried with its requestId: its
    // waiter may still be queued, and only the same id finds it (a new one would be refused as already_waiting).
    let requestId = randomUUID();
    // Bounded by waitMs (or by the signal): each round waits up to the server's longest wait, or pauses after a failure.
    for (;;) {
      const roundMs = Math.max(0, Math.min(API_BOUNDS.waitMsMax, Math.floor(endMs - monotonicNowMs())));
      try {
        const hold = await this.acquireAt(`${electionPath(name)}/campaign`, name, { ...holdOptions, waitMs: roundMs }, { value, requestId });
        return new Leadership(hold, value, this.transport);
      } catch (err) {
        options.signal?.throwIfAborted();
        if (monotonicNowMs() >= endMs || roundMs === 0) throw err;
        if (err instanceof LockHeldError) {
          requestId = randomUUID();
          continue;
        }
        if (!isTransient(err)) throw err;
        await new Promise((resolve) => setTimeout(resolve, CAMPAIGN_RETRY_PAUSE_MS));
      }
    }
  }

  /** leader reads election `name`'s current leader (a linearizable read), or null when nobody leads it. */
  async leader(name: string, options: CallSignal = {}): Promise<LeaderInfo | null> {
    checkName(name);
    const res = await this.transport.call<{ leader: LeaderInfo | null }>({ method: 'GET', path: electionPath(name), write: false, ...signalOf(options) });
    return res.body.leader;
  }

  /**
   * observe yields election `name`'s leader (null while nobody leads) at once
   * and then at each change of leader or value, in order (etcd's
   * Election.Observe), through blocking reads. The member answering lists
   * every change since the observer's last read that it followed, so
   * leaderships shorter than a round trip are seen too; only across a change
   * of the cluster's leader, or more than 64 changes behind, may some be
   * skipped (tokens never go back). Ends as watch does.
   */
  async *observe(name: string, options: WatchOptions = {}): AsyncGenerator<LeaderInfo | null, void, undefined> {
    checkName(name);
    type Answer = { leader: LeaderInfo | null; changes?: { index: number; leader: LeaderInfo | null }[]; index: number };
    const shapeOf = (l: LeaderInfo | null): string => (l === null ? 'none' : JSON.stringify([l.owner, l.token, l.value]));
    // An answer with its changes is new whenever its index is; one without, when its leader is.
    const answers = watchLoop<Answer>(this.transport, electionPath(name), watchLoopOptions(options), (a) =>
      a.changes !== undefined ? `changes@${a.index}` : shapeOf(a.leader),
    );
    let last: string | undefined;
    for await (const answer of answers) {
      for (const leader of answer.changes?.map((c) => c.leader) ?? [answer.leader]) {
        const shape = shapeOf(leader);
        if (shape === last) continue;
        last = shape;
        yield leader;
      }
    }
  }

  /** status reads one endpoint's /v1/status: `endpoint`'s (one attempt), or the current endpoint's (with failover). */
  async status(options: CallSignal & { endpoint?: string } = {}): Promise<NodeStatus> {
    const res = await this.transport.call<NodeStatus>({
      method: 'GET',
      path: '/v1/status',
      write: false,
      ...signalOf(options),
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint.replace(/\/+$/, '') } : {}),
    });
    return res.body;
  }

  /** statusOfAll reads every endpoint's status at once; an unreachable endpoint gets an `error`. */
  async statusOfAll(options: CallSignal = {}): Promise<EndpointStatus[]> {
    return Promise.all(
      this.transport.allEndpoints.map(async (endpoint): Promise<EndpointStatus> => {
        try {
          return { endpoint, status: await this.status({ ...options, endpoint }) };
        } catch (err) {
          options.signal?.throwIfAborted();
          return { endpoint, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
  }

  /** discoverLeader probes every endpoint and makes the leader's current; resolves with it, or null. */
  discoverLeader(options: CallSignal = {}): Promise<string | null> {
    return this.transport.discoverLeader(options.signal);
  }

  private async sendRenew(name: string, owner: string, token: number, ttlMs: number, deadlineMs: number, signal: AbortSignal | undefined): Promise<LeaseGrant> {
    const res = await this.transport.call<{ expiresInMs?: unknown }>({
      method: 'POST',
      path: `${lockPath(name)}/renew`,
      body: { owner, token, ttlMs, requestId: randomUUID() },
      write: true,
      deadlineMs,
      ...(signal !== undefined ? { signal } : {}),
    });
    return leaseGrantOf(res, 'renew');
  }

  private async sendRelease(name: string, owner: string, token: number, signal: AbortSignal | undefined): Promise<void> {
    await this.transport.call<{ released: boolean }>({
      method: 'POST',
      path: `${lockPath(name)}/release`,
      body: { owner, token, requestId: randomUUID() },
      write: true,
      ...(signal !== undefined ? { signal } : {}),
    });
  }
}

/** checkName rejects names the server would reject, before any request. */
function checkName(name: string): void {
  if (!isLockName(name)) throw new BadRequestError(`lock name ${JSON.stringify(name)} must be ${LOCK_NAME_RULE}`);
}

function lockPath(name: string): string {
  return `/v1/locks/${encodeURIComponent(name)}`;
}

/** isTransient: did a call fail only because the cluster was between leaders or unreachable for a while? */
function isTransient(err: unknown): boolean {
  return err instanceof NoLeaderError || err instanceof UnavailableError || err instanceof OutcomeUnknownError || err instanceof TimeoutError;
}

function watchLoopOptions(options: WatchOptions): { waitMs: number; signal?: AbortSignal } {
  return { waitMs: options.waitMs ?? DEFAULT_WATCH_WAIT_MS, ...signalOf(options) };
}

/** lockInfoShape is what a watcher of a lock sees change: holders (without remaining times), values, waiters, limit. */
function lockInfoShape(info: LockInfo): string {
  const holders = info.holders.map((h) => [h.owner, h.token, h.mode, h.holdCount, h.sessionId ?? null, h.value ?? null]);
  return JSON.stringify([holders, info.waiters, info.limit ?? 0]);
}

function signalOf(options: CallSignal): { signal?: AbortSignal } {
  return options.signal !== undefined ? { signal: options.signal } : {};
}
