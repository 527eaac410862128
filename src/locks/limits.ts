import { API_BOUNDS, DEDUPE_TTL_MS } from '../api/contract.js';

/**
 * LeaseTableLimits are the bounds of the lease table. They are part of the
 * replicated state (stored in every snapshot): replicas must agree on them, or
 * they would decide differently on the same log.
 */
export interface LeaseTableLimits {
  /** Smallest/largest lease of a TTL hold. */
  readonly ttlMsMin: number;
  readonly ttlMsMax: number;
  /** Smallest/largest session TTL. */
  readonly sessionTtlMsMin: number;
  readonly sessionTtlMsMax: number;
  /** Longest a waiter may queue. */
  readonly waitMsMax: number;
  /** Longest lock-delay. */
  readonly lockDelayMsMax: number;
  /** Largest extendLeases step. */
  readonly extendMsMax: number;
  /** Queue bound per lock; beyond it acquire answers too_many_waiters. */
  readonly waitersPerLockMax: number;
  /** Bound on shared holders of one lock, and the largest semaphore limit. */
  readonly holdersPerLockMax: number;
  /** Cap of the exactly-once table: a new requestId beyond it is refused (dedupe_full), no live entry is evicted. */
  readonly dedupeEntriesMax: number;
  /** How long (by the table's nowMs) a requestId is remembered; evicted during apply after that. */
  readonly dedupeTtlMs: number;
  /** Longest accepted name/owner/id strings (UTF-16 code units). */
  readonly nameLengthMax: number;
  readonly idLengthMax: number;
}

/**
 * DEFAULT_LEASE_TABLE_LIMITS are the production bounds. The bounds a client
 * can reach through the API come from API_BOUNDS, so the table accepts exactly
 * what the HTTP schemas accept; the rest bound the table's own memory.
 */
export const DEFAULT_LEASE_TABLE_LIMITS: LeaseTableLimits = Object.freeze({
  ttlMsMin: API_BOUNDS.ttlMsMin,
  ttlMsMax: API_BOUNDS.ttlMsMax,
  sessionTtlMsMin: API_BOUNDS.sessionTtlMsMin,
  sessionTtlMsMax: API_BOUNDS.sessionTtlMsMax,
  waitMsMax: API_BOUNDS.waitMsMax,
  lockDelayMsMax: API_BOUNDS.lockDelayMsMax,
  extendMsMax: 600_000,
  waitersPerLockMax: 10_000,
  holdersPerLockMax: API_BOUNDS.semaphoreLimitMax,
  // 1,000,000 ids in DEDUPE_TTL_MS admit 1,666 writes with a requestId a second, sustained (the client library
  // peaked at about 2,400 on the bench machine: 1,184 acquire-release cycles), in about 0.7 KB of heap each (acquire and release results):
  // about 700 MB at the cap. Beyond it new ids are refused, never old ones forgotten.
  dedupeEntriesMax: 1_000_000,
  dedupeTtlMs: DEDUPE_TTL_MS,
  nameLengthMax: API_BOUNDS.nameLengthMax,
  // One bound for request, session and waiter ids: the largest id the API
  // takes (owners included), so the table never refuses what the API accepted.
  idLengthMax: Math.max(API_BOUNDS.ownerLengthMax, API_BOUNDS.requestIdLengthMax, API_BOUNDS.sessionIdLengthMax),
});

// The snapshot encoding: limits are stored as values in this order (names are
// not stored), so the order must never change; append new keys at the end and
// bump SNAPSHOT_FORMAT.
const LIMIT_KEYS: readonly (keyof LeaseTableLimits)[] = [
  'ttlMsMin',
  'ttlMsMax',
  'sessionTtlMsMin',
  'sessionTtlMsMax',
  'waitMsMax',
  'lockDelayMsMax',
  'extendMsMax',
  'waitersPerLockMax',
  'holdersPerLockMax',
  'dedupeEntriesMax',
  'dedupeTtlMs',
  'nameLengthMax',
  'idLengthMax',
];

/** limitsToArray encodes limits in a fixed order (for snapshots). */
export function limitsToArray(limits: LeaseTableLimits): number[] {
  return LIMIT_KEYS.map((k) => limits[k]);
}

/** limitsFromArray decodes limitsToArray's output; null when malformed. */
export function limitsFromArray(values: unknown): LeaseTableLimits | null {
  if (!Array.isArray(values) || values.length !== LIMIT_KEYS.length) return null;
  // checkLimits refuses any value that is not a non-negative safe integer, whatever its type.
  const limits = Object.fromEntries(LIMIT_KEYS.map((k, i): [string, unknown] => [k, values[i]])) as unknown as LeaseTableLimits;
  return checkLimits(limits) === null ? limits : null;
}

/** checkLimits returns why `limits` are unusable, or null when they are fine. */
export function checkLimits(l: LeaseTableLimits): string | null {
  for (const k of LIMIT_KEYS) {
    const v = l[k];
    // Number.isSafeInteger is false for every non-number too (limits may come from untyped callers).
    if (!Number.isSafeInteger(v) || v < 0) return `${k} must be a non-negative integer`;
  }
  if (l.ttlMsMin < 1 || l.ttlMsMin > l.ttlMsMax) return 'need 1 <= ttlMsMin <= ttlMsMax';
  if (l.sessionTtlMsMin < 1 || l.sessionTtlMsMin > l.sessionTtlMsMax) return 'need 1 <= sessionTtlMsMin <= sessionTtlMsMax';
  if (l.waitersPerLockMax < 1 || l.holdersPerLockMax < 1 || l.dedupeEntriesMax < 1) return 'queue bounds must be >= 1';
  if (l.nameLengthMax < 1 || l.idLengthMax < 1) return 'string bounds must be >= 1';
  return null;
}
