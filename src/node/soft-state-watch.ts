/**
 * SoftStateWatch lets a caller await a change of this member's role or leader
 * (a leadership transfer completing) instead of polling: the host reports
 * every change of its soft state, and each waiter is settled by the first
 * state that satisfies it, or by its timeout.
 */
import type { SoftState } from '../raft/index.js';
import type { HostScheduler, TimerHandle } from './host-io.js';

interface Waiter {
  readonly accepts: (soft: SoftState) => boolean;
  readonly settle: (reached: boolean) => void;
  readonly timer: TimerHandle;
}

/** SoftStateWatch fans the host's soft-state changes out to waiters; call notify() from the host's onSoftState. */
export class SoftStateWatch {
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly scheduler: HostScheduler) {}

  /** notify settles every waiter that `soft` satisfies. */
  notify(soft: SoftState): void {
    for (const w of [...this.waiters]) if (w.accepts(soft)) w.settle(true);
  }

  /** waitFor resolves true once a state satisfies `accepts` (`current` is checked first), false after `timeoutMs`. */
  waitFor(accepts: (soft: SoftState) => boolean, current: SoftState, timeoutMs: number): Promise<boolean> {
    if (accepts(current)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        accepts,
        settle: (reached) => {
          if (!this.waiters.delete(waiter)) return;
          this.scheduler.cancel(waiter.timer);
          resolve(reached);
        },
        timer: this.scheduler.after(timeoutMs, () => waiter.settle(false)),
      };
      this.waiters.add(waiter);
    });
  }
}
