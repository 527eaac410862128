import type { HolderInfo } from './errors.js';

/** LockMode: `exclusive` admits one holder; `shared` admits many (up to `limit`, if set). */
export type LockMode = 'exclusive' | 'shared';

/** RaftLockClientOptions configure a RaftLockClient; only `endpoints` is required. */
export interface RaftLockClientOptions {
  /** Base URLs of cluster members (any member serves any call). */
  readonly endpoints: readonly string[];
  /** Bound on one HTTP attempt (a long-poll acquire adds its waitMs). Default 10 000. */
  readonly requestTimeoutMs?: number;
  /** Retries after the first attempt of a call. Default 6. */
  readonly maxRetries?: number;
  /** First retry backoff; doubles per retry (jittered) up to 2 s. Default 50. */
  readonly retryBaseMs?: number;
  /**
   * Bound on one call with all its retries (a long-poll acquire adds its waitMs). Default 30 000, at most
   * 120 000 (API_BOUNDS.callTimeoutMsMax): the server remembers a requestId for DEDUPE_TTL_MS, which must
   * outlast every retry.
   */
  readonly callTimeoutMs?: number;
  /** Default owner of locks and sessions. Default `hostname:pid:random`. */
  readonly owner?: string;
  /** How long before a lease's earliest possible expiry `lost` fires. Default max(ttlMs/10, 50 ms). */
  readonly safetyMarginMs?: (ttlMs: number) => number;
  /** Probe /v1/status to find and stick to the leader. Default true. */
  readonly preferLeader?: boolean;
  /**
   * Bearer token for a cluster with authentication on (sent as
   * `Authorization: Bearer <token>` on every call). Without one, such a
   * cluster answers UnauthorizedError. Prefer HTTPS endpoints: over plain
   * HTTP the token crosses the network in clear text.
   */
  readonly token?: string;
  /** CA certificate(s), PEM, that sign the cluster's HTTPS certificates (instead of Node's default list). */
  readonly ca?: string | Buffer;
}

/**
 * HoldOptions shape one hold, with its own lease or under a session: what
 * Session.acquire takes, and what RaftLockClient.acquire's AcquireOptions
 * add `ttlMs` and `session` to.
 */
export interface HoldOptions {
  /** How long to queue (FIFO, long-poll) when the lock is taken. Default 0: fail at once. */
  readonly waitMs?: number;
  readonly mode?: LockMode;
  /** Semaphore size for `shared` holds; the first holder sets it. */
  readonly limit?: number;
  /** After this hold's lease EXPIRES (not on release), nobody gets the lock for this long (Chubby lock-delay). */
  readonly lockDelayMs?: number;
  /** Owner of this hold; default the client's. Holds are reentrant per owner. */
  readonly owner?: string;
  readonly signal?: AbortSignal;
}

/** CallSignal lets any call be aborted. */
export interface CallSignal {
  readonly signal?: AbortSignal;
}

/** SessionOptions shape a session. */
export interface SessionOptions {
  /** Session lease, kept alive every ttlMs/3. The server accepts 1 000 to 3 600 000. Default 15 000. */
  readonly ttlMs?: number;
  readonly signal?: AbortSignal;
}

/** LockInfo is a lock's state as `get` and `list` report it. */
export interface LockInfo {
  readonly name: string;
  readonly holders: readonly HolderInfo[];
  readonly waiters: number;
  readonly lastToken: number;
  readonly limit?: number;
}

/** LockWatchEvent is a lock's state as a watch reads it, with the index to wait past next. */
export interface LockWatchEvent extends LockInfo {
  readonly index: number;
}

/** LockListWatchEvent is the locks with a prefix as a watch reads them, with the index to wait past next. */
export interface LockListWatchEvent {
  readonly locks: readonly LockInfo[];
  readonly index: number;
}

/** WatchOptions shape a watch (RaftLockClient.watch, watchPrefix, observe). */
export interface WatchOptions extends CallSignal {
  /** How long each blocking read waits on the server; default 30 000, at most 300 000. */
  readonly waitMs?: number;
}

/** LeaderInfo is an election's current leader: its owner, fencing token and value (null for a plain lock holder, who proclaimed none). */
export interface LeaderInfo {
  readonly owner: string;
  readonly token: number;
  readonly value: string | null;
  /** What is left of the leader's lease when the server answered (its session's, for a session hold). */
  readonly expiresInMs: number;
}

/** ListOptions page through locks by name. */
export interface ListOptions extends CallSignal {
  readonly prefix?: string;
  readonly limit?: number;
  /** Start after this name (the last name of the previous page). */
  readonly after?: string;
}

/** CheckResult says whether a fencing token is still the lock's valid one. */
export interface CheckResult {
  readonly valid: boolean;
  readonly currentToken: number;
}

/** ForceReleaseResult counts what a force release removed. */
export interface ForceReleaseResult {
  readonly released: boolean;
  readonly holdersRemoved: number;
  readonly waitersRemoved: number;
}

/** NodeStatus is one member's view of the cluster (GET /v1/status). */
export interface NodeStatus {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The voters. */
  readonly members: readonly string[];
  /** The learners: members that receive the log but do not vote yet (raftlock member promote). */
  readonly learners?: readonly string[];
  /** The cluster the member's store belongs to. */
  readonly clusterId?: string;
  /** What the member knows is wrong with it (`joining`, `removed`, `diverged`, `cluster_id_rejected`); its /readyz fails meanwhile. */
  readonly problems?: readonly { readonly reason: string; readonly message: string }[];
}

/** EndpointStatus is one endpoint's status, or why it could not be read. */
export type EndpointStatus = { readonly endpoint: string; readonly status: NodeStatus } | { readonly endpoint: string; readonly error: string };

/**
 * LostSignal is the `lost` signal of a lock or session: an AbortSignal whose
 * `reason`, once it fired, is the typed error that says why (LockLostError
 * or SessionLostError, with the failure as its `cause`).
 */
export interface LostSignal<E extends Error> extends AbortSignal {
  readonly reason: E | undefined;
}
