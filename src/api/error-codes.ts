/**
 * The stable error codes of the API and the HTTP status of each. A code is the
 * `error` field of every error answer (`{error, message}`); clients switch on
 * it, so codes never change meaning. The server maps a code to its status only
 * through ERROR_STATUS (src/server/error-mapping.ts), and every typed error
 * carries an ErrorCode, so a misspelt code fails to compile instead of
 * becoming a 500 at run time.
 *
 * Pure data with no imports, like contract.ts: the client package can take it
 * without pulling in the server.
 */

/**
 * ErrorCode is every code the server can answer. `not_leader` never reaches
 * the wire (a node answers it as `no_leader`); `wait_ended` is a lease-table
 * result the HTTP layer answers as `lock_held` with a `reason`; `dedupe_full`
 * (the exactly-once table is at its cap; nothing was applied) comes with a
 * Retry-After of when its oldest entry expires; `internal` is a bug on the
 * server (see its log). `not_ready` is /readyz's answer for a
 * member that knows something is wrong with it (a `reason` says what);
 * `transfer_failed` says leadership did not move within the bound. With
 * authentication on, `unauthorized` is a missing or unknown bearer token,
 * `forbidden` a token whose roles do not include the route's;
 * `too_many_requests` is a per-principal cap (waiting acquires),
 * `request_timeout` a request that did not arrive in time.
 */
export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'session_not_found'
  | 'lock_held'
  | 'not_holder'
  | 'limit_mismatch'
  | 'wait_ended'
  | 'too_many_waiters'
  | 'request_timeout'
  | 'too_many_requests'
  | 'already_waiting'
  | 'dedupe_full'
  | 'internal'
  | 'no_leader'
  | 'not_leader'
  | 'overloaded'
  | 'proposal_dropped'
  | 'shutting_down'
  | 'outcome_unknown'
  | 'not_ready'
  | 'transfer_failed'
  | 'membership_change_refused';

/** ERROR_STATUS is the HTTP status of each ErrorCode. */
export const ERROR_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  session_not_found: 404,
  lock_held: 409,
  not_holder: 409,
  limit_mismatch: 409,
  wait_ended: 409,
  too_many_waiters: 429,
  request_timeout: 408,
  too_many_requests: 429,
  already_waiting: 409,
  internal: 500,
  no_leader: 503,
  not_leader: 503,
  overloaded: 503,
  dedupe_full: 503,
  proposal_dropped: 503,
  shutting_down: 503,
  outcome_unknown: 504,
  not_ready: 503,
  transfer_failed: 503,
  membership_change_refused: 409,
});
