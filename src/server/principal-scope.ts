import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/**
 * PrincipalScope binds what a caller names to who the caller is. With
 * authentication on, an owner string is stored as `principal/owner` and a
 * requestId as `principal/requestId`, so no owner string or requestId that
 * one principal sends can ever equal another's: it cannot re-acquire, renew
 * or release another principal's hold, nor read another's exactly-once
 * result. Session ids are made `principal~uuid` by the server, and a
 * session is only found by its own principal. Principals contain neither
 * `/` nor `~` (auth-tokens.ts), so no namespace is a prefix of another.
 *
 * Without authentication (a trusted network) the scope is the identity: the
 * stored strings are the ones sent, and every session is everyone's.
 */
export interface PrincipalScope {
  /** owner is the stored form of an owner string the caller sent. */
  owner(sent: string): string;
  /** shownOwner is how the caller sees a stored owner: its own without the prefix, others' whole. */
  shownOwner(stored: string): string;
  /** requestId is the stored form of a requestId (the exactly-once key, also a waiter's id). */
  requestId(sent: string): string;
  /** newSessionId is the id of a session this caller creates. */
  newSessionId(): string;
  /** ownsSession says whether the caller may use session `id`. */
  ownsSession(id: string): boolean;
}

const OPEN_SCOPE: PrincipalScope = {
  owner: (sent) => sent,
  shownOwner: (stored) => stored,
  requestId: (sent) => sent,
  newSessionId: () => randomUUID(),
  ownsSession: () => true,
};

/** scopeOf is the scope of the request's authenticated principal (authentication off: the open scope). */
export function scopeOf(request: FastifyRequest): PrincipalScope {
  const principal = request.identity?.principal;
  return principal === undefined ? OPEN_SCOPE : principalScope(principal);
}

function principalScope(principal: string): PrincipalScope {
  const ownerPrefix = `${principal}/`;
  const sessionPrefix = `${principal}~`;
  return {
    owner: (sent) => ownerPrefix + sent,
    shownOwner: (stored) => (stored.startsWith(ownerPrefix) ? stored.slice(ownerPrefix.length) : stored),
    requestId: (sent) => ownerPrefix + sent,
    newSessionId: () => sessionPrefix + randomUUID(),
    ownsSession: (id) => id.startsWith(sessionPrefix),
  };
}
