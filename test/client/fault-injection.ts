import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';

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

/** FaultHooks tell the hooks which fault a request meets and where to park the answers that never come. */
export interface FaultHooks {
  /** faultFor picks (and uses up) the fault for a request that has just arrived, if any. */
  faultFor(request: FastifyRequest): FaultAction | undefined;
  /** hanging collects the responses of hanging requests, for the owner to destroy on close. */
  readonly hanging: Set<ServerResponse>;
}

/**
 * injectFaults adds fastify hooks that apply FaultActions around the real
 * routes: before validation a fault may answer, drop, hang or delay the
 * request (nothing is applied); once the route has answered, an `applyThen*`
 * fault replaces, drops or delays that answer. Add it before the routes.
 */
export function injectFaults(app: FastifyInstance, hooks: FaultHooks): void {
  const faults = new WeakMap<FastifyRequest, FaultAction>();
  app.addHook('preValidation', async (request, reply) => {
    const action = hooks.faultFor(request);
    if (action === undefined) return;
    faults.set(request, action);
    switch (action.kind) {
      case 'status':
        if (action.status === 503) void reply.header('retry-after', '1');
        return reply.code(action.status).send({ error: action.error, message: `injected ${action.error}` });
      case 'drop':
        reply.hijack();
        request.raw.socket.destroy();
        return reply;
      case 'hang':
        reply.hijack();
        hooks.hanging.add(reply.raw);
        reply.raw.on('close', () => hooks.hanging.delete(reply.raw));
        return reply;
      case 'delay':
        await sleep(action.ms);
        return;
      default:
        return; // applied first: see onSend
    }
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const action = faults.get(request);
    switch (action?.kind) {
      case 'applyThen504':
        void reply.code(504);
        return JSON.stringify({ error: 'outcome_unknown', message: 'injected outcome_unknown' });
      case 'applyThenDrop':
        request.raw.socket.destroy();
        return payload;
      case 'applyThenDelayReply':
        await sleep(action.ms);
        return payload;
      default:
        return payload;
    }
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
