/**
 * LeaseTableLimits are the bounds of the lease table. They are part of the
 * replicated state (stored in every snapshot): replicas must agree on them, or
 * they would decide differently on the same log.
 */
export interface LeaseTableLimits {
  /** Smallest/largest lease of a TTL hold. */
  readonly minTtlMs: number;
  readonly maxTtlMs: number;
  /** Smallest/largest session TTL. */
  readonly minSessionTtlMs: number;
  readonly maxSessionTtlMs: number;
  /** Longest a waiter may queue. */
  readonly maxWaitMs: number;
  /** Longest lock-delay. */
  readonly maxLockDelayMs: number;
  /** Largest extendLeases step. */
  readonly maxExtendMs: number;
  /** Queue bound per lock; beyond it acquire answers too_many_waiters. */
  readonly maxWaitersPerLock: number;
  /** Bound on shared holders of one lock, and the largest semaphore limit. */
  readonly maxHoldersPerLock: number;
  /** Bound of the exactly-once table; the oldest entry is evicted beyond it. */
  readonly maxDedupeEntries: number;
  /** Dedupe entries older than this (by the table's nowMs) are evicted during apply. */
  readonly dedupeTtlMs: number;
  /** Longest accepted name/owner/id strings (UTF-16 code units). */
  readonly maxNameLength: number;
  readonly maxIdLength: number;
}

/** DEFAULT_LEASE_TABLE_LIMITS are the production bounds. */
export const DEFAULT_LEASE_TABLE_LIMITS: LeaseTableLimits = Object.freeze({
  minTtlMs: 100,
  maxTtlMs: 3_600_000,
  minSessionTtlMs: 1_000,
  maxSessionTtlMs: 3_600_000,
  maxWaitMs: 600_000,
  maxLockDelayMs: 60_000,
  maxExtendMs: 600_000,
  maxWaitersPerLock: 10_000,
  maxHoldersPerLock: 10_000,
  maxDedupeEntries: 100_000,
  dedupeTtlMs: 600_000,
  maxNameLength: 512,
  maxIdLength: 256,
});

const LIMIT_KEYS: readonly (keyof LeaseTableLimits)[] = [
  'minTtlMs',
  'maxTtlMs',
  'minSessionTtlMs',
  'maxSessionTtlMs',
  'maxWaitMs',
  'maxLockDelayMs',
  'maxExtendMs',
  'maxWaitersPerLock',
  'maxHoldersPerLock',
  'maxDedupeEntries',
  'dedupeTtlMs',
  'maxNameLength',
  'maxIdLength',
];

/** limitsToArray encodes limits in a fixed order (for snapshots). */
export function limitsToArray(limits: LeaseTableLimits): number[] {
  return LIMIT_KEYS.map((k) => limits[k]);
}

/** limitsFromArray decodes limitsToArray's output; null when malformed. */
export function limitsFromArray(values: unknown): LeaseTableLimits | null {
  if (!Array.isArray(values) || values.length !== LIMIT_KEYS.length) return null;
  const out: Record<string, number> = {};
  for (let i = 0; i < LIMIT_KEYS.length; i++) {
    const v: unknown = values[i];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return null;
    out[LIMIT_KEYS[i]!] = v;
  }
  return checkLimits(out as unknown as LeaseTableLimits) === null ? (out as unknown as LeaseTableLimits) : null;
}

/** checkLimits returns why `limits` are unusable, or null when they are fine. */
export function checkLimits(l: LeaseTableLimits): string | null {
  for (const k of LIMIT_KEYS) {
    const v = l[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return `${k} must be a non-negative integer`;
  }
  if (l.minTtlMs < 1 || l.minTtlMs > l.maxTtlMs) return 'need 1 <= minTtlMs <= maxTtlMs';
  if (l.minSessionTtlMs < 1 || l.minSessionTtlMs > l.maxSessionTtlMs) return 'need 1 <= minSessionTtlMs <= maxSessionTtlMs';
  if (l.maxWaitersPerLock < 1 || l.maxHoldersPerLock < 1 || l.maxDedupeEntries < 1) return 'queue bounds must be >= 1';
  if (l.maxNameLength < 1 || l.maxIdLength < 1) return 'string bounds must be >= 1';
  return null;
}
