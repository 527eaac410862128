/**
 * Wall-clock faults for node processes, through Debian's libfaketime: each
 * node runs with LD_PRELOAD=libfaketime and reads its offset from its own
 * timestamp file, so the harness can set, step forward and step back a live
 * node's Date.now() without restarting it. The monotonic clock is left alone
 * (FAKETIME_DONT_FAKE_MONOTONIC=1), as NTP and operators leave it alone: only
 * wall time steps. Offsets come from the run's seed, and a restarted node gets
 * a new one (a replaced machine's clock is no better than the old one's).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SeededRandom } from '../../raft/index.js';

/** Where Debian's faketime package puts the library (`apt-get install faketime`). */
const LIBFAKETIME_PATHS = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1'];

/** A node's wall clock is off by at most this much at (re)start, either way. */
export const BASE_OFFSET_MAX_MS = 3_000;

/** libfaketimePath finds libfaketime, or null when the faketime package is not installed. */
export function libfaketimePath(): string | null {
  return LIBFAKETIME_PATHS.find((p) => existsSync(p)) ?? null;
}

/** formatOffset renders an offset in libfaketime's relative syntax ("+4.250s", "-0.500s"). */
export function formatOffset(offsetMs: number): string {
  const sign = offsetMs < 0 ? '-' : '+';
  return `${sign}${(Math.abs(offsetMs) / 1000).toFixed(3)}s`;
}

/**
 * ClockSkew owns every node's fake wall clock in a run: its timestamp file, its
 * base offset (drawn at each start) and the offset a clock fault sets on top.
 */
export class ClockSkew {
  private readonly baseMs = new Map<string, number>();
  private readonly currentMs = new Map<string, number>();
  private readonly random: SeededRandom;

  constructor(
    private readonly dir: string,
    private readonly libPath: string,
    seed: number,
  ) {
    // A stream of its own, so clock choices do not shift the nemesis plan's.
    this.random = new SeededRandom(seed ^ 0x5eed_c10c);
  }

  /** fileOf is node `id`'s timestamp file. */
  fileOf(id: string): string {
    return join(this.dir, `${id}.faketime`);
  }

  /**
   * envFor draws a fresh base offset for `id` (each start gets one), writes it, and returns the environment that
   * starts a node process under it. libfaketime rereads the file at most once a second.
   */
  envFor(id: string): Record<string, string> {
    const base = this.random.nextInt(2 * BASE_OFFSET_MAX_MS + 1) - BASE_OFFSET_MAX_MS;
    this.baseMs.set(id, base);
    this.write(id, base);
    return {
      LD_PRELOAD: this.libPath,
      FAKETIME_TIMESTAMP_FILE: this.fileOf(id),
      FAKETIME_CACHE_DURATION: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    };
  }

  /** offsetOf is `id`'s current offset from real wall time. */
  offsetOf(id: string): number {
    return this.currentMs.get(id) ?? 0;
  }

  /** set puts `id`'s wall clock `offsetMs` from real time (a step of whatever size that takes). */
  set(id: string, offsetMs: number): void {
    this.write(id, offsetMs);
  }

  /** step moves `id`'s wall clock by `deltaMs` (forward when positive). */
  step(id: string, deltaMs: number): void {
    this.write(id, this.offsetOf(id) + deltaMs);
  }

  /** reset puts `id` back on its base offset (the heal of a clock fault). */
  reset(id: string): void {
    this.write(id, this.baseMs.get(id) ?? 0);
  }

  private write(id: string, offsetMs: number): void {
    this.currentMs.set(id, offsetMs);
    writeFileSync(this.fileOf(id), `${formatOffset(offsetMs)}\n`);
  }
}
