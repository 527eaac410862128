/**
 * Blocking reads (Consul's blocking queries): a GET with `?index=N` waits,
 * up to `wait` (default 30 s, at most API_BOUNDS.watchWaitMsMax), until what
 * it reads changes after index N, then answers as a plain GET would, with
 * the index to pass next in its body (`index`) and in the X-Raftlock-Index
 * header. Without `index` it answers at once, with the index too. The
 * indexes are the Raft indexes of the entries that last touched the names
 * (src/node/lock-watches.ts): the same on every member, so a client may
 * carry one across a leader change. A wake-up may come without a change the
 * caller can see (a renewal, a forgotten index): clients compare what they read.
 */
import type { FastifyReply } from 'fastify';
import { API_BOUNDS } from '../api/contract.js';
import type { WatchTarget } from '../node/lock-watches.js';
import { sendError } from './error-mapping.js';
import type { LockBackend } from './lock-backend.js';

/** INDEX_HEADER carries the index of a read's answer (also in the body's `index`). */
export const INDEX_HEADER = 'x-raftlock-index';

/** How long a blocking read waits when it names an index but no `wait`. */
const WATCH_WAIT_MS_DEFAULT = 30_000;

/** WatchQuery is the query string of a read that can block. */
export type WatchQuery = { index?: string; wait?: string };

/** watchWaitMs is how long the read `query` asks for may block: 0 without an index. Malformed values count as 0 (the route refuses them). */
export function watchWaitMs(query: WatchQuery): number {
  if (query.index === undefined) return 0;
  const waitMs = query.wait === undefined ? WATCH_WAIT_MS_DEFAULT : parseDurationMs(query.wait);
  return waitMs === null ? 0 : Math.min(waitMs, API_BOUNDS.watchWaitMsMax);
}

/** parseDurationMs reads `500ms`, `30s`, `5m`; null when malformed. */
function parseDurationMs(text: string): number | null {
  const m = /^([0-9]{1,7})(ms|s|m)$/.exec(text);
  if (m === null) return null;
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 's' ? n * 1_000 : n * 60_000;
}

/** BlockingRead is what one blocking route reads: its target, and the part of its answer a change must alter. */
export interface BlockingRead {
  readonly target: WatchTarget;
  /**
   * shape is what the caller would see change, without the parts that move by
   * themselves (remaining lease times): a touch that leaves it equal does not
   * end the wait. Omitted for prefix reads: any touch of a name ends it.
   */
  readonly shape?: () => string;
}

/**
 * blockUntilChanged checks the query (answering 400 when it is bad), waits
 * while the target's index is at most the query's, and resolves with the
 * index to answer with, or null once it has answered an error itself. Call
 * it after the read barrier; it waits at most the query's wait, and ends
 * early when the client goes away.
 */
export async function blockUntilChanged(backend: LockBackend, reply: FastifyReply, query: WatchQuery, read: BlockingRead): Promise<number | null> {
  const indexNow = (): number => ('name' in read.target ? backend.watches.indexOf(read.target.name) : backend.watches.indexOfPrefix(read.target.prefix));
  if (query.index === undefined) {
    if (query.wait !== undefined) {
      sendError(reply, 'bad_request', 'wait is only allowed with index (the index of the answer to wait past)');
      return null;
    }
    return indexNow();
  }
  const after = Number(query.index);
  const waitMs = query.wait === undefined ? WATCH_WAIT_MS_DEFAULT : parseDurationMs(query.wait);
  if (waitMs === null || waitMs > API_BOUNDS.watchWaitMsMax) {
    sendError(reply, 'bad_request', `wait must be a duration such as 500ms, 30s or 5m, at most ${API_BOUNDS.watchWaitMsMax / 1_000}s`);
    return null;
  }
  if (!Number.isSafeInteger(after)) {
    sendError(reply, 'bad_request', 'index must be a non-negative integer (the index of an earlier answer)');
    return null;
  }
  const current = indexNow();
  if (current > after || waitMs === 0) return current;
  const shapeAtPark = read.shape?.();

  // The response's 'close' before it was written: the client went away.
  const onClose = (): void => {
    if (!reply.raw.writableFinished) finish();
  };
  let finish: () => void = () => {};
  const woken = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const leave = backend.watches.park(read.target, () => {
    if (read.shape !== undefined && read.shape() === shapeAtPark) return false;
    finish();
    return true;
  });
  if (leave === null) {
    sendError(reply, 'overloaded', 'too many watches are waiting on this node');
    return null;
  }
  const timer = setTimeout(finish, waitMs);
  reply.raw.on('close', onClose);
  try {
    await woken;
  } finally {
    clearTimeout(timer);
    reply.raw.off('close', onClose);
    leave();
  }
  return indexNow();
}

/** sendIndexed answers `body` with its index, in the body and the X-Raftlock-Index header. */
export function sendIndexed(reply: FastifyReply, index: number, body: Record<string, unknown>): FastifyReply {
  return reply.header(INDEX_HEADER, String(index)).send({ ...body, index });
}
