/**
 * The lease table's limits: which bounds a table accepts (checkLimits, also
 * run by the LeaseTable constructor), and that a table restored from a
 * snapshot decodes the same bounds. Replicas must agree on them, so a bound
 * the table would refuse must never be usable, and a usable one never refused.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LEASE_TABLE_LIMITS, InvariantError, LeaseTable, checkLimits, type LeaseTableLimits } from '../../src/locks/index.js';
import { Driver, X } from './helpers.js';

const KEYS = Object.keys(DEFAULT_LEASE_TABLE_LIMITS) as (keyof LeaseTableLimits)[];
const withBounds = (bounds: Partial<Record<keyof LeaseTableLimits, unknown>>): LeaseTableLimits =>
  ({ ...DEFAULT_LEASE_TABLE_LIMITS, ...bounds }) as LeaseTableLimits;

describe('checkLimits', () => {
  it('accepts the production limits', () => {
    expect(KEYS).toHaveLength(13);
    expect(checkLimits(DEFAULT_LEASE_TABLE_LIMITS)).toBeNull();
  });

  it.each(KEYS)('refuses %s when it is negative, fractional, unsafe or not a number, and names it', (key) => {
    for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, Number.NaN, '5', null]) {
      expect(checkLimits(withBounds({ [key]: bad })), String(bad)).toBe(`${key} must be a non-negative integer`);
    }
  });

  it('accepts 0 where a bound may be 0 (no waiting, no lock-delay, no extension, no remembered ids)', () => {
    for (const key of ['waitMsMax', 'lockDelayMsMax', 'extendMsMax', 'dedupeTtlMs'] as const) {
      expect(checkLimits(withBounds({ [key]: 0 })), key).toBeNull();
    }
  });

  it.each([
    ['ttlMsMin', 'ttlMsMax'],
    ['sessionTtlMsMin', 'sessionTtlMsMax'],
  ] as const)('needs 1 <= %s <= %s', (min, max) => {
    const rule = `need 1 <= ${min} <= ${max}`;
    expect(checkLimits(withBounds({ [min]: 0 }))).toBe(rule);
    expect(checkLimits(withBounds({ [min]: 1 }))).toBeNull();
    expect(checkLimits(withBounds({ [min]: 5_000, [max]: 5_000 }))).toBeNull();
    expect(checkLimits(withBounds({ [min]: 5_001, [max]: 5_000 }))).toBe(rule);
  });

  it('needs every queue bound (waiters, holders, remembered ids) to be at least 1', () => {
    for (const key of ['waitersPerLockMax', 'holdersPerLockMax', 'dedupeEntriesMax'] as const) {
      expect(checkLimits(withBounds({ [key]: 0 })), key).toBe('queue bounds must be >= 1');
      expect(checkLimits(withBounds({ [key]: 1 })), key).toBeNull();
    }
  });

  it('needs every string bound (names, ids) to be at least 1', () => {
    for (const key of ['nameLengthMax', 'idLengthMax'] as const) {
      expect(checkLimits(withBounds({ [key]: 0 })), key).toBe('string bounds must be >= 1');
      expect(checkLimits(withBounds({ [key]: 1 })), key).toBeNull();
    }
  });
});

describe('a table with its limits', () => {
  it('is not created with limits checkLimits refuses: the constructor stops with the reason', () => {
    const create = (): LeaseTable => new LeaseTable({ holdersPerLockMax: 0 });
    expect(create).toThrow(InvariantError);
    expect(create).toThrow('bad lease table limits: queue bounds must be >= 1');
  });

  it('decodes from its snapshot the limits it was created with, 0 bounds included', () => {
    const d = Driver.withLimits({ lockDelayMsMax: 0, waitMsMax: 0, extendMsMax: 0, ttlMsMin: 1, nameLengthMax: 3 });
    d.apply(X('abc', 'o'));
    d.reload();
    const refused = (extra: Parameters<typeof X>[2], name = 'L'): unknown => d.apply(X(name, 'o', extra)).result;
    expect(refused({ lockDelayMs: 1 })).toMatchObject({ error: 'bad_request', message: 'lockDelayMs must be in [0, 0]' });
    expect(refused({ waitMs: 1 })).toMatchObject({ error: 'bad_request', message: 'waitMs must be in [0, 0]' });
    expect(refused({}, 'abcd')).toMatchObject({ error: 'bad_request', message: 'name is longer than 3' });
    expect(d.apply({ type: 'extendLeases', byMs: 1 }).result).toMatchObject({ error: 'bad_request', message: 'byMs must be in [0, 0]' });
    expect(d.apply(X('L', 'o', { ttlMs: 1 })).result).toMatchObject({ ok: true, expiresAtMs: d.timeMs + 1 });
  });
});
