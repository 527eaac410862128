import type { Server as HttpsServer } from 'node:https';
import { pino } from 'pino';
import { LockService } from '../node/lock-service.js';
import type { NodeConfig } from '../node/node-config.js';
import { openRaftHost } from '../node/open-raft-host.js';
import { EVENT_LOOP_SCHEDULER, SYSTEM_CLOCK } from '../node/production-io.js';
import type { RaftHost } from '../node/raft-host.js';
import { RecentEvents } from '../node/recent-events.js';
import { SoftStateWatch } from '../node/soft-state-watch.js';
import type { AdminBackend } from './admin-backend.js';
import { bindRelaySigner, loadHttpSecurity } from './http-security.js';
import { buildHttpServer } from './http-server.js';
import { reloadHttpsCertificate, type HttpsReload } from './https-reload.js';
import { RaftAdminBackend } from './raft-admin-backend.js';

/** RunningNode is a started member: its HTTP address, its cluster, and a stop function. */
export interface RunningNode {
  readonly httpUrl: string;
  readonly clusterId: string;
  /**
   * stop shuts the member down cleanly. With `handOff` a leader first hands leadership to the most caught-up voter
   * and waits for it (at most two election timeouts), so its going costs the cluster no election timeout.
   */
  stop(options?: { handOff?: boolean }): Promise<void>;
  /** reloadHttpsCertificate re-reads --http-cert and --http-key for new connections (https-reload.ts); null when the node serves plain HTTP. */
  reloadHttpsCertificate(): Promise<HttpsReload | null>;
}

/** Bounds of one node's request handling. */
const PROPOSAL_TIMEOUT_MS = 10_000;
const MAX_PENDING_PROPOSALS = 100_000;
const MAX_WAITERS = 50_000;
const READ_TIMEOUT_MS = 5_000;
/** How often member problems are evaluated, so each is logged when it appears even if nobody asks /readyz. */
const HEALTH_CHECK_MS = 1_000;

/**
 * startNode is the composition root of a `raftlock serve` process: it opens
 * the store (refusing a damaged one, or a missing one without
 * --initial-cluster-state new), starts the peer transport, the Raft loop and
 * the HTTP server. It lives above src/node because it wires the node to
 * the HTTP API. `onFatal` is called if the Raft loop dies (a storage failure
 * or a broken invariant): the process must exit.
 */
export async function startNode(config: NodeConfig, onFatal: (err: unknown) => void): Promise<RunningNode> {
  let hostRef: RaftHost | null = null;
  const logger = pino({
    level: config.logLevel,
    base: { node: config.id },
    mixin: () => (hostRef === null ? {} : { term: hostRef.term, role: hostRef.role }),
  });
  // Before the store opens: a bad certificate or auth file refuses the start without touching the data.
  const loadedSecurity = await loadHttpSecurity(config, logger);
  // The largest randomized election timeout: a transfer target gets one, a whole hand-off two.
  const electionTimeoutMs = 2 * config.electionTicks * config.tickMs;
  // What the status page shows of the recent past: leader changes this member saw, expiries it applied.
  const recentEvents = new RecentEvents(Date.now);
  const locks = new LockService({
    logger,
    maxWaiters: MAX_WAITERS,
    expiryCheckMs: config.tickMs,
    clock: SYSTEM_CLOCK,
    scheduler: EVENT_LOOP_SCHEDULER,
    onApplied: (command, result, index) => {
      if (command.type === 'expire' && result.ok && 'holdsExpired' in result) recentEvents.noteExpiry(index, result);
    },
  });
  const softStates = new SoftStateWatch(EVENT_LOOP_SCHEDULER);
  const member = await openRaftHost({
    id: config.id,
    clusterId: config.clusterId,
    initialClusterState: config.initialClusterState,
    dataDir: config.dataDir,
    peers: config.peers,
    listen: config.peerListen,
    peerSecurity: config.peerSecurity,
    tickMs: config.tickMs,
    electionTicks: config.electionTicks,
    snapshotEveryEntries: config.snapshotEveryEntries,
    proposalTimeoutMs: PROPOSAL_TIMEOUT_MS,
    maxPendingProposals: MAX_PENDING_PROPOSALS,
    logger,
    app: locks,
    onSoftState: (soft) => {
      locks.onSoftState(soft);
      softStates.notify(soft);
      recentEvents.noteSoftState(soft);
    },
    onFatal,
  });
  const host = member.host;
  hostRef = host;
  // Relays are signed for the cluster the store belongs to (a restart's flags need not name it).
  const security = bindRelaySigner(loadedSecurity, member.clusterId, config.id);
  const admin = new RaftAdminBackend({ host, core: member.core, locks, softStates, clusterId: member.clusterId, electionTimeoutMs, readTimeoutMs: READ_TIMEOUT_MS, peers: config.peers });
  const http = buildHttpServer({ member, locks, admin, recentEvents, peerHttp: config.peerHttp, logger, readTimeoutMs: READ_TIMEOUT_MS, security });
  try {
    // Attached before the host starts, as in the simulation (test/sim/cluster.ts): the first Ready may already apply
    // this member's own no-op as leader, and only an attached service takes that term's time base from it.
    locks.attach(host);
    await host.start();
    await http.listen({ host: config.http.host, port: config.http.port });
  } catch (err) {
    locks.detach();
    await host.stop().catch(() => {});
    throw err;
  }
  const healthTimer = EVENT_LOOP_SCHEDULER.every(HEALTH_CHECK_MS, () => void member.health.problems());
  const addr = http.server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : config.http.port;
  const scheme = security.tls !== undefined ? 'https' : 'http';
  const httpUrl = `${scheme}://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${port}`;
  logger.info(
    {
      http: httpUrl,
      peer: `${config.peerListen.host}:${config.peerListen.port}`,
      clusterId: member.clusterId,
      members: [...host.members()],
      auth: security.tokens === null ? 'off' : `${security.tokens.size} tokens`,
      maxConnections: security.connections.maxConnections,
    },
    'raftlock node started',
  );
  let stopping: Promise<void> | null = null;
  const httpsFiles = config.httpSecurity.tls;
  return {
    httpUrl,
    clusterId: member.clusterId,
    reloadHttpsCertificate: async () => (httpsFiles === undefined ? null : reloadHttpsCertificate(http.server as unknown as HttpsServer, httpsFiles, logger)),
    stop: (options = {}) => {
      // Clean shutdown: hand leadership over (still serving, so requests in flight are answered or relayed), stop
      // accepting requests, finish the current write, close the store.
      stopping ??= (async () => {
        EVENT_LOOP_SCHEDULER.cancel(healthTimer);
        if (options.handOff === true) await handOff(admin, logger);
        locks.detach();
        await http.close();
        await host.stop();
        logger.info({}, 'raftlock node stopped');
        logger.flush();
      })();
      return stopping;
    },
  };
}

/** handOff hands leadership away before a leader stops, and logs how it went. */
async function handOff(admin: AdminBackend, logger: pino.Logger): Promise<void> {
  const startedMs = performance.now();
  const r = await admin.transferLeadership(null);
  if (r.outcome === 'not_leader') return;
  const tookMs = Math.round(performance.now() - startedMs);
  if (r.outcome === 'transferred') logger.info({ to: r.leader, term: r.term, tookMs }, 'handed leadership over before stopping');
  else logger.warn({ outcome: r.outcome, asked: r.to, tookMs }, 'could not hand leadership over before stopping; the cluster elects a leader after an election timeout');
}
