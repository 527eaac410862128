import type { HostScheduler, TimerHandle } from '../../src/node/host-io.js';

/**
 * ManualScheduler runs timers only when a test says so and remembers each timer's delay; its monotonic clock moves
 * only when the test sets `nowMs`. Deferred work runs at once.
 */
export class ManualScheduler implements HostScheduler {
  nowMs = 0;
  private next = 1;
  readonly timers = new Map<number, { ms: number; fn: () => void }>();
  monotonicMs(): number {
    return this.nowMs;
  }
  defer(fn: () => void): void {
    fn();
  }
  after(ms: number, fn: () => void): TimerHandle {
    const timerId = this.next++;
    this.timers.set(timerId, { ms, fn });
    return { timerId };
  }
  every(): TimerHandle {
    throw new Error('not used');
  }
  cancel(timer: TimerHandle): void {
    this.timers.delete(timer.timerId);
  }
  /** fire runs one timer, if it is still armed. */
  fire(timerId: number): void {
    const timer = this.timers.get(timerId);
    this.timers.delete(timerId);
    timer?.fn();
  }
  /** fireAll runs every timer still armed (a timer that was cancelled never runs). */
  fireAll(): void {
    const armed = [...this.timers.values()];
    this.timers.clear();
    for (const t of armed) t.fn();
  }
}
