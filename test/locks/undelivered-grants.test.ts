/**
 * The rule for undoing a grant no attempt of an acquire can deliver (README
 * "A grant nobody can receive is undone", src/locks/undelivered-grants.ts):
 * a waiting acquire with a requestId counts the attempts that may still carry
 * its outcome (the first, plus each retry answered "queued"); each cancelWait
 * by the acquire's owner takes one off; at zero a queued waiter leaves the
 * queue and a grant is released. The golden script testdata/undelivered-grants.txt
 * walks the main cases; these tests pin the edges of who counts and who may cancel.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LeaseTable, type CommandResult, type LockCommand } from '../../src/locks/index.js';
import { Driver, X } from './helpers.js';

/** A waiting acquire of `name` by `owner` with requestId `rid` (10 s lease, 5 s wait). */
const waiting = (name: string, owner: string, rid: string, extra: Partial<Extract<LockCommand, { type: 'acquire' }>> = {}): LockCommand =>
  X(name, owner, { ttlMs: 10_000, waitMs: 5_000, requestId: rid, ...extra });

const cancel = (name: string, waiterId: string, owner?: string): LockCommand =>
  owner === undefined ? { type: 'cancelWait', name, waiterId } : { type: 'cancelWait', name, waiterId, owner };

/** tokenOf is the token of a granted acquire result. */
function tokenOf(r: CommandResult): number {
  if (!(r.ok && 'queued' in r && !r.queued)) throw new Error(`not a grant: ${JSON.stringify(r)}`);
  return r.token;
}

/** holderOf is the single holder of `name` as [owner, holdCount], or null when nobody holds it. */
function holderOf(d: Driver, name: string): [string, number] | null {
  const holders = d.table.get(name)?.holders ?? [];
  expect(holders.length).toBeLessThanOrEqual(1);
  return holders.length === 0 ? null : [holders[0]!.owner, holders[0]!.holdCount];
}

/** queued sets up lock `name` held by x with `rid` of owner w waiting for it; returns x's token. */
function queued(d: Driver, name: string, rid: string): number {
  const token = tokenOf(d.apply(X(name, 'x', { ttlMs: 10_000 })).result);
  expect(d.apply(waiting(name, 'w', rid)).result).toEqual({ ok: true, queued: true, name, waiterId: rid });
  return token;
}

/** granted sets up `rid` of owner w waiting for lock `name`, then hands it the lock. */
function granted(d: Driver, name: string, rid: string): void {
  const token = queued(d, name, rid);
  const out = d.apply({ type: 'release', name, owner: 'x', token });
  expect(out.events).toMatchObject([{ kind: 'granted', waiterId: rid, owner: 'w' }]);
  expect(holderOf(d, name)).toEqual(['w', 1]);
}

const UNDONE = { ok: true, cancelled: true, released: true };
const NOT_CANCELLED = { ok: true, cancelled: false };
const CANCELLED = { ok: true, cancelled: true };

describe('undelivered grants: a queued waiter', () => {
  it('leaves the queue at once when the only attempt waiting for it is gone', () => {
    const d = new Driver();
    queued(d, 'a', 'r1');
    expect(d.apply(cancel('a', 'r1', 'w')).result).toEqual(CANCELLED);
    expect(d.table.get('a')?.waiters).toBe(0);
  });

  it('leaves the queue when every attempt waiting for it is gone, not before', () => {
    const d = new Driver();
    queued(d, 'a', 'r1');
    expect(d.apply(waiting('a', 'w', 'r1')).result).toMatchObject({ queued: true });
    expect(d.apply(waiting('a', 'w', 'r1')).result).toMatchObject({ queued: true });
    expect(d.apply(cancel('a', 'r1', 'w')).result).toEqual(NOT_CANCELLED);
    expect(d.apply(cancel('a', 'r1', 'w')).result).toEqual(NOT_CANCELLED);
    expect(d.table.get('a')?.waiters).toBe(1);
    expect(d.apply(cancel('a', 'r1', 'w')).result).toEqual(CANCELLED);
    expect(d.table.get('a')?.waiters).toBe(0);
  });

  it('does not count a retry that does not wait (waitMs 0): it has no long-poll to answer', () => {
    const d = new Driver();
    queued(d, 'a', 'r1');
    expect(d.apply(waiting('a', 'w', 'r1', { waitMs: 0 })).result).toMatchObject({ queued: true });
    expect(d.apply(cancel('a', 'r1', 'w')).result).toEqual(CANCELLED);
  });

  it('leaves the queue on its owner\'s cancel even after the exactly-once table forgot its requestId', () => {
    const d = Driver.withLimits({ dedupeTtlMs: 1_000 });
    queued(d, 'a', 'r1');
    d.expireAfter(2_000); // the entry of r1 expires, its 5 s wait does not
    expect(d.table.get('a')?.waiters).toBe(1);
    expect(d.apply(cancel('a', 'r1', 'w')).result).toEqual(CANCELLED);
    expect(d.table.get('a')?.waiters).toBe(0);
  });

  it('without a requestId is not counted, even when another request uses its waiter id as requestId', () => {
    const d = new Driver();
    // Waiter ids of acquires without a requestId are their log index: make a
    // request named like the next index and count two attempts of it.
    tokenOf(d.apply(X('other', 'x', { ttlMs: 10_000 })).result);
    const clash = String(d.index + 4);
    d.apply(waiting('other', 'v', clash));
    d.apply(waiting('other', 'v', clash));
    tokenOf(d.apply(X('a', 'x', { ttlMs: 10_000 })).result);
    const r = d.apply(X('a', 'w', { ttlMs: 10_000, waitMs: 5_000 })).result;
    expect(d.index).toBe(Number(clash));
    expect(r).toEqual({ ok: true, queued: true, name: 'a', waiterId: clash });
    expect(d.apply(cancel('a', clash, 'w')).result).toEqual(CANCELLED);
    expect(d.table.get('a')?.waiters).toBe(0);
    // The other request's count is untouched: its two attempts still keep its waiter.
    expect(d.apply(cancel('other', clash, 'v')).result).toEqual(NOT_CANCELLED);
    expect(d.table.get('other')?.waiters).toBe(1);
  });
});

describe('undelivered grants: a grant', () => {
  it('answered to a retry is never undone, even when every long-poll is gone', () => {
    const d = new Driver();
    granted(d, 'a', 'r1');
    expect(d.apply(waiting('a', 'w', 'r1')).result).toMatchObject({ queued: false, owner: 'w' });
    expect(d.apply(cancel('a', 'r1', 'w')).result).toEqual(NOT_CANCELLED);
    expect(d.apply(cancel('a', 'r1', 'w')).result).toEqual(NOT_CANCELLED);
    expect(holderOf(d, 'a')).toEqual(['w', 1]);
  });

  it('of an acquire that did not wait is never undone: its answer went to the client directly', () => {
    const d = new Driver();
    const r = d.apply(X('a', 'w', { ttlMs: 10_000, requestId: 'r1' })).result;
    expect(r).toMatchObject({ ok: true, queued: false, owner: 'w' });
    expect(d.apply(cancel('a', 'r1', 'w')).result).toEqual(NOT_CANCELLED);
    expect(holderOf(d, 'a')).toEqual(['w', 1]);
  });

  it('is not touched by a cancel from another owner: the owner\'s own cancel still undoes it', () => {
    const d = new Driver();
    granted(d, 'a', 'r1');
    expect(d.apply(cancel('a', 'r1', 'intruder')).result).toEqual(NOT_CANCELLED);
    expect(holderOf(d, 'a')).toEqual(['w', 1]);
    expect(d.apply(cancel('a', 'r1', 'w')).result).toEqual(UNDONE);
    expect(d.table.get('a')).toBeNull();
  });

  it('is not touched by a cancel naming another lock: the cancel naming its own lock still undoes it', () => {
    const d = new Driver();
    granted(d, 'a', 'r1');
    tokenOf(d.apply(X('b', 'w', { ttlMs: 10_000 })).result);
    expect(d.apply(cancel('b', 'r1', 'w')).result).toEqual(NOT_CANCELLED);
    expect(holderOf(d, 'a')).toEqual(['w', 1]);
    expect(holderOf(d, 'b')).toEqual(['w', 1]);
    expect(d.apply(cancel('a', 'r1', 'w')).result).toEqual(UNDONE);
    expect(d.table.get('a')).toBeNull();
    expect(holderOf(d, 'b')).toEqual(['w', 1]);
  });

  it('of a waiter queued before counts existed (a v1 snapshot) is never undone, whatever its retries', () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/snapshot-v1-d1d21b0.json', import.meta.url), 'utf8')) as { snapshot: string; appliedIndex: number; nowMs: number };
    const d = new Driver(LeaseTable.restore(new Uint8Array(Buffer.from(fixture.snapshot, 'base64'))), fixture.nowMs);
    d.index = fixture.appliedIndex;
    // Lock x is held by o1 (token 3); r2 of o2 waits first in its queue.
    expect(d.table.get('x')).toMatchObject({ holders: [{ owner: 'o1', token: 3 }], waiters: 2 });
    expect(d.apply(waiting('x', 'o2', 'r2')).result).toEqual({ ok: true, queued: true, name: 'x', waiterId: 'r2' });
    expect(d.apply({ type: 'release', name: 'x', owner: 'o1', token: 3 }).events).toMatchObject([{ kind: 'granted', waiterId: 'r2', owner: 'o2' }]);
    expect(d.apply(cancel('x', 'r2', 'o2')).result).toEqual(NOT_CANCELLED);
    expect(d.apply(cancel('x', 'r2', 'o2')).result).toEqual(NOT_CANCELLED);
    expect(d.table.get('x')?.holders).toMatchObject([{ owner: 'o2' }]);
  });
});
