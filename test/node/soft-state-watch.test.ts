/**
 * SoftStateWatch on its own: a waiter is settled by the first soft state that
 * satisfies it (the current one included) or by its timeout, and a settled
 * waiter leaves (its timer cancelled, never asked again).
 */
import { describe, expect, it } from 'vitest';
import { SoftStateWatch } from '../../src/node/soft-state-watch.js';
import type { SoftState } from '../../src/raft/index.js';
import { ManualScheduler } from './manual-scheduler.js';

const follower = (leader: string | null, term: number): SoftState => ({ role: 'follower', leader, term });
const ledBy = (id: string) => (s: SoftState) => s.leader === id;

/** outcome is what `p` settled with by the end of this turn (every settled promise's callbacks ran), or 'pending'. */
function outcome(p: Promise<boolean>): Promise<boolean | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);
}

describe('SoftStateWatch', () => {
  it('resolves true at once, arming no timer, when the current state already satisfies the waiter', async () => {
    const scheduler = new ManualScheduler();
    const watch = new SoftStateWatch(scheduler);
    const reached = watch.waitFor(ledBy('n2'), follower('n2', 3), 1_000);
    expect(scheduler.timers.size).toBe(0);
    expect(await outcome(reached)).toBe(true);
  });

  it('settles only the waiters a notified state satisfies, and cancels their timers', async () => {
    const scheduler = new ManualScheduler();
    const watch = new SoftStateWatch(scheduler);
    const toN2 = watch.waitFor(ledBy('n2'), follower('n1', 3), 1_000);
    const toN3 = watch.waitFor(ledBy('n3'), follower('n1', 3), 1_000);
    expect(scheduler.timers.size).toBe(2);
    watch.notify(follower('n2', 4));
    expect([await outcome(toN2), await outcome(toN3)]).toEqual([true, 'pending']);
    expect([...scheduler.timers.values()].map((t) => t.ms)).toEqual([1_000]);
  });

  it('resolves false at its timeout, and a settled waiter is never asked again', async () => {
    const scheduler = new ManualScheduler();
    const watch = new SoftStateWatch(scheduler);
    let asked = 0;
    const reached = watch.waitFor((s) => (asked++, s.leader === 'n9'), follower('n1', 3), 500);
    expect(asked).toBe(1); // the current state
    expect(await outcome(reached)).toBe('pending');
    scheduler.fireAll();
    expect(await outcome(reached)).toBe(false);
    watch.notify(follower('n9', 5));
    expect(asked).toBe(1);
  });

  it('a waiter settled by a state leaves: later states do not ask it', async () => {
    const scheduler = new ManualScheduler();
    const watch = new SoftStateWatch(scheduler);
    let asked = 0;
    const reached = watch.waitFor((s) => (asked++, s.leader === 'n2'), follower('n1', 3), 500);
    watch.notify(follower('n2', 4));
    expect(await outcome(reached)).toBe(true);
    watch.notify(follower('n2', 5));
    expect(asked).toBe(2);
  });
});
