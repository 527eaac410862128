import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FORWARDED_HEADER } from './leader-forwarder.js';
import { sendError } from './error-mapping.js';
import type { RefusalLog } from './refusal-log.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How long this request may be held open waiting (a queued acquire's waitMs); such requests count against the caller's quota. */
    waitMsOf?: (request: FastifyRequest) => number;
  }
}

/** WaitQuotaOptions bound the requests one caller may keep waiting on this node. */
export interface WaitQuotaOptions {
  readonly maxWaitsPerPrincipal: number;
  readonly refusals: RefusalLog;
}

/**
 * waitQuotaPlugin caps the waiting requests (long-polls: acquires with
 * waitMs > 0) each caller holds open on this node: its principal's with
 * authentication on, its address's without. A request over the cap is
 * answered at once with 429 too_many_requests, so one caller cannot take
 * the node's whole budget of waiters (LockService's maxWaiters) from the
 * others. Without authentication, a request relayed by a member is not
 * counted here: it was counted on the member it came in at, and here every
 * relay has that member's address. Register it before the route plugins.
 */
export async function waitQuotaPlugin(app: FastifyInstance, opts: WaitQuotaOptions): Promise<void> {
  const waiting = new Map<string, number>();
  app.addHook('preHandler', async (request, reply) => {
    const waitMs = request.routeOptions.config.waitMsOf?.(request) ?? 0;
    if (waitMs <= 0) return;
    const principal = request.identity?.principal;
    if (principal === undefined && request.headers[FORWARDED_HEADER] !== undefined) return;
    const key = principal ?? `address ${request.ip}`;
    const count = waiting.get(key) ?? 0;
    if (count >= opts.maxWaitsPerPrincipal) {
      opts.refusals.hit('waits_per_principal', { caller: key, waiting: count });
      return sendError(reply, 'too_many_requests', `${key} already has ${count} waiting acquires on this node (at most ${opts.maxWaitsPerPrincipal})`);
    }
    waiting.set(key, count + 1);
    // 'close' fires once the answer is sent or the client has gone: the slot is free again either way.
    reply.raw.once('close', () => {
      const left = (waiting.get(key) ?? 1) - 1;
      if (left <= 0) waiting.delete(key);
      else waiting.set(key, left);
    });
  });
}
// Its hook must see every route, not only routes inside it.
Object.assign(waitQuotaPlugin, { [Symbol.for('skip-override')]: true });
