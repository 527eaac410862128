import { RaftLockClient, LockHeldError, type LockHandle } from '../../src/client/index.js';
import { HttpConnection } from './mini-http.js';
import type { HttpAccess, LoadTarget } from './load-target.js';
import { RedisConnection, RespError } from './resp.js';

/** Lease of a benchmark hold: far longer than any run, so no lease can expire under a holder (no false overlaps). */
export const HOLD_TTL_MS = 30_000;

/**
 * LockClient is one benchmark client: its own connection and owner identity.
 * acquire makes ONE attempt (for a queueing system with waitMs > 0, one
 * long-poll); retry loops live in the workload, not here.
 */
export interface LockClient {
  /** queues: whether the system waits server-side in FIFO order (raftlock's waitMs). */
  readonly queues: boolean;
  open(): Promise<void>;
  acquire(name: string, waitMs: number): Promise<boolean>;
  release(name: string): Promise<void>;
  close(): void;
}

/** SessionClient creates sessions that each hold one lock, and keeps them alive. */
export interface SessionClient {
  open(): Promise<void>;
  /** createWithLock returns an opaque session reference (usable on any connection) after the session holds `name`. */
  createWithLock(name: string, ttlMs: number): Promise<string>;
  /** keepalive extends a session; false if it no longer exists (lost). */
  keepalive(ref: string, name: string): Promise<boolean>;
  close(): void;
}

class UnexpectedAnswer extends Error {
  constructor(what: string, status: number, body: unknown) {
    super(`${what}: unexpected answer ${status} ${typeof body === 'string' ? body.slice(0, 200) : JSON.stringify(body).slice(0, 200)}`);
  }
}

const lockPath = (name: string): string => `/v1/locks/${encodeURIComponent(name)}`;

/** RaftlockRawClient speaks raftlock's HTTP API over one keep-alive connection with the minimal client (least client CPU). */
export class RaftlockRawClient implements LockClient, SessionClient {
  readonly queues = true;
  private readonly conn: HttpConnection;
  private readonly tokens = new Map<string, number>();

  constructor(host: string, port: number, private readonly owner: string, access: HttpAccess = {}) {
    this.conn = new HttpConnection(host, port, access);
  }

  async open(): Promise<void> {
    const res = await this.conn.json('GET', '/v1/status');
    if (res.status !== 200) throw new UnexpectedAnswer('raftlock status', res.status, res.body);
  }

  async acquire(name: string, waitMs: number): Promise<boolean> {
    const body = waitMs > 0 ? `{"owner":"${this.owner}","ttlMs":${HOLD_TTL_MS},"waitMs":${waitMs}}` : `{"owner":"${this.owner}","ttlMs":${HOLD_TTL_MS}}`;
    const res = await this.conn.request('POST', `${lockPath(name)}/acquire`, body, waitMs + 30_000);
    if (res.status === 200) {
      const token = (JSON.parse(res.body) as { token: number }).token;
      if (!(Number.isSafeInteger(token) && token >= 1)) throw new UnexpectedAnswer('raftlock acquire', res.status, res.body);
      this.tokens.set(name, token);
      return true;
    }
    if (res.status === 409) return false;
    throw new UnexpectedAnswer('raftlock acquire', res.status, res.body);
  }

  async release(name: string): Promise<void> {
    const token = this.tokens.get(name);
    if (token === undefined) throw new Error(`release of ${name}, which this client does not hold`);
    this.tokens.delete(name);
    const res = await this.conn.request('POST', `${lockPath(name)}/release`, `{"owner":"${this.owner}","token":${token}}`);
    if (res.status !== 200) throw new UnexpectedAnswer('raftlock release', res.status, res.body);
  }

  async createWithLock(name: string, ttlMs: number): Promise<string> {
    const s = await this.conn.json('POST', '/v1/sessions', { ttlMs, owner: this.owner });
    if (s.status !== 200 || typeof s.body?.sessionId !== 'string') throw new UnexpectedAnswer('raftlock session', s.status, s.body);
    const sessionId = s.body.sessionId as string;
    const a = await this.conn.json('POST', `${lockPath(name)}/acquire`, { owner: this.owner, sessionId });
    if (a.status !== 200) throw new UnexpectedAnswer('raftlock session acquire', a.status, a.body);
    return sessionId;
  }

  async keepalive(ref: string): Promise<boolean> {
    const res = await this.conn.request('POST', `/v1/sessions/${encodeURIComponent(ref)}/keepalive`, '{}');
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw new UnexpectedAnswer('raftlock keepalive', res.status, res.body);
  }

  close(): void {
    this.conn.close();
  }
}

/** SharedLibClient is one RaftLockClient per endpoint in the load process, shared by every bench client on it. */
interface SharedLibClient {
  readonly client: RaftLockClient;
  users: number;
}
const sharedLibClients = new Map<string, SharedLibClient>();

/**
 * RaftlockLibClient uses the project's client library (RaftLockClient: node:http keep-alive, a requestId per write,
 * lease renewal), for comparison with the raw client. All bench clients of one endpoint share one RaftLockClient, as
 * the threads of an application would: its connection pool then has to serve the whole concurrency.
 */
export class RaftlockLibClient implements LockClient {
  readonly queues = true;
  private readonly client: RaftLockClient;
  private readonly handles = new Map<string, LockHandle>();
  private closed = false;

  constructor(private readonly url: string, private readonly owner: string, access: HttpAccess = {}) {
    let shared = sharedLibClients.get(url);
    if (shared === undefined) {
      shared = { client: new RaftLockClient({ endpoints: [url], preferLeader: false, maxRetries: 0, ...access }), users: 0 };
      sharedLibClients.set(url, shared);
    }
    shared.users++;
    this.client = shared.client;
  }

  async open(): Promise<void> {
    await this.client.status();
  }

  async acquire(name: string, waitMs: number): Promise<boolean> {
    try {
      const handle = await this.client.acquire(name, { ttlMs: HOLD_TTL_MS, waitMs, owner: this.owner });
      this.handles.set(name, handle);
      return true;
    } catch (err) {
      if (err instanceof LockHeldError) return false;
      throw err;
    }
  }

  async release(name: string): Promise<void> {
    const handle = this.handles.get(name);
    if (handle === undefined) throw new Error(`release of ${name}, which this client does not hold`);
    this.handles.delete(name);
    await handle.release();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const releases = [...this.handles.values()].map((h) => h.release().catch(() => undefined));
    this.handles.clear();
    const shared = sharedLibClients.get(this.url);
    if (shared !== undefined && --shared.users === 0) {
      sharedLibClients.delete(this.url);
      void Promise.all(releases).then(() => shared.client.close());
    }
  }
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/**
 * EtcdClient locks the usual etcd way without the concurrency package: one
 * lease per client granted once, a transaction "put if the key does not
 * exist" (create_revision == 0) to acquire, and "delete if the value is
 * mine" to release. Speaks the v3 JSON gateway of etcd 3.4 (`/v3/...`).
 */
export class EtcdClient implements LockClient, SessionClient {
  readonly queues = false;
  private readonly conn: HttpConnection;
  private leaseId: string | null = null;
  private seq = 0;
  private readonly values = new Map<string, string>();

  constructor(host: string, port: number, private readonly owner: string, private readonly leaseTtlS = 600) {
    this.conn = new HttpConnection(host, port);
  }

  async open(): Promise<void> {
    this.leaseId = await this.grant(this.leaseTtlS);
  }

  private async grant(ttlS: number): Promise<string> {
    const res = await this.conn.json('POST', '/v3/lease/grant', { TTL: String(ttlS) });
    const id = res.body?.ID;
    if (res.status !== 200 || typeof id !== 'string') throw new UnexpectedAnswer('etcd lease grant', res.status, res.body);
    return id;
  }

  private async putIfAbsent(name: string, value: string, lease: string): Promise<boolean> {
    const key = b64(`/lock/${name}`);
    const res = await this.conn.json('POST', '/v3/kv/txn', {
      compare: [{ key, target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
      success: [{ request_put: { key, value: b64(value), lease } }],
    });
    if (res.status !== 200) throw new UnexpectedAnswer('etcd txn', res.status, res.body);
    return res.body?.succeeded === true;
  }

  async acquire(name: string): Promise<boolean> {
    if (this.leaseId === null) throw new Error('EtcdClient: open() first');
    const value = `${this.owner}:${++this.seq}`;
    if (!(await this.putIfAbsent(name, value, this.leaseId))) return false;
    this.values.set(name, value);
    return true;
  }

  async release(name: string): Promise<void> {
    const value = this.values.get(name);
    if (value === undefined) throw new Error(`release of ${name}, which this client does not hold`);
    this.values.delete(name);
    const key = b64(`/lock/${name}`);
    const res = await this.conn.json('POST', '/v3/kv/txn', {
      compare: [{ key, target: 'VALUE', result: 'EQUAL', value: b64(value) }],
      success: [{ request_delete_range: { key } }],
    });
    if (res.status !== 200) throw new UnexpectedAnswer('etcd txn', res.status, res.body);
    if (res.body?.succeeded !== true) throw new Error(`etcd release of ${name}: the key no longer held this client's value`);
  }

  async createWithLock(name: string, ttlMs: number): Promise<string> {
    const lease = await this.grant(Math.ceil(ttlMs / 1000));
    if (!(await this.putIfAbsent(name, `${this.owner}:${++this.seq}`, lease))) throw new Error(`etcd session lock ${name} was taken`);
    return lease;
  }

  async keepalive(ref: string): Promise<boolean> {
    // The gateway maps the LeaseKeepAlive stream to a POST whose body is the stream of requests; one request, one answer.
    const res = await this.conn.json('POST', '/v3/lease/keepalive', { ID: ref });
    if (res.status !== 200) throw new UnexpectedAnswer('etcd keepalive', res.status, res.body);
    const ttl = Number(res.body?.result?.TTL ?? 0);
    return ttl > 0;
  }

  close(): void {
    this.conn.close();
  }
}

/** The compare-and-delete release script (Redis's documented single-instance lock pattern). */
const RELEASE_SCRIPT = 'if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end';
/** Keepalive of a held key: extend its expiry only if this client still owns it. */
const EXTEND_SCRIPT = 'if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end';

/** RedisClient locks with `SET key value NX PX ttl` and releases with the compare-and-delete script (EVALSHA). */
export class RedisClient implements LockClient, SessionClient {
  readonly queues = false;
  private conn: RedisConnection | null = null;
  private releaseSha = '';
  private extendSha = '';
  private seq = 0;
  private readonly values = new Map<string, string>();

  constructor(private readonly host: string, private readonly port: number, private readonly owner: string) {}

  async open(): Promise<void> {
    this.conn = await RedisConnection.open(this.host, this.port);
    this.releaseSha = String(await this.conn.call(['SCRIPT', 'LOAD', RELEASE_SCRIPT]));
    this.extendSha = String(await this.conn.call(['SCRIPT', 'LOAD', EXTEND_SCRIPT]));
  }

  private redis(): RedisConnection {
    if (this.conn === null) throw new Error('RedisClient: open() first');
    return this.conn;
  }

  async acquire(name: string): Promise<boolean> {
    const value = `${this.owner}:${++this.seq}`;
    const reply = await this.redis().call(['SET', name, value, 'NX', 'PX', HOLD_TTL_MS]);
    if (reply !== 'OK') return false;
    this.values.set(name, value);
    return true;
  }

  async release(name: string): Promise<void> {
    const value = this.values.get(name);
    if (value === undefined) throw new Error(`release of ${name}, which this client does not hold`);
    this.values.delete(name);
    const reply = await this.redis().call(['EVALSHA', this.releaseSha, 1, name, value]);
    if (reply !== 1) throw new Error(`redis release of ${name}: the key no longer held this client's value`);
  }

  async createWithLock(name: string, ttlMs: number): Promise<string> {
    const value = `${this.owner}:${++this.seq}`;
    const reply = await this.redis().call(['SET', name, value, 'NX', 'PX', ttlMs]);
    if (reply !== 'OK') throw new Error(`redis session lock ${name} was taken`);
    // The reference carries everything a keepalive needs, so any connection can send it.
    return JSON.stringify([name, value, ttlMs]);
  }

  async keepalive(ref: string): Promise<boolean> {
    const [name, value, ttlMs] = JSON.parse(ref) as [string, string, number];
    const reply = await this.redis().command(['EVALSHA', this.extendSha, 1, name, value, ttlMs]);
    if (reply instanceof RespError) throw reply;
    return reply === 1;
  }

  close(): void {
    this.conn?.close();
  }
}

/** makeLockClient builds client number `index` for `target`. */
export function makeLockClient(target: LoadTarget, index: number): LockClient & Partial<SessionClient> {
  const owner = `c${index}`;
  switch (target.protocol) {
    case 'raftlock':
      return target.client === 'lib'
        ? new RaftlockLibClient(`${target.access?.ca !== undefined ? 'https' : 'http'}://${target.host}:${target.port}`, owner, target.access)
        : new RaftlockRawClient(target.host, target.port, owner, target.access);
    case 'etcd':
      return new EtcdClient(target.host, target.port, owner);
    case 'redis':
      return new RedisClient(target.host, target.port, owner);
  }
}

/** makeSessionClient builds session connection number `index` for `target`. */
export function makeSessionClient(target: LoadTarget, index: number): SessionClient {
  const owner = `s${index}`;
  switch (target.protocol) {
    case 'raftlock':
      return new RaftlockRawClient(target.host, target.port, owner, target.access);
    case 'etcd':
      return new EtcdClient(target.host, target.port, owner);
    case 'redis':
      return new RedisClient(target.host, target.port, owner);
  }
}
