import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LeaseTable } from '../../src/locks/index.js';
import { sameBytes } from './helpers.js';

interface Fixture {
  snapshot: string;
  locks: Record<string, unknown>;
  sessions: Record<string, unknown>;
  next: number | null;
  stats: unknown;
  nowMs: number;
  appliedIndex: number;
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/snapshot-v1-d1d21b0.json', import.meta.url), 'utf8')) as Fixture;

describe('a snapshot stored by an earlier version', () => {
  const bytes = new Uint8Array(Buffer.from(fixture.snapshot, 'base64'));

  it('restores with its own limits under the current key names', () => {
    const t = LeaseTable.restore(bytes);
    // The stored values, in LIMIT_KEYS order: the old defaults (600 s waits, 512-char names).
    expect(t.limits).toEqual({
      ttlMsMin: 100,
      ttlMsMax: 3_600_000,
      sessionTtlMsMin: 1_000,
      sessionTtlMsMax: 3_600_000,
      waitMsMax: 600_000,
      lockDelayMsMax: 60_000,
      extendMsMax: 600_000,
      waitersPerLockMax: 10_000,
      holdersPerLockMax: 10_000,
      dedupeEntriesMax: 100_000,
      dedupeTtlMs: 600_000,
      nameLengthMax: 512,
      idLengthMax: 256,
    });
  });

  it('reads back the same locks, sessions and deadlines, and writes the same bytes', () => {
    const t = LeaseTable.restore(bytes);
    expect(t.nowMs).toBe(fixture.nowMs);
    expect(t.appliedIndex).toBe(fixture.appliedIndex);
    for (const [name, view] of Object.entries(fixture.locks)) expect(t.get(name)).toEqual(view);
    for (const [id, view] of Object.entries(fixture.sessions)) expect(t.session(id)).toEqual(view);
    expect(t.nextDeadlineMs()).toBe(fixture.next);
    expect(t.stats()).toEqual(fixture.stats);
    expect(sameBytes(t.snapshot(), bytes)).toBe(true);
  });
});
