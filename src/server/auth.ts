import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasRole, type Identity, type Role, type TokenStore } from './auth-tokens.js';
import { sendError } from './error-mapping.js';
import { IDENTITY_HEADER, SIGNATURE_HEADER, bodyMatches, type ForwardSigner, type VerifiedForward } from './forward-signature.js';
import type { RefusalLog } from './refusal-log.js';

/**
 * RouteRole is what a route declares in its config (`{ config: { role } }`):
 * `none` is open to anyone (liveness, readiness), a Role needs a token with
 * it, `member` is internal (only another member of the cluster may call it,
 * with a signed request).
 */
export type RouteRole = 'none' | Role | 'member';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route; every route must say (the auth plugin refuses to register one that does not). */
    role?: RouteRole;
  }
  interface FastifyRequest {
    /** The authenticated caller; null with authentication off, or on a member's own internal call. */
    identity: Identity | null;
    /** On a member's own (signed) internal call, that member's id; else null. */
    member: string | null;
  }
}

/** AuthOptions configure the plugin; `tokens: null` turns authentication off (a trusted network). */
export interface AuthOptions {
  readonly tokens: TokenStore | null;
  /** Verifies relayed identities from other members; null when no cluster secret is set (relays are then refused). */
  readonly signer: ForwardSigner | null;
  /** Where refusals are counted and logged. */
  readonly refusals: RefusalLog;
}

const ROUTE_ROLES: readonly RouteRole[] = ['none', 'reader', 'locker', 'admin', 'member'];

/**
 * authPlugin authenticates and authorizes every request before routing
 * reaches a handler (an onRequest hook), from the route's declared role:
 * a bearer token (`Authorization: Bearer ...`), or a relayed identity that a
 * member signed (forward-signature.ts). No valid credential: 401
 * unauthorized; a role the caller lacks: 403 forbidden. With authentication
 * off it checks nothing, but still requires every route to declare its
 * role, so a new route cannot be added unprotected by forgetting to.
 * Register it before the route plugins.
 */
export async function authPlugin(app: FastifyInstance, opts: AuthOptions): Promise<void> {
  app.decorateRequest('identity', null);
  app.decorateRequest('member', null);
  const forwards = new WeakMap<FastifyRequest, VerifiedForward>();
  app.addHook('onRoute', (route) => {
    const role = route.config?.role;
    if (role === undefined || !ROUTE_ROLES.includes(role)) {
      throw new Error(`route ${String(route.method)} ${route.url} must declare who may call it: config: { role: ${ROUTE_ROLES.map((r) => `'${r}'`).join(' | ')} }`);
    }
  });
  if (opts.tokens === null) return;
  const { tokens, signer, refusals } = opts;
  app.addHook('onRequest', async (request, reply) => {
    const role = request.routeOptions.config.role;
    // No role: the not-found handler, which serves nothing.
    if (role === undefined || role === 'none') return;
    const relayed = request.headers[IDENTITY_HEADER] !== undefined || request.headers[SIGNATURE_HEADER] !== undefined;
    if (relayed) {
      if (signer === null) return refuse(reply, refusals, 'unauthorized', 'this node has no cluster secret to check a relayed identity with', request);
      const verified = signer.verify(request.headers, request.method, request.url);
      if ('refused' in verified) return refuse(reply, refusals, 'unauthorized', verified.refused, request);
      forwards.set(request, verified);
      if (verified.caller.kind === 'member') {
        if (role !== 'member') return refuse(reply, refusals, 'forbidden', 'a member may call only internal routes as itself', request);
        request.member = verified.caller.member;
        return;
      }
      return authorize(request, reply, refusals, verified.caller.identity, role);
    }
    const token = bearerToken(request.headers.authorization);
    if (token === null) return refuse(reply, refusals, 'unauthorized', 'this route needs a bearer token (Authorization: Bearer <token>)', request);
    const identity = tokens.authenticate(token);
    if (identity === null) return refuse(reply, refusals, 'unauthorized', 'unknown bearer token', request);
    return authorize(request, reply, refusals, identity, role);
  });
  // The body is parsed after onRequest; a relayed one must be the body the member signed.
  app.addHook('preValidation', async (request, reply) => {
    const forward = forwards.get(request);
    if (forward !== undefined && !bodyMatches(forward, request.body)) {
      return refuse(reply, refusals, 'unauthorized', 'the relayed body is not the one its member signed', request);
    }
  });
}
// Its hooks must see every route, not only routes inside it (as metrics-routes.ts does).
Object.assign(authPlugin, { [Symbol.for('skip-override')]: true });

function authorize(request: FastifyRequest, reply: FastifyReply, refusals: RefusalLog, identity: Identity, role: RouteRole): FastifyReply | undefined {
  if (role === 'member' || !hasRole(identity, role as Role)) {
    const need = role === 'member' ? 'is internal to the cluster' : `needs role ${role}`;
    return refuse(reply, refusals, 'forbidden', `${request.method} ${request.routeOptions.url ?? request.url} ${need}; ${identity.principal} has ${identity.roles.join(', ')}`, request, identity.principal);
  }
  request.identity = identity;
  return undefined;
}

function refuse(reply: FastifyReply, refusals: RefusalLog, code: 'unauthorized' | 'forbidden', message: string, request: FastifyRequest, principal?: string): FastifyReply {
  refusals.hit(code, { address: request.ip, route: request.routeOptions.url, ...(principal !== undefined ? { principal } : {}), why: message });
  if (code === 'unauthorized') void reply.header('www-authenticate', 'Bearer realm="raftlock"');
  return sendError(reply, code, message);
}

/** bearerToken is the token of an `Authorization: Bearer <token>` header, or null. */
function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i.exec(header);
  return m === null ? null : m[1]!;
}
