import { describe, expect, it } from 'vitest';
import { CHECKPOINT_SESSIONS_MAX, LeaseTable, type CommandResult, type LockCommand } from '../../src/locks/index.js';
import { SessionKeepalives } from '../../src/node/session-keepalives.js';

/** A leader's in-memory keepalives (issue 14) over a real table, with proposals and confirmations held by the test. */
function setup() {
  const table = new LeaseTable();
  let index = 0;
  const apply = (command: LockCommand, timeMs: number): CommandResult => table.apply(command, { index: ++index, timeMs }).result;
  const proposals: { command: LockCommand; done: (err: Error | null, result?: CommandResult) => void }[] = [];
  const confirms: ((err: Error | null) => void)[] = [];
  const k = new SessionKeepalives(
    {
      table: () => table,
      propose: (command, done) => proposals.push({ command, done }),
      confirmLeadership: (done) => confirms.push(done),
    },
    500,
  );
  /** commit applies the oldest proposal at `timeMs` and answers it. */
  const commit = (timeMs: number): LockCommand => {
    const p = proposals.shift()!;
    p.done(null, apply(p.command, timeMs));
    return p.command;
  };
  return { table, apply, proposals, confirms, k, commit };
}

describe('SessionKeepalives', () => {
  it('answers only after the leadership confirmation, and holds the expiry in memory, not in the table', () => {
    const { table, apply, confirms, k, commit } = setup();
    apply({ type: 'createSession', sessionId: 's', ttlMs: 3_000 }, 1_000);
    k.startTerm(2, 1_000);
    expect(k.prepareExpiry(1_000)).toBe(false); // the reset first
    expect(commit(1_000)).toEqual({ type: 'restartSessionLeases' });
    const answers: unknown[] = [];
    k.keepalive('s', 2_000, (err, r) => answers.push(err ?? r));
    expect(answers).toEqual([]);
    expect(k.expiresAtMs('s')).toBe(5_000); // written at arrival, before the confirmation
    confirms.shift()!(null);
    expect(answers).toEqual([{ ok: true, sessionId: 's', ttlMs: 3_000, expiresAtMs: 5_000 }]);
    expect(table.session('s')?.expiresAtMs).toBe(4_000); // the log has not seen it
  });

  it('passes on a failed confirmation and refuses a session that is dead by every expiry it knows', () => {
    const { apply, confirms, k, commit } = setup();
    apply({ type: 'createSession', sessionId: 's', ttlMs: 1_000 }, 1_000);
    k.startTerm(2, 1_000);
    k.prepareExpiry(1_000);
    commit(1_000);
    const answers: unknown[] = [];
    k.keepalive('s', 1_500, (err, r) => answers.push(err?.message ?? r));
    confirms.shift()!(new Error('not leader'));
    k.keepalive('s', 2_600, (err, r) => answers.push(err ?? r)); // past the in-memory 2,500
    k.keepalive('nope', 1_600, (err, r) => answers.push(err ?? r));
    for (const c of confirms.splice(0)) c(null);
    expect(answers).toEqual([
      'not leader',
      { ok: false, error: 'session_not_found', sessionId: 's' },
      { ok: false, error: 'session_not_found', sessionId: 'nope' },
    ]);
  });

  it('before its reset applied, a new leader keeps every session alive to base + ttl and proposes no expiry', () => {
    const { apply, confirms, k, proposals } = setup();
    apply({ type: 'createSession', sessionId: 's', ttlMs: 1_000 }, 1_000);
    apply({ type: 'createSession', sessionId: 'later', ttlMs: 5_000 }, 2_500); // table time passed s's stored expiry; no expire removed it
    k.startTerm(3, 2_500);
    expect(k.expiresAtMs('s')).toBe(3_500);
    const answers: unknown[] = [];
    k.keepalive('s', 2_600, (err, r) => answers.push(err ?? r));
    confirms.shift()!(null);
    expect(answers).toEqual([{ ok: true, sessionId: 's', ttlMs: 1_000, expiresAtMs: 3_600 }]);
    expect(k.prepareExpiry(9_000)).toBe(false);
    expect(k.prepareExpiry(9_000)).toBe(false);
    expect(proposals.map((p) => p.command.type)).toEqual(['restartSessionLeases']); // one in flight, not one per check
  });

  it('checkpoints dirty sessions when a stored expiry comes near, and gates expiry until the checkpoint applied', () => {
    const { table, apply, confirms, k, commit, proposals } = setup();
    apply({ type: 'createSession', sessionId: 'a', ttlMs: 3_000 }, 1_000);
    apply({ type: 'createSession', sessionId: 'b', ttlMs: 3_000 }, 1_000);
    k.startTerm(2, 1_000);
    k.prepareExpiry(1_000);
    commit(1_000);
    k.keepalive('a', 2_000, () => {});
    confirms.shift()!(null);
    expect(k.prepareExpiry(3_000)).toBe(true); // a's stored 4,000 is not within 500 ms yet
    expect(proposals).toEqual([]);
    expect(k.prepareExpiry(3_600)).toBe(false); // now it is: checkpoint, and no expiry while it is in flight
    expect(proposals.map((p) => p.command)).toEqual([{ type: 'checkpointSessions', sessions: [['a', 5_000]] }]);
    expect(k.prepareExpiry(4_000)).toBe(false);
    commit(3_600);
    expect(table.session('a')?.expiresAtMs).toBe(5_000);
    expect(k.prepareExpiry(4_000)).toBe(true); // b is due by its stored expiry and nothing in memory says otherwise
  });

  it('a failed checkpoint makes its sessions dirty and due again; a new term forgets the overlay', () => {
    const { apply, confirms, k, commit, proposals } = setup();
    apply({ type: 'createSession', sessionId: 'a', ttlMs: 1_000 }, 1_000);
    k.startTerm(2, 1_000);
    k.prepareExpiry(1_000);
    commit(1_000);
    k.keepalive('a', 1_800, () => {});
    confirms.shift()!(null);
    expect(k.prepareExpiry(1_800)).toBe(false);
    proposals.shift()!.done(new Error('outcome unknown'));
    expect(k.counters.checkpointedSessions).toBe(0);
    expect(k.prepareExpiry(1_800)).toBe(false); // due again, but checkpoints are a quarter lookahead apart
    expect(proposals).toEqual([]);
    expect(k.prepareExpiry(1_925)).toBe(false);
    expect(proposals.map((p) => p.command)).toEqual([{ type: 'checkpointSessions', sessions: [['a', 2_800]] }]);
    k.drop();
    expect(k.leads(2)).toBe(false);
    k.startTerm(4, 1_900);
    expect(k.expiresAtMs('a')).toBe(2_900); // the reset to come, not the lost overlay
  });

  /** leading sets up a leader of term 2 whose reset applied at table time 1,000, with sessions of `ttlMs` created then. */
  function leading(ids: string[], ttlMs: number) {
    const t = setup();
    for (const sessionId of ids) t.apply({ type: 'createSession', sessionId, ttlMs }, 1_000);
    t.k.startTerm(2, 1_000);
    t.k.prepareExpiry(1_000);
    t.commit(1_000);
    return t;
  }

  it('refuses a keepalive that arrives exactly at the expiry it knows: a session is dead at its deadline', () => {
    const { confirms, k } = leading(['s'], 1_000);
    const answers: unknown[] = [];
    k.keepalive('s', 2_000, (err, r) => answers.push(err ?? r));
    confirms.shift()!(null);
    expect(answers).toEqual([{ ok: false, error: 'session_not_found', sessionId: 's' }]);
    expect(k.expiresAtMs('s')).toBe(2_000); // nothing raised in memory
  });

  it('answers session_not_found when the session was deleted before the confirmation came', () => {
    const { apply, confirms, k } = leading(['s'], 1_000);
    const answers: unknown[] = [];
    k.keepalive('s', 1_500, (err, r) => answers.push(err ?? r));
    apply({ type: 'deleteSession', sessionId: 's' }, 1_600);
    confirms.shift()!(null);
    expect(answers).toEqual([{ ok: false, error: 'session_not_found', sessionId: 's' }]);
  });

  it('a reset proposed in an earlier term and applied late does not count as the new term\'s reset', () => {
    const { apply, k, proposals } = setup();
    apply({ type: 'createSession', sessionId: 's', ttlMs: 1_000 }, 1_000);
    k.startTerm(2, 1_000);
    expect(k.prepareExpiry(1_000)).toBe(false);
    const old = proposals.shift()!;
    k.startTerm(3, 1_200);
    old.done(null, { ok: true, sessionsExtended: 1 });
    expect(k.prepareExpiry(5_000)).toBe(false); // this term's reset is still to come
    expect(k.expiresAtMs('s')).toBe(2_200); // base + ttl until then
    expect(proposals.map((p) => p.command)).toEqual([{ type: 'restartSessionLeases' }]);
    expect(k.counters.restarts).toBe(0);
  });

  it('proposes a failed reset again on the next expiry check, and allows no expiry until one applied', () => {
    const { apply, k, proposals, commit } = setup();
    apply({ type: 'createSession', sessionId: 's', ttlMs: 1_000 }, 1_000);
    k.startTerm(2, 1_000);
    expect(k.prepareExpiry(1_000)).toBe(false);
    proposals.shift()!.done(new Error('outcome unknown'));
    expect(k.counters.restarts).toBe(0);
    expect(k.prepareExpiry(1_100)).toBe(false);
    expect(proposals.map((p) => p.command)).toEqual([{ type: 'restartSessionLeases' }]);
    commit(1_100);
    expect(k.counters.restarts).toBe(1);
    expect(k.prepareExpiry(1_200)).toBe(true);
  });

  it('a checkpoint answered after its term ended changes nothing in the next term', () => {
    const { confirms, k, commit, proposals } = leading(['a'], 1_000);
    k.keepalive('a', 1_800, () => {});
    confirms.shift()!(null);
    expect(k.prepareExpiry(1_800)).toBe(false); // the checkpoint is in flight
    const late = proposals.shift()!;
    k.startTerm(3, 1_900);
    expect(k.prepareExpiry(1_900)).toBe(false);
    commit(1_900); // this term's reset
    late.done(new Error('outcome unknown'));
    expect(k.prepareExpiry(2_000)).toBe(true); // neither in flight nor dirty here
    expect(proposals).toEqual([]);
    expect(k.counters.checkpointedSessions).toBe(0);
  });

  it('a checkpoint that applied drops its sessions from memory; a keepalive newer than it stays there and dirty', () => {
    const { table, confirms, k, commit, proposals } = leading(['a', 'b'], 1_000);
    k.keepalive('a', 1_800, () => {});
    k.keepalive('b', 1_800, () => {});
    for (const c of confirms.splice(0)) c(null);
    expect(k.prepareExpiry(1_800)).toBe(false);
    expect(proposals.map((p) => p.command)).toEqual([{ type: 'checkpointSessions', sessions: [['a', 2_800], ['b', 2_800]] }]);
    k.keepalive('b', 1_850, () => {}); // newer than the checkpoint in flight
    commit(1_850);
    expect(k.counters).toMatchObject({ inMemory: 3, checkpoints: 1, checkpointedSessions: 2 });
    table.apply({ type: 'keepalive', sessionId: 'a' }, { index: 100, timeMs: 1_900 }); // the table moves on; memory must not hide it
    expect(k.expiresAtMs('a')).toBe(2_900);
    expect(k.expiresAtMs('b')).toBe(2_850);
    expect(k.prepareExpiry(2_400)).toBe(false); // b's stored 2,800 is within the lookahead: b alone is checkpointed again
    expect(proposals.map((p) => p.command)).toEqual([{ type: 'checkpointSessions', sessions: [['b', 2_850]] }]);
  });

  it('checkpoints at most CHECKPOINT_SESSIONS_MAX sessions a command', () => {
    const ids = Array.from({ length: CHECKPOINT_SESSIONS_MAX + 1 }, (_, i) => `s${i}`);
    const { confirms, k, proposals } = leading(ids, 1_000);
    for (const id of ids) k.keepalive(id, 1_800, () => {});
    for (const c of confirms.splice(0)) c(null);
    expect(k.prepareExpiry(1_800)).toBe(false);
    const sizes = proposals.map((p) => (p.command.type === 'checkpointSessions' ? p.command.sessions.length : -1));
    expect(sizes).toEqual([CHECKPOINT_SESSIONS_MAX, 1]);
    expect(k.counters.checkpoints).toBe(2);
  });

  it('allows no expiry from the very time a dirty session\'s stored expiry comes due, even when its checkpoint must wait', () => {
    const { confirms, k, commit, proposals } = leading(['a', 'c'], 1_000);
    k.keepalive('a', 1_900, () => {});
    confirms.shift()!(null);
    expect(k.prepareExpiry(1_950)).toBe(false); // a's checkpoint
    commit(1_950);
    k.keepalive('c', 1_960, () => {}); // c's stored expiry is 2,000; the next checkpoint may start at 2,075
    confirms.shift()!(null);
    expect(k.prepareExpiry(1_999)).toBe(true);
    expect(k.prepareExpiry(2_000)).toBe(false);
    expect(proposals).toEqual([]);
  });

  it('a keepalive that extends nothing (no later than the stored or in-memory expiry) leaves nothing to checkpoint', () => {
    const { confirms, k, commit, proposals } = leading(['a', 'b'], 1_000);
    k.keepalive('a', 1_000, () => {}); // 1,000 + ttl: what the reset stored
    k.keepalive('b', 1_900, () => {});
    confirms.splice(0).forEach((c) => c(null));
    expect(k.prepareExpiry(1_900)).toBe(false);
    expect(proposals.map((p) => p.command)).toEqual([{ type: 'checkpointSessions', sessions: [['b', 2_900]] }]); // not a
    k.keepalive('b', 1_900, () => {}); // the same expiry again, while it is in flight
    k.keepalive('b', 1_850, () => {}); // an earlier one
    confirms.splice(0).forEach((c) => c(null));
    expect(k.expiresAtMs('b')).toBe(2_900);
    commit(1_900);
    expect(k.prepareExpiry(2_700)).toBe(true); // nothing dirty: a's stored 2,000 is its real expiry
    expect(proposals).toEqual([]);
    expect(k.expiresAtMs('a')).toBe(2_000);
  });

  it('checkpoints exactly CHECKPOINT_SESSIONS_MAX dirty sessions in one command, and no empty one', () => {
    const ids = Array.from({ length: CHECKPOINT_SESSIONS_MAX }, (_, i) => `s${i}`);
    const { confirms, k, proposals } = leading(ids, 1_000);
    for (const id of ids) k.keepalive(id, 1_800, () => {});
    confirms.splice(0).forEach((c) => c(null));
    expect(k.prepareExpiry(1_800)).toBe(false);
    expect(proposals.map((p) => (p.command.type === 'checkpointSessions' ? p.command.sessions.length : -1))).toEqual([CHECKPOINT_SESSIONS_MAX]);
  });

  it('starts no second checkpoint while one is in flight; the newer keepalives wait for the next', () => {
    const { confirms, k, commit, proposals } = leading(['a'], 1_000);
    k.keepalive('a', 1_800, () => {});
    confirms.shift()!(null);
    expect(k.prepareExpiry(1_800)).toBe(false);
    expect(proposals).toHaveLength(1);
    k.keepalive('a', 1_950, () => {});
    confirms.shift()!(null);
    expect(k.prepareExpiry(2_000)).toBe(false);
    expect(proposals).toHaveLength(1);
    commit(2_000);
    expect(k.prepareExpiry(2_000)).toBe(false);
    expect(proposals.map((p) => p.command)).toEqual([{ type: 'checkpointSessions', sessions: [['a', 2_950]] }]);
  });

  it('checkpoints a dirty session from the time its stored expiry is exactly the lookahead away', () => {
    const { confirms, k, proposals } = leading(['a'], 1_000);
    k.keepalive('a', 1_200, () => {}); // a's stored expiry is 2,000, the lookahead 500
    confirms.shift()!(null);
    expect(k.prepareExpiry(1_499)).toBe(true);
    expect(proposals).toEqual([]);
    expect(k.prepareExpiry(1_500)).toBe(false);
    expect(proposals.map((p) => p.command)).toEqual([{ type: 'checkpointSessions', sessions: [['a', 2_200]] }]);
  });

  it('off its term, reports the stored expiry of a session and null for an unknown one', () => {
    const { table, apply, k } = setup();
    apply({ type: 'createSession', sessionId: 's', ttlMs: 1_000 }, 1_000);
    expect(k.expiresAtMs('nope')).toBeNull();
    k.startTerm(2, 1_500); // the reset to come would keep s to 2,500
    expect(k.expiresAtMs('s')).toBe(2_500);
    expect(k.expiresAtMs('nope')).toBeNull();
    k.drop();
    expect(k.expiresAtMs('s')).toBe(table.session('s')?.expiresAtMs);
    expect(k.expiresAtMs('s')).toBe(2_000);
  });

  it('leads no term before startTerm and after drop', () => {
    const { k } = setup();
    expect(k.leads(0)).toBe(false);
    k.startTerm(2, 1_000);
    expect(k.leads(2)).toBe(true);
    expect(k.leads(3)).toBe(false);
    k.drop();
    expect(k.leads(0)).toBe(false);
    expect(k.leads(2)).toBe(false);
  });
});
