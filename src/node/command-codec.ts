import { Packr } from 'msgpackr';
import type { LockCommand } from '../locks/index.js';
import { InvariantError } from '../raft/index.js';

/**
 * A log entry of the lock state machine: the command plus the leader's clock
 * when it was proposed. Time-based state is decided by this stamp, never by a
 * replica's own clock (TigerBeetle's rule; DEVELOPERS.md).
 */
export interface StampedCommand {
  readonly timeMs: number;
  readonly command: LockCommand;
}

const packr = new Packr({ useRecords: false, moreTypes: false });

/** encodeCommand encodes once; the same bytes are logged, replicated and applied. */
export function encodeCommand(timeMs: number, command: LockCommand): Uint8Array {
  return packr.pack([timeMs, command]);
}

/**
 * decodeCommand reverses encodeCommand. A committed entry that does not decode
 * is a broken invariant (it was checksummed on its way to disk), not bad
 * input: the Raft loop stops, as for any other corruption.
 */
export function decodeCommand(data: Uint8Array): StampedCommand {
  const value: unknown = packr.unpack(data);
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'number' || typeof value[1] !== 'object' || value[1] === null) {
    throw new InvariantError('a committed log entry does not decode as a lock command');
  }
  return { timeMs: value[0], command: value[1] as LockCommand };
}
