import { describe, expect, it } from 'vitest';
import { PendingProposals } from '../../src/node/pending-requests.js';
import { ManualScheduler } from './manual-scheduler.js';
import { OutcomeUnknownError, ProposalDroppedError } from '../../src/node/errors.js';


type Answer = { err: Error | null; result?: unknown };

/**
 * Issue 11, hole 6: after a truncation and a re-election, a new proposal can land at an index an older proposal
 * still waits on. Keyed by index alone, the new one was answered outcome_unknown by the old one's timer, or the old
 * proposer was told the new entry's result. Keyed by (term, index), each proposer hears only of its own entry.
 */
describe('PendingProposals: keyed by (term, index)', () => {
  it("an older proposal's timer does not touch a newer proposal at the same index", () => {
    const s = new ManualScheduler();
    const p = new PendingProposals(s, s, 1_000);
    const old: Answer[] = [];
    const fresh: Answer[] = [];
    p.add(7, 2, (err, result) => old.push({ err, result }));
    const oldTimer = [...s.timers.keys()][0]!;
    s.nowMs = 500;
    p.add(7, 3, (err, result) => fresh.push({ err, result }));
    // The older entry was overwritten under term 3: its proposer learns its entry is gone, at once.
    expect(old).toHaveLength(1);
    expect(old[0]!.err).toBeInstanceOf(ProposalDroppedError);
    // The timer runs at the older one's deadline: the new proposal (its deadline later) keeps waiting.
    s.nowMs = 1_000;
    s.fire(oldTimer);
    expect(fresh).toEqual([]);
    expect(p.size).toBe(1);
    expect(s.timers.size).toBe(1);
    p.settle(7, 3, 'ok');
    expect(fresh).toEqual([{ err: null, result: 'ok' }]);
  });

  it('an entry of another term at the proposal index answers the proposer proposal_dropped, not the result', () => {
    const s = new ManualScheduler();
    const p = new PendingProposals(s, s, 1_000);
    const answers: Answer[] = [];
    p.add(4, 5, (err, result) => answers.push({ err, result }));
    expect(p.settle(4, 6, 'someone else')).toBe(false);
    expect(answers).toHaveLength(1);
    expect(answers[0]!.err).toBeInstanceOf(ProposalDroppedError);
    expect(answers[0]!.result).toBeUndefined();
  });

  it('a proposal whose entry never applies is answered outcome_unknown by its own timer', () => {
    const s = new ManualScheduler();
    const p = new PendingProposals(s, s, 1_000);
    const answers: Answer[] = [];
    p.add(9, 1, (err) => answers.push({ err }));
    s.nowMs = 1_000;
    s.fire([...s.timers.keys()][0]!);
    expect(answers[0]!.err).toBeInstanceOf(OutcomeUnknownError);
    expect(p.size).toBe(0);
    // A late apply of that entry finds nobody to answer.
    expect(p.settle(9, 1, 'late')).toBe(false);
  });

  it('one timer answers timed-out proposals oldest first, and re-arms for the next deadline', () => {
    const s = new ManualScheduler();
    const p = new PendingProposals(s, s, 1_000);
    const answered: number[] = [];
    p.add(1, 1, () => answered.push(1));
    s.nowMs = 100;
    p.add(2, 1, () => answered.push(2));
    s.nowMs = 200;
    p.add(3, 1, (err) => {
      answered.push(3);
      // A caller that proposes again from its callback gets a deadline and a timer of its own.
      if (err !== null) p.add(4, 2, () => answered.push(4));
    });
    expect(s.timers.size).toBe(1);
    s.nowMs = 1_100;
    s.fire([...s.timers.keys()][0]!);
    expect(answered).toEqual([1, 2]);
    expect(p.size).toBe(1);
    s.nowMs = 1_200;
    s.fire([...s.timers.keys()][0]!);
    expect(answered).toEqual([1, 2, 3]);
    expect(p.size).toBe(1);
    expect(s.timers.size).toBe(1);
    s.nowMs = 2_199;
    s.fire([...s.timers.keys()][0]!);
    expect(answered).toEqual([1, 2, 3]);
    s.nowMs = 2_200;
    s.fire([...s.timers.keys()][0]!);
    expect(answered).toEqual([1, 2, 3, 4]);
    expect(s.timers.size).toBe(0);
  });

  it('refuses a proposal at an index a newer term already holds (an index is reused only under a higher term)', () => {
    const p = new PendingProposals(new ManualScheduler(), new ManualScheduler(), 1_000);
    p.add(3, 4, () => {});
    expect(() => p.add(3, 4, () => {})).toThrow(/pending/);
    expect(() => p.add(3, 2, () => {})).toThrow(/pending/);
  });
});

/** How a proposal's outcome reaches its caller once a snapshot or a shutdown overtakes it. */
describe('PendingProposals: snapshots and shutdown', () => {
  it('a snapshot at index i fails the proposals at or below i, and keeps those above waiting', () => {
    const s = new ManualScheduler();
    const p = new PendingProposals(s, s, 1_000);
    const answers: string[] = [];
    for (const index of [4, 5, 6]) p.add(index, 1, (err, result) => answers.push(`${index}:${err?.message ?? String(result)}`));
    p.failThrough(5, new OutcomeUnknownError('covered by a snapshot'));
    expect(answers).toEqual(['4:covered by a snapshot', '5:covered by a snapshot']);
    expect(p.size).toBe(1);
    expect(p.settle(6, 1, 'applied')).toBe(true);
    expect(answers).toEqual(['4:covered by a snapshot', '5:covered by a snapshot', '6:applied']);
    // The shared timer, when it runs past every deadline, finds nobody left to answer and stays disarmed.
    s.nowMs = 1_000;
    s.fire([...s.timers.keys()][0]!);
    expect(answers).toHaveLength(3);
    expect(s.timers.size).toBe(0);
  });

  it('failAll answers every proposal once, and disarms the timer', () => {
    const s = new ManualScheduler();
    const p = new PendingProposals(s, s, 1_000);
    const answers: string[] = [];
    p.add(1, 1, (err) => answers.push(`1:${err?.message}`));
    p.add(2, 1, (err) => answers.push(`2:${err?.message}`));
    expect(s.timers.size).toBe(1);
    p.failAll(new Error('stopping'));
    expect(answers).toEqual(['1:stopping', '2:stopping']);
    expect(s.timers.size).toBe(0);
    expect(p.size).toBe(0);
  });
});
