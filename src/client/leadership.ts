import { randomUUID } from 'node:crypto';
import { API_BOUNDS } from '../api/contract.js';
import { BadRequestError, NotHolderError } from './errors.js';
import type { HttpTransport } from './http-transport.js';
import type { LockHandle } from './lock-handle.js';
import type { CallSignal } from './types.js';

/**
 * Leadership is won election `name` (RaftLockClient.campaign): the election's
 * exclusive hold, with a value. Its `token` is the fencing token of this
 * term of leadership, larger than every earlier leader's: pass it to what the
 * leader writes to. `lost` fires, as a lock handle's does, when the
 * leadership may be gone (its lease could not be renewed in time, or the
 * server says it is no longer held), which is when a leader must stop acting
 * as one.
 */
export class Leadership {
  /** name of the election. */
  readonly name: string;
  /** token is this leadership's fencing token. */
  readonly token: number;
  /** owner the leadership was granted to. */
  readonly owner: string;
  /** lost fires (once) when the leadership may be gone; see LockHandle.lost. */
  readonly lost: AbortSignal;
  private currentValue: string;

  /** Built by RaftLockClient.campaign; do not construct yourself. @internal */
  constructor(
    private readonly hold: LockHandle,
    value: string,
    private readonly transport: HttpTransport,
  ) {
    this.name = hold.name;
    this.token = hold.token;
    this.owner = hold.owner;
    this.lost = hold.lost;
    this.currentValue = value;
  }

  /** value is what this leader last proclaimed (its campaign's value at first). */
  get value(): string {
    return this.currentValue;
  }

  /** isLeader is true until the leadership is resigned or lost. */
  get isLeader(): boolean {
    return this.hold.held;
  }

  /**
   * proclaim announces a new value without giving up leadership (etcd's
   * Proclaim). Fenced by the token: throws NotHolderError when this
   * leadership is over (another leader's value is never overwritten).
   */
  async proclaim(value: string, options: CallSignal = {}): Promise<void> {
    checkElectionValue(value);
    if (!this.isLeader) throw new NotHolderError(`leadership of ${this.name} (token ${this.token}) is over`);
    await this.transport.call<{ proclaimed: boolean }>({
      method: 'POST',
      path: `${electionPath(this.name)}/proclaim`,
      body: { owner: this.owner, token: this.token, value, requestId: randomUUID() },
      write: true,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
    this.currentValue = value;
  }

  /** resign gives leadership up (the next candidate in line is elected); true if the server still had it. */
  resign(options: CallSignal = {}): Promise<boolean> {
    return this.hold.release(options);
  }
}

/** checkElectionValue rejects a value the server would reject, before any request. */
export function checkElectionValue(value: string): void {
  if (typeof value !== 'string' || value.length > API_BOUNDS.electionValueLengthMax) {
    throw new BadRequestError(`an election value must be a string of at most ${API_BOUNDS.electionValueLengthMax} characters`);
  }
}

/** electionPath is the URL path of election `name`. */
export function electionPath(name: string): string {
  return `/v1/elections/${encodeURIComponent(name)}`;
}
