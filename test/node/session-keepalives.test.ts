import { describe, expect, it } from 'vitest';
import { LeaseTable, type CommandResult, type LockCommand } from '../../src/locks/index.js';
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
    expect(k.prepareExpiry(1_800)).toBe(false); // due again, but checkpoints are a quarter lookahead apart
    expect(proposals).toEqual([]);
    expect(k.prepareExpiry(1_925)).toBe(false);
    expect(proposals.map((p) => p.command)).toEqual([{ type: 'checkpointSessions', sessions: [['a', 2_800]] }]);
    k.drop();
    expect(k.leads(2)).toBe(false);
    k.startTerm(4, 1_900);
    expect(k.expiresAtMs('a')).toBe(2_900); // the reset to come, not the lost overlay
  });
});
