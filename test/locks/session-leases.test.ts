import { describe, expect, it } from 'vitest';
import { CHECKPOINT_SESSIONS_MAX, LeaseTable, type LockCommand } from '../../src/locks/index.js';
import { Driver, X, sameBytes } from './helpers.js';

/** The two commands that keep session keepalives off the disk (issue 14, src/node/session-keepalives.ts). */
describe('checkpointSessions', () => {
  it('raises stored expiries to the leader’s, never lowers one, and skips sessions that are gone', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply({ type: 'createSession', sessionId: 's1', ttlMs: 1_000 });
    d.apply({ type: 'createSession', sessionId: 's2', ttlMs: 1_000 });
    const out = d.apply({ type: 'checkpointSessions', sessions: [['s1', t0 + 5_000], ['s2', t0 + 500], ['gone', t0 + 9_000]] });
    expect(out.result).toEqual({ ok: true, sessionsExtended: 1 });
    expect(d.table.session('s1')?.expiresAtMs).toBe(t0 + 5_000);
    expect(d.table.session('s2')?.expiresAtMs).toBe(t0 + 1_000);
    expect(d.table.session('gone')).toBeNull();
    // The deadline index follows: s2 expires at its own deadline, s1 only at the checkpointed one.
    expect(d.expireAfter(1_000).result).toMatchObject({ sessionsExpired: 1 });
    expect(d.table.session('s1')).not.toBeNull();
    d.timeMs = t0 + 4_999;
    expect(d.apply({ type: 'expire' }).result).toMatchObject({ sessionsExpired: 0 });
    d.timeMs = t0 + 5_000;
    expect(d.apply({ type: 'expire' }).result).toMatchObject({ sessionsExpired: 1 });
  });

  it('raises a session whose stored expiry passed but that no expire removed (the leader answered its keepalive)', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 1_000 });
    d.apply(X('L', 'o', { ttlMs: undefined, sessionId: 's' }));
    d.timeMs = t0 + 1_200;
    d.apply({ type: 'checkpointSessions', sessions: [['s', t0 + 2_100]] });
    expect(d.apply({ type: 'expire' }).result).toMatchObject({ sessionsExpired: 0, holdsExpired: 0 });
    expect(d.table.get('L')?.holders[0]?.expiresAtMs).toBe(t0 + 2_100);
  });

  it('refuses malformed or oversized entries as bad_request, changing nothing', () => {
    const d = new Driver();
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 1_000 });
    const before = d.table.session('s');
    const tooMany = Array.from({ length: CHECKPOINT_SESSIONS_MAX + 1 }, (_, i) => [`s${i}`, 1] as const);
    const bad = [
      { type: 'checkpointSessions', sessions: [] },
      { type: 'checkpointSessions', sessions: tooMany },
      { type: 'checkpointSessions', sessions: [['s']] },
      { type: 'checkpointSessions', sessions: [['', 5]] },
      { type: 'checkpointSessions', sessions: [['s', -1]] },
      { type: 'checkpointSessions', sessions: [['s', 1.5]] },
      { type: 'checkpointSessions' },
    ];
    for (const cmd of bad) {
      d.index++;
      const out = d.table.apply(cmd as unknown as LockCommand, { index: d.index, timeMs: d.timeMs });
      expect(out.result, JSON.stringify(cmd).slice(0, 80)).toMatchObject({ ok: false, error: 'bad_request' });
    }
    expect(d.table.session('s')).toEqual(before); // the index moved, nothing else
  });
});

describe('checkpointSessions and restartSessionLeases count only the sessions they move', () => {
  it('a checkpoint at the stored expiry, or a restart when every session has its full ttl, moves none', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 1_000 });
    expect(d.apply({ type: 'checkpointSessions', sessions: [['s', t0 + 1_000]] }).result).toEqual({ ok: true, sessionsExtended: 0 });
    expect(d.apply({ type: 'restartSessionLeases' }).result).toEqual({ ok: true, sessionsExtended: 0 });
    expect(d.table.session('s')?.expiresAtMs).toBe(t0 + 1_000);
  });
});

describe('sessionLease (what the leader reads per keepalive)', () => {
  it('is the session’s ttl and stored expiry, or null for a session the table does not have', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply({ type: 'createSession', sessionId: 's', ttlMs: 1_000 });
    d.apply({ type: 'checkpointSessions', sessions: [['s', t0 + 4_000]] });
    expect(d.table.sessionLease('s')).toMatchObject({ ttlMs: 1_000, expiresAtMs: t0 + 4_000 });
    expect(d.table.sessionLease('unknown')).toBeNull();
  });
});

describe('restartSessionLeases', () => {
  it('gives every session at least its full ttl from the table’s time, the dead-but-present ones too', () => {
    const d = new Driver();
    const t0 = d.timeMs;
    d.apply({ type: 'createSession', sessionId: 'short', ttlMs: 1_000 });
    d.apply({ type: 'createSession', sessionId: 'long', ttlMs: 10_000 });
    d.apply({ type: 'checkpointSessions', sessions: [['long', t0 + 30_000]] });
    d.timeMs = t0 + 1_500; // 'short' is past its stored expiry; no expire removed it
    expect(d.apply({ type: 'restartSessionLeases' }).result).toEqual({ ok: true, sessionsExtended: 1 });
    expect(d.table.session('short')?.expiresAtMs).toBe(t0 + 2_500);
    expect(d.table.session('long')?.expiresAtMs).toBe(t0 + 30_000); // never shortened
    d.timeMs = t0 + 2_499;
    expect(d.apply({ type: 'expire' }).result).toMatchObject({ sessionsExpired: 0 });
    d.timeMs = t0 + 2_500;
    expect(d.apply({ type: 'expire' }).result).toMatchObject({ sessionsExpired: 1 });
  });

  it('is deterministic: two replicas applying the same entries agree byte for byte', () => {
    const script: LockCommand[] = [
      { type: 'createSession', sessionId: 'a', ttlMs: 1_000 },
      { type: 'createSession', sessionId: 'b', ttlMs: 2_000 },
      { type: 'checkpointSessions', sessions: [['b', 1_004_000]] },
      { type: 'restartSessionLeases' },
      { type: 'expire' },
    ];
    const run = (): LeaseTable => {
      const d = new Driver();
      for (const cmd of script) {
        d.timeMs += 700;
        d.apply(cmd);
      }
      return d.table;
    };
    expect(sameBytes(run().snapshot(), run().snapshot())).toBe(true);
    expect(LeaseTable.restore(run().snapshot()).session('a')?.expiresAtMs).toBe(1_000_000 + 4 * 700 + 1_000);
  });
});
