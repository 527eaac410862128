import { describe, expect, it } from 'vitest';
import { PendingReads } from '../../src/node/pending-requests.js';
import { ManualScheduler } from './manual-scheduler.js';
import { NotLeaderError, OutcomeUnknownError } from '../../src/node/errors.js';


/**
 * ReadIndex (thesis §6.4): a read is answered only once its node has applied its read index, which the core
 * confirms first; it is answered exactly once, and its timer is gone once it is answered.
 */
describe('PendingReads: a read is served only at or past its confirmed read index', () => {
  it('waits for the confirmation, then for the apply of exactly its read index', () => {
    const s = new ManualScheduler();
    const reads = new PendingReads(s);
    const answers: (Error | null)[] = [];
    reads.add('n1:1', 500, () => null, (err) => answers.push(err));
    expect(reads.size).toBe(1);
    expect([...s.timers.values()].map((t) => t.ms)).toEqual([500]);
    // Not confirmed yet: however far this node has applied, the read does not know its index.
    reads.settle(1_000);
    expect(answers).toEqual([]);
    reads.confirmed('n1:1', 10);
    reads.settle(9);
    expect(answers).toEqual([]);
    reads.settle(10);
    expect(answers).toEqual([null]);
    expect(reads.size).toBe(0);
    // Answered: its timer is cancelled and a later settle does not answer it again.
    expect(s.timers.size).toBe(0);
    reads.settle(11);
    expect(answers).toEqual([null]);
  });

  it('answers a read whose index is not applied in time not_leader, naming the leader known then', () => {
    const s = new ManualScheduler();
    const reads = new PendingReads(s);
    const answers: (Error | null)[] = [];
    let leader: string | null = 'n1';
    reads.add('n1:1', 500, () => leader, (err) => answers.push(err));
    reads.confirmed('n1:1', 10);
    leader = 'n3';
    s.fireAll();
    expect(answers).toHaveLength(1);
    expect(answers[0]).toBeInstanceOf(NotLeaderError);
    expect(answers[0]!.message).toMatch(/the leader is n3/);
    expect(reads.size).toBe(0);
    // A late apply finds nobody to answer.
    reads.settle(10);
    expect(answers).toHaveLength(1);
  });

  it('a confirmation for an unknown context changes nothing; failAll answers every read once', () => {
    const s = new ManualScheduler();
    const reads = new PendingReads(s);
    const answers: string[] = [];
    reads.add('a', 500, () => null, (err) => answers.push(`a:${err?.message ?? 'ok'}`));
    reads.add('b', 500, () => null, (err) => answers.push(`b:${err?.message ?? 'ok'}`));
    reads.confirmed('zzz', 1);
    reads.settle(100);
    expect(answers).toEqual([]);
    reads.failAll(new Error('gone'));
    expect(answers).toEqual(['a:gone', 'b:gone']);
    expect(reads.size).toBe(0);
    expect(s.timers.size).toBe(0);
  });

  it('refuses a context that is still pending', () => {
    const reads = new PendingReads(new ManualScheduler());
    reads.add('a', 500, () => null, () => {});
    expect(() => reads.add('a', 500, () => null, () => {})).toThrow(/reused/);
  });
});
