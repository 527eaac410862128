import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { pino } from 'pino';
import { afterEach, beforeEach } from 'vitest';
import { RaftLockClient } from '../../src/client/index.js';
import type { HolderView, LeaseTableLimits } from '../../src/locks/index.js';
import type { Role } from '../../src/raft/index.js';
import { apiRoutes } from '../../src/server/api-routes.js';
import { authPlugin } from '../../src/server/auth.js';
import type { TokenStore } from '../../src/server/auth-tokens.js';
import { createHttpApp } from '../../src/server/http-app.js';
import { RefusalLog } from '../../src/server/refusal-log.js';
import type { LockTableView, NodeStatus } from '../../src/server/lock-backend.js';
import { injectFaults, type FaultAction } from './fault-injection.js';
import { InProcessLocks, type AppliedWrite, type SessionsView } from './in-process-locks.js';

export type { FaultAction } from './fault-injection.js';

/**
 * A cluster for the client tests: N nodes on 127.0.0.1 (port 0), each the
 * real HTTP API (src/server's route plugins) over one shared, in-process
 * lease table (no Raft; see in-process-locks.ts), plus what the tests need
 * around it: every request is recorded, faults are injected per node and
 * route through fastify hooks, and the table can be inspected.
 */

/** Route names each endpoint of the HTTP contract. */
export type Route =
  | 'acquire'
  | 'cancelWait'
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
  | 'status'
  | 'healthz'
  | 'readyz'
  | 'campaign'
  | 'proclaim'
  | 'resign'
  | 'leader';

/** The Route of each `METHOD url-pattern` the API serves. */
const ROUTES: Readonly<Record<string, Route>> = {
  'POST /v1/locks/:name/acquire': 'acquire',
  'POST /v1/locks/:name/cancel-wait': 'cancelWait',
  'POST /v1/locks/:name/release': 'release',
  'POST /v1/locks/:name/renew': 'renew',
  'POST /v1/locks/:name/check': 'check',
  'GET /v1/locks/:name': 'get',
  'DELETE /v1/locks/:name': 'forceRelease',
  'GET /v1/locks': 'list',
  'POST /v1/sessions': 'createSession',
  'POST /v1/sessions/:id/keepalive': 'keepalive',
  'GET /v1/sessions/:id': 'getSession',
  'DELETE /v1/sessions/:id': 'deleteSession',
  'GET /v1/status': 'status',
  'GET /healthz': 'healthz',
  'GET /readyz': 'readyz',
  'POST /v1/elections/:name/campaign': 'campaign',
  'POST /v1/elections/:name/proclaim': 'proclaim',
  'POST /v1/elections/:name/resign': 'resign',
  'GET /v1/elections/:name': 'leader',
};

/** Fault matches requests of `route` on one node, `times` times (Infinity: until cleared). */
export interface Fault {
  route: Route | '*';
  action: FaultAction;
  times: number;
}

/** RecordedRequest is one request a node received (before faults and validation). */
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

/** TestNode is one endpoint of the cluster; `role` is what its /v1/status reports (set it to move the leader). */
export interface TestNode {
  readonly index: number;
  readonly id: string;
  url: string;
  role: Role;
  faults: Fault[];
  readonly app: FastifyInstance;
}

const SILENT = pino({ level: 'silent' });

/** LockTestCluster is the shared table plus its endpoints. */
export class LockTestCluster extends EventEmitter {
  readonly nodes: TestNode[] = [];
  readonly requests: RecordedRequest[] = [];
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    private readonly table: InProcessLocks,
    private readonly tokens: TokenStore | null,
  ) {
    super();
  }

  /**
   * start opens `count` nodes; node 0 reports itself leader. `clock` stamps
   * commands and dates requests; `limits` are the table's (defaults
   * otherwise). With `tokens`, the nodes authenticate as a real node does
   * (auth.ts); every node serves the table itself, so nothing is relayed.
   */
  static async start(count = 3, clock: () => number = Date.now, tokens: TokenStore | null = null, limits: Partial<LeaseTableLimits> = {}): Promise<LockTestCluster> {
    const cluster = new LockTestCluster(new InProcessLocks(clock, limits), tokens);
    try {
      for (let i = 0; i < count; i++) await cluster.startNode(i, count);
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

  /** applied logs every command clients had the table apply. */
  get applied(): readonly AppliedWrite[] {
    return this.table.applied;
  }

  /** locks reads the shared table (`locks.get(name)?.lastToken`). */
  get locks(): LockTableView {
    return this.table.locks;
  }

  /** sessions shows the table's sessions, and can make the server forget one. */
  get sessions(): SessionsView {
    return this.table.sessions;
  }

  /** node returns node `i` (throws if absent). */
  node(i: number): TestNode {
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

  /** clearFaults removes every fault (requests already hanging stay so until the client gives up). */
  clearFaults(): void {
    for (const node of this.nodes) node.faults = [];
  }

  /** stopNode closes node `i`'s listener and connections: later requests to it are refused. */
  async stopNode(i: number): Promise<void> {
    const { app } = this.node(i);
    if (!app.server.listening) return;
    const closed = app.close();
    // Long-polls and hanging requests would hold close() open: end them as a crash would.
    app.server.closeAllConnections();
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

  /** watching is the number of blocking reads parked on the table (watch.ts). */
  get watching(): number {
    return this.table.watches.watching;
  }

  /** holdersOf lists the current holders of `name` (after expiring leases). */
  holdersOf(name: string): HolderView[] {
    return this.table.holdersOf(name);
  }

  /** close stops every node and timer. */
  async close(): Promise<void> {
    this.table.close();
    for (const res of this.hanging) res.destroy();
    await Promise.all(this.nodes.map((n) => this.stopNode(n.index)));
  }

  private async startNode(index: number, count: number): Promise<void> {
    const app = createHttpApp(SILENT);
    const node: TestNode = { index, id: `n${index + 1}`, url: '', role: index === 0 ? 'leader' : 'follower', faults: [], app };
    this.nodes.push(node);
    await app.register(authPlugin, { tokens: this.tokens, signer: null, refusals: new RefusalLog(SILENT, 'http auth') });
    injectFaults(app, { faultFor: (request) => this.arrived(node, request), hanging: this.hanging });
    const backend = this.table.backend(() => this.statusOf(node, count));
    await app.register(apiRoutes, { backend });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error(`node ${node.id} has no TCP address`);
    node.url = `http://127.0.0.1:${address.port}`;
  }

  /** arrived records a request at `node` and picks the fault it meets. */
  private arrived(node: TestNode, request: FastifyRequest): FaultAction | undefined {
    const route = ROUTES[`${request.method} ${request.routeOptions.url}`];
    if (route === undefined) return undefined;
    const params = (request.params ?? {}) as { name?: string; id?: string };
    const body = typeof request.body === 'object' && request.body !== null ? (request.body as Record<string, unknown>) : {};
    const query = (request.query ?? {}) as { requestId?: string };
    const requestId = typeof body['requestId'] === 'string' ? body['requestId'] : query.requestId;
    this.requests.push({
      node: node.index,
      route,
      ...(params.name !== undefined ? { name: params.name } : {}),
      ...(params.id !== undefined ? { sessionId: params.id } : {}),
      ...(requestId !== undefined ? { requestId } : {}),
      body,
      atMs: this.table.clock(),
    });
    this.emit('request');
    const fault = node.faults.find((f) => (f.route === '*' || f.route === route) && f.times > 0);
    if (fault === undefined) return undefined;
    fault.times--;
    return fault.action;
  }

  /** statusOf is node's /v1/status: one term, no elections; the leader is whichever node has role 'leader'. */
  private statusOf(node: TestNode, count: number): NodeStatus {
    return {
      id: node.id,
      role: node.role,
      term: 1,
      leader: this.nodes.find((n) => n.role === 'leader')?.id ?? null,
      commitIndex: this.table.appliedIndex,
      appliedIndex: this.table.appliedIndex,
      members: Array.from({ length: count }, (_, i) => `n${i + 1}`),
    };
  }
}

/**
 * useLockTestCluster starts a cluster of `count` nodes before each test of the
 * file and closes it after; the getter returns the current test's cluster.
 */
export function useLockTestCluster(count: number): () => LockTestCluster {
  let cluster: LockTestCluster | undefined;
  beforeEach(async () => {
    cluster = await LockTestCluster.start(count);
  });
  afterEach(async () => {
    await cluster?.close();
  });
  return () => cluster!;
}

/** quickClient is a client of `cluster` as `owner`, with fast retries and no leader probing (every node serves the table). */
export function quickClient(cluster: LockTestCluster, owner: string): RaftLockClient {
  return new RaftLockClient({ endpoints: cluster.urls, retryBaseMs: 5, maxRetries: 3, preferLeader: false, requestTimeoutMs: 2_000, owner });
}
