/**
 * A worker of the scheduled-job example: every `periodMs` it computes the
 * current slot and tries to take the lock `job/<slot>` without waiting. The
 * one that gets it runs the job; the lock is never released early, so it
 * keeps every other worker (and any late retry) out for the rest of the slot.
 * Usage: node scheduled-worker.js ENDPOINTS WORKER_ID OUT_FILE SLOTS PERIOD_MS START_MS
 */
import { appendFileSync } from 'node:fs';
import { LockHeldError, RaftLockClient } from '../../src/client/index.js';

const [endpoints, workerId, outFile, slotsRaw, periodRaw, startRaw] = process.argv.slice(2);
if (endpoints === undefined || workerId === undefined || outFile === undefined || slotsRaw === undefined || periodRaw === undefined || startRaw === undefined) {
  process.stderr.write('usage: scheduled-worker ENDPOINTS WORKER_ID OUT_FILE SLOTS PERIOD_MS START_MS\n');
  process.exit(2);
}
const slots = Number(slotsRaw);
const periodMs = Number(periodRaw);
const startMs = Number(startRaw);
const client = new RaftLockClient({ endpoints: endpoints.split(','), owner: workerId });

for (let slot = 0; slot < slots; slot++) {
  // Fire at the slot's start, like a cron timer on every replica.
  const fireAt = startMs + slot * periodMs;
  await new Promise((r) => setTimeout(r, Math.max(0, fireAt - Date.now())));
  try {
    const lock = await client.acquire(`job/${slot}`, { ttlMs: periodMs * 3, waitMs: 0 });
    appendFileSync(outFile, `${slot} ${workerId} ${lock.token}\n`);
    // Deliberately not released: the lock marks the slot as done until it expires.
  } catch (err) {
    if (!(err instanceof LockHeldError)) {
      process.stderr.write(`${workerId} slot ${slot}: ${(err as Error).message}\n`);
      process.exit(1);
    }
  }
}
process.exit(0);
