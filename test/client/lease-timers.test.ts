import { describe, expect, it } from 'vitest';
import { LeaseTimers, type LeaseWaker } from '../../src/client/lease-timers.js';
import { monotonicNowMs } from '../../src/client/monotonic-clock.js';

/** waker records when it was woken and resolves `woken`. */
function waker(log: string[], name: string): LeaseWaker & { woken: Promise<number> } {
  let done!: (atMs: number) => void;
  const woken = new Promise<number>((resolve) => (done = resolve));
  return {
    woken,
    wake: () => {
      log.push(name);
      done(monotonicNowMs());
    },
  };
}

describe('LeaseTimers (one timer for every lease keeper)', () => {
  it('wakes entries in due order, never before they are due, and skips cancelled ones', async () => {
    const timers = new LeaseTimers();
    const log: string[] = [];
    const startMs = monotonicNowMs();
    const a = waker(log, 'a');
    const b = waker(log, 'b');
    const c = waker(log, 'c');
    timers.schedule(c, startMs + 60);
    timers.schedule(a, startMs + 20);
    const cancelled = timers.schedule(waker(log, 'x'), startMs + 10);
    timers.schedule(b, startMs + 40);
    timers.cancel(cancelled);
    timers.cancel(cancelled);
    expect(timers.size).toBe(3);
    const [atA, atB, atC] = await Promise.all([a.woken, b.woken, c.woken]);
    expect(log).toEqual(['a', 'b', 'c']);
    expect(atA).toBeGreaterThanOrEqual(startMs + 20 - 1);
    expect(atB).toBeGreaterThanOrEqual(startMs + 40 - 1);
    expect(atC).toBeGreaterThanOrEqual(startMs + 60 - 1);
    expect(timers.size).toBe(0);
  });

  it('re-arms for an entry earlier than the one its timer waits for', async () => {
    const timers = new LeaseTimers();
    const log: string[] = [];
    const late = waker(log, 'late');
    const early = waker(log, 'early');
    const late1 = timers.schedule(late, monotonicNowMs() + 5_000);
    timers.schedule(early, monotonicNowMs() + 5);
    await early.woken;
    expect(log).toEqual(['early']);
    timers.cancel(late1);
    expect(timers.size).toBe(0);
  });

  it('keeps its heap bounded under churn: cancelled entries are dropped, live ones all kept', () => {
    const timers = new LeaseTimers();
    const log: string[] = [];
    const keep = Array.from({ length: 10 }, (_, i) => timers.schedule(waker(log, `k${i}`), monotonicNowMs() + 60_000 + i));
    for (let i = 0; i < 10_000; i++) timers.cancel(timers.schedule(waker(log, 'churn'), monotonicNowMs() + 30_000));
    expect(timers.size).toBe(10);
    expect((timers as unknown as { heap: unknown[] }).heap.length).toBeLessThanOrEqual(2 * 10 + 64 + 1);
    for (const e of keep) timers.cancel(e);
    expect(timers.size).toBe(0);
    expect(log).toEqual([]);
  });
});
