import { LeaseTable, type ApplyOutcome, type LeaseTableLimits, type LockCommand } from '../../src/locks/index.js';

/** Driver applies commands to a LeaseTable with consecutive Raft indexes and a settable clock. */
export class Driver {
  index = 0;
  timeMs: number;
  constructor(
    public table: LeaseTable = new LeaseTable(),
    startMs = 1_000_000,
  ) {
    this.timeMs = startMs;
  }

  static withLimits(limits: Partial<LeaseTableLimits>, startMs = 1_000_000): Driver {
    return new Driver(new LeaseTable(limits), startMs);
  }

  /** apply at the current time, at the next index. */
  apply(cmd: LockCommand): ApplyOutcome {
    this.index += 1;
    return this.table.apply(cmd, { index: this.index, timeMs: this.timeMs });
  }

  /** advance the clock by `ms` and apply an 'expire'. */
  expireAfter(ms: number): ApplyOutcome {
    this.timeMs += ms;
    return this.apply({ type: 'expire' });
  }

  /** restore the table from its own snapshot (simulates a restart). */
  reload(): void {
    this.table = LeaseTable.restore(this.table.snapshot());
  }
}

/** sameBytes compares byte content only (msgpackr decorates decoded buffers with a `dataView` property). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** X is an exclusive acquire of `name` by `owner` (1 s lease, no wait), with `extra` fields. */
export const X = (name: string, owner: string, extra: Partial<Extract<LockCommand, { type: 'acquire' }>> = {}): LockCommand => ({
  type: 'acquire',
  name,
  owner,
  mode: 'exclusive',
  ttlMs: 1_000,
  waitMs: 0,
  ...extra,
});

/** S is a shared acquire, like X. */
export const S = (name: string, owner: string, extra: Partial<Extract<LockCommand, { type: 'acquire' }>> = {}): LockCommand =>
  X(name, owner, { mode: 'shared', ...extra });
