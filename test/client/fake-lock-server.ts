import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake raftlock cluster for the client tests: N node:http servers on
 * 127.0.0.1 (port 0) sharing one in-memory lock table that follows the HTTP
 * contract of src/server/http-server.ts, with per-node fault switches. It is
 * deliberately simple (no Raft): what it offers is observability (every
 * request and every applied write is recorded) and faults on demand.
 */

/** Route names each endpoint of the HTTP contract. */
export type Route =
  | 'acquire'
  | 'release'
  | 'renew'
  | 'check'
  | 'get'
  | 'list'
  | 'forceRelease'
  | 'createSession'
  | 'keepalive'
  | 'deleteSession'
  | 'getSession'
  | 'status';

/** FaultAction: what a node does with a matching request instead of (or around) serving it. */
export type FaultAction =
  /** Answer this status/code without applying anything. */
  | { kind: 'status'; status: number; error: string }
  /** Apply the request, then answer 504 outcome_unknown. */
  | { kind: 'applyThen504' }
  /** Destroy the connection before applying. */
  | { kind: 'drop' }
  /** Apply, then destroy the connection instead of answering. */
  | { kind: 'applyThenDrop' }
  /** Never answer (the connection is destroyed when the client gives up or the cluster closes). */
  | { kind: 'hang' }
  /** Wait, then serve normally. */
  | { kind: 'delay'; ms: number }
  /** Apply at once, answer after `ms` (a slow network on the way back). */
  | { kind: 'applyThenDelayReply'; ms: number };

/** Fault matches requests of `route` on one node, `times` times (Infinity: until cleared). */
export interface Fault {
  route: Route | '*';
  action: FaultAction;
  times: number;
}

/** RecordedRequest is one request a node received (before faults). */
export interface RecordedRequest {
  readonly node: number;
  readonly route: Route;
  readonly name?: string;
  /** The session id in the path, for session routes. */
  readonly sessionId?: string;
  readonly requestId?: string;
  readonly body: Record<string, unknown>;
  readonly atMs: number;
}

/** AppliedWrite is one write that changed (or was answered from) the table; `deduped` if answered from the dedupe map. */
export interface AppliedWrite {
  readonly route: Route;
  readonly requestId?: string;
  readonly deduped: boolean;
  readonly atMs: number;
}

interface Holder {
  owner: string;
  token: number;
  mode: 'exclusive' | 'shared';
  expiresAtMs: number;
  holdCount: number;
  ttlMs?: number;
  sessionId?: string;
}

interface Waiter {
  owner: string;
  mode: 'exclusive' | 'shared';
  ttlMs?: number;
  sessionId?: string;
  requestId: string;
  done: (status: number, body: unknown) => void;
}

interface LockState {
  holders: Holder[];
  waiters: Waiter[];
  lastToken: number;
  limit?: number;
}

interface SessionState {
  ttlMs: number;
  expiresAtMs: number;
}

type Reply = { status: number; body: unknown };

const NAME = /^[A-Za-z0-9._:/-]{1,256}$/;

/** FakeNode is one endpoint of the fake cluster. */
export interface FakeNode {
  readonly index: number;
  readonly id: string;
  url: string;
  role: 'leader' | 'follower' | 'candidate';
  faults: Fault[];
  server: Server;
}

/** FakeCluster is the shared table plus its endpoints. */
export class FakeCluster extends EventEmitter {
  readonly nodes: FakeNode[] = [];
  readonly requests: RecordedRequest[] = [];
  readonly applied: AppliedWrite[] = [];
  readonly locks = new Map<string, LockState>();
  readonly sessions = new Map<string, SessionState>();
  private readonly dedupe = new Map<string, () => Reply>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly hanging = new Set<ServerResponse>();

  private constructor() {
    super();
    this.sweeper = setInterval(() => this.sweep(), 10);
    this.sweeper.unref();
  }

  /** start opens `count` nodes; node 0 reports itself leader. */
  static async start(count = 3): Promise<FakeCluster> {
    const cluster = new FakeCluster();
    try {
      for (let i = 0; i < count; i++) {
        const node: FakeNode = { index: i, id: `n${i + 1}`, url: '', role: i === 0 ? 'leader' : 'follower', faults: [], server: createServer() };
        node.server.on('request', (req, res) => {
          cluster.handle(node, req, res).catch(() => res.destroy());
        });
        node.server.listen(0, '127.0.0.1');
        await once(node.server, 'listening');
        node.url = `http://127.0.0.1:${(node.server.address() as AddressInfo).port}`;
        cluster.nodes.push(node);
      }
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  /** urls are the endpoints of all nodes. */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** node returns node `i` (throws if absent). */
  node(i: number): FakeNode {
    const node = this.nodes[i];
    if (node === undefined) throw new Error(`no node ${i}`);
    return node;
  }

  /** fault adds a fault to node `i`. */
  fault(i: number, route: Route | '*', action: FaultAction, times = Infinity): void {
    this.node(i).faults.push({ route, action, times });
  }

  /** faultAll adds the same fault to every node. */
  faultAll(route: Route | '*', action: FaultAction, times = Infinity): void {
    for (const node of this.nodes) this.fault(node.index, route, action, times);
  }

  /** clearFaults removes every fault and lets hanging requests go (they are destroyed). */
  clearFaults(): void {
    for (const node of this.nodes) node.faults = [];
  }

  /** stopNode closes node `i`'s listener and connections: later requests to it are refused. */
  async stopNode(i: number): Promise<void> {
    const node = this.node(i);
    if (!node.server.listening) return;
    const closed = once(node.server, 'close');
    node.server.close();
    node.server.closeAllConnections();
    await closed;
  }

  /** waitForRequests resolves once `count` requests matching `pred` were recorded (bounded by `timeoutMs`). */
  async waitForRequests(pred: (r: RecordedRequest) => boolean, count: number, timeoutMs = 5_000): Promise<RecordedRequest[]> {
    const matching = (): RecordedRequest[] => this.requests.filter(pred);
    if (matching().length >= count) return matching();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('request', onRequest);
        reject(new Error(`only ${matching().length} of ${count} expected requests within ${timeoutMs} ms`));
      }, timeoutMs);
      const onRequest = (): void => {
        const found = matching();
        if (found.length < count) return;
        clearTimeout(timer);
        this.off('request', onRequest);
        resolve(found);
      };
      this.on('request', onRequest);
    });
  }

  /** holdersOf lists the current holders of `name` (after expiring leases). */
  holdersOf(name: string): Holder[] {
    this.sweep();
    return [...(this.locks.get(name)?.holders ?? [])];
  }

  /** close stops every node and timer. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const res of this.hanging) res.destroy();
    await Promise.all(this.nodes.map((n) => this.stopNode(n.index)));
  }

  // ---- request handling ---------------------------------------------------------------

  private async handle(node: FakeNode, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const matched = matchRoute(req.method ?? 'GET', url.pathname);
    if (matched === null) return send(res, 404, { error: 'not_found', message: `no route ${req.method} ${url.pathname}` });
    let body: Record<string, unknown> = {};
    if (text !== '') {
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return send(res, 400, { error: 'bad_request', message: 'bad JSON' });
      }
    }
    const { route, name, id } = matched;
    const requestId = typeof body['requestId'] === 'string' ? body['requestId'] : (url.searchParams.get('requestId') ?? undefined);
    this.requests.push({ node: node.index, route, ...(name !== undefined ? { name } : {}), ...(id !== undefined ? { sessionId: id } : {}), ...(requestId !== undefined ? { requestId } : {}), body, atMs: Date.now() });
    this.emit('request');

    const fault = node.faults.find((f) => (f.route === '*' || f.route === route) && f.times > 0);
    if (fault !== undefined) fault.times--;
    const action = fault?.action;
    if (action?.kind === 'status') return send(res, action.status, { error: action.error, message: `injected ${action.error}` }, action.status === 503 ? { 'retry-after': '1' } : {});
    if (action?.kind === 'drop') return void res.socket?.destroy();
    if (action?.kind === 'hang') {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    if (action?.kind === 'delay') await new Promise((r) => setTimeout(r, action.ms));

    const respond = (status: number, replyBody: unknown): void => {
      if (action?.kind === 'applyThen504') return send(res, 504, { error: 'outcome_unknown', message: 'injected outcome_unknown' });
      if (action?.kind === 'applyThenDrop') return void res.socket?.destroy();
      if (action?.kind === 'applyThenDelayReply') return void setTimeout(() => send(res, status, replyBody), action.ms);
      send(res, status, replyBody);
    };
    if (route === 'status') {
      const leader = this.nodes.find((n) => n.role === 'leader');
      return respond(200, { id: node.id, role: node.role, term: 1, leader: leader?.id ?? null, commitIndex: this.applied.length, appliedIndex: this.applied.length, members: this.nodes.map((n) => n.id) });
    }
    this.sweep();
    if (name !== undefined && !NAME.test(name)) return respond(400, { error: 'bad_request', message: 'bad name' });
    this.serve(route, name, id, body, url, requestId, respond, res);
  }

  private serve(route: Route, name: string | undefined, id: string | undefined, body: Record<string, unknown>, url: URL, requestId: string | undefined, respond: (s: number, b: unknown) => void, res: ServerResponse): void {
    const isWrite = route === 'acquire' || route === 'release' || route === 'renew' || route === 'forceRelease' || route === 'createSession' || route === 'keepalive' || route === 'deleteSession';
    if (isWrite && requestId !== undefined) {
      const cached = this.dedupe.get(requestId);
      if (cached !== undefined) {
        this.applied.push({ route, requestId, deduped: true, atMs: Date.now() });
        const reply = cached();
        return respond(reply.status, reply.body);
      }
    }
    const remember = (reply: () => Reply): void => {
      if (isWrite) this.applied.push({ route, ...(requestId !== undefined ? { requestId } : {}), deduped: false, atMs: Date.now() });
      if (requestId !== undefined && isWrite) this.dedupe.set(requestId, reply);
      const r = reply();
      respond(r.status, r.body);
    };
    const n = name ?? '';
    switch (route) {
      case 'acquire':
        return this.acquire(n, body, requestId ?? randomUUID(), remember, respond, res);
      case 'release': {
        const lock = this.locks.get(n);
        const holder = lock?.holders.find((h) => h.owner === body['owner'] && h.token === body['token']);
        if (lock === undefined || holder === undefined) return remember(() => ({ status: 409, body: { error: 'not_holder', message: 'not holder' } }));
        holder.holdCount--;
        if (holder.holdCount === 0) lock.holders = lock.holders.filter((h) => h !== holder);
        this.wake(n);
        const holdCount = holder.holdCount;
        return remember(() => ({ status: 200, body: { released: true, holdCount } }));
      }
      case 'renew': {
        const holder = this.locks.get(n)?.holders.find((h) => h.owner === body['owner'] && h.token === body['token']);
        if (holder === undefined || holder.ttlMs === undefined) return remember(() => ({ status: 409, body: { error: 'not_holder', message: 'not holder' } }));
        holder.expiresAtMs = Date.now() + (typeof body['ttlMs'] === 'number' ? body['ttlMs'] : holder.ttlMs);
        return remember(() => ({ status: 200, body: { expiresInMs: Math.max(0, holder.expiresAtMs - Date.now()) } }));
      }
      case 'check': {
        const lock = this.locks.get(n);
        return respond(200, { valid: lock?.holders.some((h) => h.token === body['token']) ?? false, currentToken: lock?.lastToken ?? 0 });
      }
      case 'get': {
        const lock = this.locks.get(n);
        return respond(200, { name: n, holders: (lock?.holders ?? []).map(holderJson), waiters: lock?.waiters.length ?? 0, lastToken: lock?.lastToken ?? 0 });
      }
      case 'list': {
        const prefix = url.searchParams.get('prefix') ?? '';
        const limit = Number(url.searchParams.get('limit') ?? '100');
        const names = [...this.locks.keys()].filter((k) => k.startsWith(prefix)).sort().slice(0, limit);
        return respond(200, {
          locks: names.map((k) => {
            const l = this.locks.get(k) as LockState;
            return { name: k, holders: l.holders.map(holderJson), waiters: l.waiters.length, lastToken: l.lastToken };
          }),
        });
      }
      case 'forceRelease': {
        const lock = this.locks.get(n);
        const holdersRemoved = lock?.holders.length ?? 0;
        const waitersRemoved = lock?.waiters.length ?? 0;
        if (lock !== undefined) {
          lock.holders = [];
          for (const w of lock.waiters.splice(0)) w.done(409, { error: 'lock_held', message: 'force released', reason: 'force_released', holders: [] });
        }
        return remember(() => ({ status: 200, body: { released: true, holdersRemoved, waitersRemoved } }));
      }
      case 'createSession': {
        if (typeof body['ttlMs'] !== 'number') return respond(400, { error: 'bad_request', message: 'ttlMs required' });
        const sessionId = randomUUID();
        const ttlMs = body['ttlMs'];
        this.sessions.set(sessionId, { ttlMs, expiresAtMs: Date.now() + ttlMs });
        return remember(() => ({ status: 200, body: { sessionId, ttlMs } }));
      }
      case 'keepalive': {
        const session = this.sessions.get(id ?? '');
        if (session === undefined) return respond(404, { error: 'session_not_found', message: 'no session' });
        session.expiresAtMs = Date.now() + session.ttlMs;
        const ttlMs = session.ttlMs;
        return remember(() => ({ status: 200, body: { ttlMs } }));
      }
      case 'deleteSession': {
        if (!this.sessions.has(id ?? '')) return respond(404, { error: 'session_not_found', message: 'no session' });
        const locksReleased = this.dropSession(id ?? '');
        return remember(() => ({ status: 200, body: { deleted: true, locksReleased } }));
      }
      case 'getSession': {
        const session = this.sessions.get(id ?? '');
        if (session === undefined) return respond(404, { error: 'session_not_found', message: 'no session' });
        return respond(200, { sessionId: id, ttlMs: session.ttlMs, expiresInMs: session.expiresAtMs - Date.now() });
      }
      case 'status':
        throw new Error('unreachable');
    }
  }

  private acquire(name: string, body: Record<string, unknown>, requestId: string, remember: (r: () => Reply) => void, respond: (s: number, b: unknown) => void, res: ServerResponse): void {
    const owner = body['owner'];
    const ttlMs = typeof body['ttlMs'] === 'number' ? body['ttlMs'] : undefined;
    const sessionId = typeof body['sessionId'] === 'string' ? body['sessionId'] : undefined;
    const mode = body['mode'] === 'shared' ? 'shared' : 'exclusive';
    const limit = typeof body['limit'] === 'number' ? body['limit'] : undefined;
    const waitMs = typeof body['waitMs'] === 'number' ? body['waitMs'] : 0;
    if (typeof owner !== 'string' || owner === '') return respond(400, { error: 'bad_request', message: 'owner required' });
    if ((ttlMs === undefined) === (sessionId === undefined)) return respond(400, { error: 'bad_request', message: 'give exactly one of ttlMs and sessionId' });
    if (limit !== undefined && mode !== 'shared') return respond(400, { error: 'bad_request', message: 'limit needs mode shared' });
    if (sessionId !== undefined && !this.sessions.has(sessionId)) return respond(404, { error: 'session_not_found', message: 'no session' });
    let lock = this.locks.get(name);
    if (lock === undefined) {
      lock = { holders: [], waiters: [], lastToken: 0, ...(limit !== undefined ? { limit } : {}) };
      this.locks.set(name, lock);
    }
    const grant = this.tryGrant(lock, { owner, mode, ...(ttlMs !== undefined ? { ttlMs } : {}), ...(sessionId !== undefined ? { sessionId } : {}) });
    if (grant !== null) return remember(() => grantReply(name, grant));
    if (waitMs === 0) return remember(() => ({ status: 409, body: { error: 'lock_held', message: `lock ${name} is held`, holders: (this.locks.get(name)?.holders ?? []).map(holderJson) } }));
    // Long-poll: answer when granted, or lock_held at the deadline.
    let finished = false;
    const timer = setTimeout(() => {
      const l = this.locks.get(name);
      if (l !== undefined) l.waiters = l.waiters.filter((w) => w.requestId !== requestId);
      waiter.done(409, { error: 'lock_held', message: `lock ${name} was not granted within ${waitMs} ms`, reason: 'timeout', holders: (l?.holders ?? []).map(holderJson) });
    }, waitMs);
    const waiter: Waiter = {
      owner,
      mode,
      requestId,
      ...(ttlMs !== undefined ? { ttlMs } : {}),
      ...(sessionId !== undefined ? { sessionId } : {}),
      done: (status, replyBody) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        remember(() => (status === 200 ? grantReply(name, replyBody as Holder) : { status, body: replyBody }));
      },
    };
    res.on('close', () => {
      if (finished) return;
      const l = this.locks.get(name);
      if (l !== undefined) l.waiters = l.waiters.filter((w) => w !== waiter);
      finished = true;
      clearTimeout(timer);
    });
    lock.waiters.push(waiter);
  }

  private tryGrant(lock: LockState, want: { owner: string; mode: 'exclusive' | 'shared'; ttlMs?: number; sessionId?: string }): Holder | null {
    const now = Date.now();
    const mine = lock.holders.find((h) => h.owner === want.owner && h.mode === want.mode);
    if (mine !== undefined) {
      mine.holdCount++;
      if (want.ttlMs !== undefined) mine.expiresAtMs = now + want.ttlMs;
      return mine;
    }
    const free =
      lock.holders.length === 0 || (want.mode === 'shared' && lock.holders.every((h) => h.mode === 'shared') && (lock.limit === undefined || lock.holders.length < lock.limit));
    if (!free) return null;
    lock.lastToken++;
    const holder: Holder = {
      owner: want.owner,
      token: lock.lastToken,
      mode: want.mode,
      holdCount: 1,
      expiresAtMs: want.ttlMs !== undefined ? now + want.ttlMs : Infinity,
      ...(want.ttlMs !== undefined ? { ttlMs: want.ttlMs } : {}),
      ...(want.sessionId !== undefined ? { sessionId: want.sessionId } : {}),
    };
    lock.holders.push(holder);
    return holder;
  }

  /** wake grants queued waiters FIFO while they fit. */
  private wake(name: string): void {
    const lock = this.locks.get(name);
    // Bounded: each iteration removes one waiter.
    while (lock !== undefined && lock.waiters.length > 0) {
      const first = lock.waiters[0] as Waiter;
      const grant = this.tryGrant(lock, first);
      if (grant === null) return;
      lock.waiters.shift();
      first.done(200, grant);
    }
  }

  private dropSession(id: string): number {
    this.sessions.delete(id);
    let released = 0;
    for (const [name, lock] of this.locks) {
      const before = lock.holders.length;
      lock.holders = lock.holders.filter((h) => h.sessionId !== id);
      released += before - lock.holders.length;
      if (before !== lock.holders.length) this.wake(name);
    }
    return released;
  }

  /** sweep expires leases and sessions, then wakes waiters. */
  private sweep(): void {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (s.expiresAtMs <= now) this.dropSession(id);
    for (const [name, lock] of this.locks) {
      const before = lock.holders.length;
      lock.holders = lock.holders.filter((h) => h.expiresAtMs > now);
      if (before !== lock.holders.length) this.wake(name);
    }
  }
}

function grantReply(name: string, h: Holder): Reply {
  return {
    status: 200,
    body: {
      name,
      owner: h.owner,
      token: h.token,
      mode: h.mode,
      expiresInMs: h.sessionId !== undefined ? 0 : Math.max(0, h.expiresAtMs - Date.now()),
      holdCount: h.holdCount,
      ...(h.sessionId !== undefined ? { sessionId: h.sessionId } : {}),
    },
  };
}

function holderJson(h: Holder): Record<string, unknown> {
  return {
    owner: h.owner,
    token: h.token,
    mode: h.mode,
    expiresInMs: Number.isFinite(h.expiresAtMs) ? Math.max(0, h.expiresAtMs - Date.now()) : 0,
    holdCount: h.holdCount,
    ...(h.sessionId !== undefined ? { sessionId: h.sessionId } : {}),
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function matchRoute(method: string, path: string): { route: Route; name?: string; id?: string } | null {
  if (method === 'GET' && path === '/v1/status') return { route: 'status' };
  if (method === 'GET' && path === '/v1/locks') return { route: 'list' };
  if (method === 'POST' && path === '/v1/sessions') return { route: 'createSession' };
  let m = /^\/v1\/sessions\/([^/]+)\/keepalive$/.exec(path);
  if (m !== null && method === 'POST') return { route: 'keepalive', id: decodeURIComponent(m[1] as string) };
  m = /^\/v1\/sessions\/([^/]+)$/.exec(path);
  if (m !== null && method === 'DELETE') return { route: 'deleteSession', id: decodeURIComponent(m[1] as string) };
  if (m !== null && method === 'GET') return { route: 'getSession', id: decodeURIComponent(m[1] as string) };
  m = /^\/v1\/locks\/([^/]+)\/(acquire|release|renew|check)$/.exec(path);
  if (m !== null && method === 'POST') return { route: m[2] as Route, name: decodeURIComponent(m[1] as string) };
  m = /^\/v1\/locks\/([^/]+)$/.exec(path);
  if (m !== null && method === 'GET') return { route: 'get', name: decodeURIComponent(m[1] as string) };
  if (m !== null && method === 'DELETE') return { route: 'forceRelease', name: decodeURIComponent(m[1] as string) };
  return null;
}
