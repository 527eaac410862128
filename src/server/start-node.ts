import { pino } from 'pino';
import { LockService } from '../node/lock-service.js';
import type { NodeConfig } from '../node/node-config.js';
import { openRaftHost } from '../node/open-raft-host.js';
import { EVENT_LOOP_SCHEDULER, SYSTEM_CLOCK } from '../node/production-io.js';
import type { RaftHost } from '../node/raft-host.js';
import { loadHttpSecurity } from './http-security.js';
import { buildHttpServer } from './http-server.js';

/** RunningNode is a started member: its HTTP address and a stop function. */
export interface RunningNode {
  readonly httpUrl: string;
  stop(): Promise<void>;
}

/** Bounds of one node's request handling. */
const PROPOSAL_TIMEOUT_MS = 10_000;
const MAX_PENDING_PROPOSALS = 100_000;
const MAX_WAITERS = 50_000;
const READ_TIMEOUT_MS = 5_000;

/**
 * startNode is the composition root of a `raftlock serve` process: it opens
 * the store (refusing a damaged one), starts the peer transport, the Raft loop
 * and the HTTP server. It lives above src/node because it wires the node to
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
  const security = await loadHttpSecurity(config, logger);
  const maxElectionTimeoutMs = 2 * config.electionTicks * config.tickMs;
  const locks = new LockService({
    logger,
    maxWaiters: MAX_WAITERS,
    expiryCheckMs: config.tickMs,
    clock: SYSTEM_CLOCK,
    scheduler: EVENT_LOOP_SCHEDULER,
  });
  const host = await openRaftHost({
    id: config.id,
    clusterId: config.clusterId,
    dataDir: config.dataDir,
    peers: config.peers,
    listen: config.peerListen,
    ...(config.secret !== undefined ? { secret: config.secret } : {}),
    tickMs: config.tickMs,
    electionTicks: config.electionTicks,
    snapshotEveryEntries: config.snapshotEveryEntries,
    proposalTimeoutMs: PROPOSAL_TIMEOUT_MS,
    maxPendingProposals: MAX_PENDING_PROPOSALS,
    logger,
    app: locks,
    onSoftState: (soft) => locks.onSoftState(soft),
    onFatal,
  });
  hostRef = host;
  const http = buildHttpServer({ host, locks, peerHttp: config.peerHttp, logger, readTimeoutMs: READ_TIMEOUT_MS, security });
  try {
    await host.start();
    locks.attach(host);
    await http.listen({ host: config.http.host, port: config.http.port });
  } catch (err) {
    locks.detach();
    await host.stop().catch(() => {});
    throw err;
  }
  const addr = http.server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : config.http.port;
  const scheme = security.tls !== undefined ? 'https' : 'http';
  const httpUrl = `${scheme}://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${port}`;
  logger.info(
    {
      http: httpUrl,
      peer: `${config.peerListen.host}:${config.peerListen.port}`,
      members: Object.keys(config.peers),
      auth: security.tokens === null ? 'off' : `${security.tokens.size} tokens`,
      maxConnections: security.connections.maxConnections,
    },
    'raftlock node started',
  );
  let stopping: Promise<void> | null = null;
  return {
    httpUrl,
    stop: () => {
      // Clean shutdown: stop accepting requests, finish the current write, close the store.
      stopping ??= (async () => {
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
