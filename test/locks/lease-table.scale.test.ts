/**
 * Scale measurements of the lease table: heap bytes per held lock, apply
 * throughput, snapshot/restore time and size. 200,000 locks by default (a few
 * seconds); set LOCKS_SCALE_BIG=1 to also run 1,000,000.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { LeaseTable } from '../../src/locks/index.js';
import { sameBytes } from './helpers.js';

/** A gc() without starting node with --expose-gc; null when the runtime refuses. */
function findGc(): (() => void) | null {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
}

const gc = findGc();

function heapUsed(): number {
  if (gc !== null) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

function fill(table: LeaseTable, n: number, startIndex: number, startMs: number): void {
  for (let i = 0; i < n; i++) {
    // Fresh strings per command, as decoding an entry would produce.
    const out = table.apply(
      { type: 'acquire', name: `tenant-${i % 97}/lock-${i}`, owner: `client-${i % 1000}`, mode: 'exclusive', ttlMs: 30_000, waitMs: 0 },
      { index: startIndex + i, timeMs: startMs + (i >> 10) },
    );
    if (!out.result.ok) throw new Error(`acquire ${i} failed`);
  }
}

function measure(n: number): void {
  const t = new LeaseTable();
  const before = heapUsed();
  const t0 = performance.now();
  fill(t, n, 1, 1_700_000_000_000);
  const applyMs = performance.now() - t0;
  const after = heapUsed();
  const bytesPerLock = (after - before) / n;
  expect(t.stats().locksHeld).toBe(n);

  const s0 = performance.now();
  const snap = t.snapshot();
  const snapshotMs = performance.now() - s0;
  const r0 = performance.now();
  const restored = LeaseTable.restore(snap);
  const restoreMs = performance.now() - r0;
  const again = restored.snapshot();

  console.log(
    `[locks scale] ${n.toLocaleString('en')} held locks: ~${bytesPerLock.toFixed(0)} heap bytes/lock` +
      `${gc === null ? ' (no gc available: upper bound)' : ''}; apply ${(applyMs / 1000).toFixed(2)} s ` +
      `(${Math.round(n / (applyMs / 1000)).toLocaleString('en')}/s); snapshot ${(snap.length / 1e6).toFixed(1)} MB in ` +
      `${snapshotMs.toFixed(0)} ms; restore ${restoreMs.toFixed(0)} ms`,
  );
  expect(sameBytes(again, snap)).toBe(true);
  expect(restored.stats()).toEqual(t.stats());
  const last = `tenant-${(n - 1) % 97}/lock-${n - 1}`;
  expect(restored.get(last)).toEqual(t.get(last));
  expect(restored.get(last)?.holders[0]?.token).toBe(n);
  expect(restored.nextDeadlineMs()).toBe(t.nextDeadlineMs());
  // Budget from the brief: well under 500 bytes per held lock.
  if (gc !== null) expect(bytesPerLock).toBeLessThan(400);

  // Expiring everything at once is one bounded pass.
  const e0 = performance.now();
  const out = restored.apply({ type: 'expire' }, { index: n + 10, timeMs: 1_700_000_000_000 + n + 60_000 });
  console.log(`[locks scale] expire of ${n.toLocaleString('en')} leases in ${(performance.now() - e0).toFixed(0)} ms`);
  expect(out.result).toMatchObject({ holdsExpired: n });
  expect(restored.size).toBe(0);
  expect(restored.nextDeadlineMs()).toBeNull();
}

describe('lease table at scale', () => {
  it('200k held locks: memory, snapshot, restore', () => {
    measure(200_000);
  });

  it.runIf(process.env['LOCKS_SCALE_BIG'] === '1')('1M held locks: memory, snapshot, restore', () => {
    measure(1_000_000);
  });

  it('extendLeases and list stay usable with many locks', () => {
    const t = new LeaseTable();
    fill(t, 50_000, 1, 1_000_000);
    const x0 = performance.now();
    t.apply({ type: 'extendLeases', byMs: 5_000 }, { index: 60_000, timeMs: 1_000_100 });
    const extendMs = performance.now() - x0;
    const l0 = performance.now();
    const page = t.list('tenant-3/', 100);
    const listMs = performance.now() - l0;
    console.log(`[locks scale] extendLeases over 50k locks ${extendMs.toFixed(0)} ms; list over 50k ${listMs.toFixed(0)} ms`);
    expect(page).toHaveLength(100);
    expect(page.map((v) => v.name)).toEqual([...page.map((v) => v.name)].sort());
    // Lock i was granted at index i + 1 and time 1_000_000 + (i >> 10) for 30 s, then extended by 5 s.
    for (const v of page) expect(v.holders[0]!.expiresAtMs).toBe(1_035_000 + ((v.lastToken - 1) >> 10));
  });
});
