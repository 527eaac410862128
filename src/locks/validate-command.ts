import { API_BOUNDS } from '../api/contract.js';
import type { LeaseTableLimits } from './limits.js';
import type { BadRequestError, LockCommand } from './types.js';

/** CHECKPOINT_SESSIONS_MAX bounds the sessions one checkpointSessions entry names. */
export const CHECKPOINT_SESSIONS_MAX = 1_000;

/**
 * validateCommand checks the shape and ranges of a command that came out of the
 * log. The HTTP layer validates too, but the table must never throw on bad
 * input (a replica that crashes on an entry crashes again on every restart), so
 * it answers 'bad_request' with the returned message instead.
 *
 * @returns null when the command is well-formed, else a human-readable reason.
 */
export function validateCommand(cmd: unknown, limits: LeaseTableLimits): string | null {
  if (typeof cmd !== 'object' || cmd === null || Array.isArray(cmd)) return 'command must be an object';
  const c = cmd as Record<string, unknown>;
  const rid = optionalId(c, 'requestId', limits);
  switch (c['type']) {
    case 'acquire': {
      const bad =
        rid ??
        str(c, 'name', limits.nameLengthMax) ??
        str(c, 'owner', limits.nameLengthMax) ??
        (c['mode'] === 'exclusive' || c['mode'] === 'shared' ? null : "mode must be 'exclusive' or 'shared'") ??
        int(c, 'waitMs', 0, limits.waitMsMax) ??
        optionalInt(c, 'lockDelayMs', 0, limits.lockDelayMsMax) ??
        optionalInt(c, 'limit', 1, limits.holdersPerLockMax) ??
        optionalInt(c, 'ttlMs', limits.ttlMsMin, limits.ttlMsMax) ??
        optionalId(c, 'sessionId', limits) ??
        (c['value'] === undefined ? null : value(c));
      if (bad !== null) return bad;
      if ((c['ttlMs'] === undefined) === (c['sessionId'] === undefined)) return 'exactly one of ttlMs and sessionId is required';
      if (c['limit'] !== undefined && c['mode'] !== 'shared') return "limit is only allowed with mode 'shared'";
      if (c['value'] !== undefined && c['mode'] !== 'exclusive') return "value is only allowed with mode 'exclusive'";
      return null;
    }
    case 'proclaim':
      return rid ?? str(c, 'name', limits.nameLengthMax) ?? str(c, 'owner', limits.nameLengthMax) ?? token(c) ?? value(c);
    case 'release':
      return rid ?? str(c, 'name', limits.nameLengthMax) ?? str(c, 'owner', limits.nameLengthMax) ?? token(c);
    case 'renew':
      return (
        rid ??
        str(c, 'name', limits.nameLengthMax) ??
        str(c, 'owner', limits.nameLengthMax) ??
        token(c) ??
        optionalInt(c, 'ttlMs', limits.ttlMsMin, limits.ttlMsMax)
      );
    case 'forceRelease':
      return rid ?? str(c, 'name', limits.nameLengthMax);
    case 'createSession':
      return (
        rid ??
        str(c, 'sessionId', limits.idLengthMax) ??
        int(c, 'ttlMs', limits.sessionTtlMsMin, limits.sessionTtlMsMax) ??
        (c['owner'] === undefined ? null : str(c, 'owner', limits.nameLengthMax))
      );
    case 'keepalive':
    case 'deleteSession':
      return rid ?? str(c, 'sessionId', limits.idLengthMax);
    case 'cancelWait':
      return (
        str(c, 'name', limits.nameLengthMax) ??
        str(c, 'waiterId', limits.idLengthMax) ??
        (c['owner'] === undefined ? null : str(c, 'owner', limits.nameLengthMax))
      );
    case 'expire':
      return null;
    case 'extendLeases':
      return int(c, 'byMs', 0, limits.extendMsMax);
    case 'checkpointSessions':
      return checkpointEntries(c['sessions'], limits);
    case 'restartSessionLeases':
      return null;
    default:
      return 'unknown command type';
  }
}

/** checkpointEntries checks checkpointSessions' [sessionId, expiresAtMs] pairs. */
function checkpointEntries(v: unknown, limits: LeaseTableLimits): string | null {
  if (!Array.isArray(v) || v.length === 0 || v.length > CHECKPOINT_SESSIONS_MAX) return `sessions must be an array of 1 to ${CHECKPOINT_SESSIONS_MAX} entries`;
  for (const e of v as unknown[]) {
    if (!Array.isArray(e) || e.length !== 2) return 'each session entry must be [sessionId, expiresAtMs]';
    const bad = str({ id: e[0] }, 'id', limits.idLengthMax) ?? int({ expiresAtMs: e[1] }, 'expiresAtMs', 0, Number.MAX_SAFE_INTEGER);
    if (bad !== null) return bad;
  }
  return null;
}

/** dedupeKeyOf returns the requestId of a command the exactly-once table covers, else null. */
export function dedupeKeyOf(cmd: LockCommand): string | null {
  switch (cmd.type) {
    case 'acquire':
    case 'release':
    case 'renew':
    case 'proclaim':
    case 'forceRelease':
    case 'createSession':
    case 'keepalive':
    case 'deleteSession':
      return cmd.requestId ?? null;
    default:
      return null;
  }
}

/** badRequest is the answer to a malformed command, or to one not allowed in the current state. */
export function badRequest(message: string): BadRequestError {
  return { ok: false, error: 'bad_request', message };
}

function str(c: Record<string, unknown>, key: string, maxLength: number): string | null {
  const v = c[key];
  if (typeof v !== 'string' || v.length === 0) return `${key} must be a non-empty string`;
  if (v.length > maxLength) return `${key} is longer than ${maxLength}`;
  return null;
}

function optionalId(c: Record<string, unknown>, key: string, limits: LeaseTableLimits): string | null {
  return c[key] === undefined ? null : str(c, key, limits.idLengthMax);
}

function int(c: Record<string, unknown>, key: string, min: number, max: number): string | null {
  const v = c[key];
  if (!isSafeInteger(v)) return `${key} must be an integer`;
  if (v < min || v > max) return `${key} must be in [${min}, ${max}]`;
  return null;
}

/** isSafeInteger is Number.isSafeInteger as a type guard: it is false for every non-number. */
function isSafeInteger(v: unknown): v is number {
  return Number.isSafeInteger(v);
}

function optionalInt(c: Record<string, unknown>, key: string, min: number, max: number): string | null {
  return c[key] === undefined ? null : int(c, key, min, max);
}

/** value is an election value: a string of at most API_BOUNDS.electionValueLengthMax characters, possibly empty. */
function value(c: Record<string, unknown>): string | null {
  const v = c['value'];
  if (typeof v !== 'string') return 'value must be a string';
  if (v.length > API_BOUNDS.electionValueLengthMax) return `value is longer than ${API_BOUNDS.electionValueLengthMax}`;
  return null;
}

function token(c: Record<string, unknown>): string | null {
  return int(c, 'token', 1, Number.MAX_SAFE_INTEGER);
}
