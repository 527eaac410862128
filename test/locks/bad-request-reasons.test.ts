/**
 * Which field a malformed command is refused for. The table answers a log
 * entry it cannot apply with bad_request and a message naming the field and
 * its rule (never a throw: a replica that crashes on an entry crashes again on
 * every restart). Every command checks every field it reads, in each command
 * type, and only those: an optional field that is absent is fine, and a field
 * the command does not read is ignored.
 */
import { describe, expect, it } from 'vitest';
import { API_BOUNDS } from '../../src/api/contract.js';
import { CHECKPOINT_SESSIONS_MAX, DEFAULT_LEASE_TABLE_LIMITS, type LockCommand } from '../../src/locks/index.js';
import { Driver, X } from './helpers.js';

const TOKEN_RULE = `token must be in [1, ${Number.MAX_SAFE_INTEGER}]`;
const VALUE_TOO_LONG = `value is longer than ${API_BOUNDS.electionValueLengthMax}`;
const ENTRY_RULE = 'each session entry must be [sessionId, expiresAtMs]';
const SESSIONS_RULE = `sessions must be an array of 1 to ${CHECKPOINT_SESSIONS_MAX} entries`;
const longValue = 'v'.repeat(API_BOUNDS.electionValueLengthMax + 1);
const longId = 's'.repeat(DEFAULT_LEASE_TABLE_LIMITS.idLengthMax + 1);
const longOwner = 'o'.repeat(DEFAULT_LEASE_TABLE_LIMITS.nameLengthMax + 1);
const checkpoint = (sessions: unknown): unknown => ({ type: 'checkpointSessions', sessions });

/** table: lock L held by a with token 1, and session s1 of owner a. */
function table(): Driver {
  const d = new Driver();
  d.apply(X('L', 'a'));
  d.apply({ type: 'createSession', sessionId: 's1', ttlMs: 60_000, owner: 'a' });
  return d;
}

describe('bad_request names the field at fault', () => {
  // [what is wrong, the command, the message]
  const cases: [string, unknown, string][] = [
    ['acquire: an empty sessionId', X('M', 'a', { ttlMs: undefined, sessionId: '' }), 'sessionId must be a non-empty string'],
    ['acquire: a sessionId too long', X('M', 'a', { ttlMs: undefined, sessionId: longId }), `sessionId is longer than ${longId.length - 1}`],
    ['acquire: an election value too long', X('M', 'a', { value: longValue }), VALUE_TOO_LONG],
    ['proclaim: an empty name', { type: 'proclaim', name: '', owner: 'a', token: 1, value: 'v' }, 'name must be a non-empty string'],
    ['proclaim: token 0', { type: 'proclaim', name: 'L', owner: 'a', token: 0, value: 'v' }, TOKEN_RULE],
    ['proclaim: a value too long', { type: 'proclaim', name: 'L', owner: 'a', token: 1, value: longValue }, VALUE_TOO_LONG],
    ['release: an empty name', { type: 'release', name: '', owner: 'a', token: 1 }, 'name must be a non-empty string'],
    ['renew: an empty name', { type: 'renew', name: '', owner: 'a', token: 1 }, 'name must be a non-empty string'],
    ['renew: token 0 (no ttlMs)', { type: 'renew', name: 'L', owner: 'a', token: 0 }, TOKEN_RULE],
    ['createSession: an empty owner', { type: 'createSession', sessionId: 's2', ttlMs: 5_000, owner: '' }, 'owner must be a non-empty string'],
    ['cancelWait: an owner too long', { type: 'cancelWait', name: 'L', waiterId: 'w', owner: longOwner }, `owner is longer than ${longOwner.length - 1}`],
    ['checkpointSessions: no entries', checkpoint([]), SESSIONS_RULE],
    ['checkpointSessions: one entry too many', checkpoint(Array.from({ length: CHECKPOINT_SESSIONS_MAX + 1 }, () => ['s1', 1])), SESSIONS_RULE],
    ['checkpointSessions: an entry of one field', checkpoint([['s1']]), ENTRY_RULE],
    ['checkpointSessions: an entry of three fields', checkpoint([['s1', 5, 6]]), ENTRY_RULE],
    ['checkpointSessions: an entry that is a two-character string', checkpoint(['s1']), ENTRY_RULE],
    ['checkpointSessions: a bad entry after a good one', checkpoint([['s1', 5], ['', 5]]), 'id must be a non-empty string'],
  ];
  it.each(cases)('%s', (_what, cmd, message) => {
    const d = table();
    expect(d.apply(cmd as LockCommand).result).toEqual({ ok: false, error: 'bad_request', message });
  });
});

describe('a field a command does not need is not checked', () => {
  it('createSession without an owner creates an ownerless session', () => {
    const d = table();
    expect(d.apply({ type: 'createSession', sessionId: 's2', ttlMs: 5_000 }).result).toMatchObject({ ok: true, sessionId: 's2' });
    expect(d.table.session('s2')).not.toHaveProperty('owner');
  });

  it('cancelWait without an owner cancels whoever waits under that id', () => {
    const d = table();
    d.apply(X('L', 'b', { waitMs: 5_000, requestId: 'w' }));
    expect(d.apply({ type: 'cancelWait', name: 'L', waiterId: 'w' }).result).toEqual({ ok: true, cancelled: true });
    expect(d.table.waiters('L', 10)).toEqual([]);
  });

  it(`checkpointSessions takes exactly ${CHECKPOINT_SESSIONS_MAX} entries`, () => {
    const d = table();
    const t = d.timeMs;
    const entries = Array.from({ length: CHECKPOINT_SESSIONS_MAX }, (_, i) => [i === 0 ? 's1' : `gone${i}`, t + 90_000]);
    expect(d.apply(checkpoint(entries) as LockCommand).result).toEqual({ ok: true, sessionsExtended: 1 });
    expect(d.table.session('s1')?.expiresAtMs).toBe(t + 90_000);
  });

  it('release ignores a ttlMs it does not read (only renew checks one)', () => {
    const d = table();
    const cmd = { type: 'release', name: 'L', owner: 'a', token: 1, ttlMs: 1 };
    expect(d.apply(cmd as LockCommand).result).toMatchObject({ ok: true });
    expect(d.table.get('L')).toBeNull();
  });
});
