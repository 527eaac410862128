/**
 * Measurements (printed, with loose bounds so a pathological regression fails):
 * synced batch latency, and writing + loading a 50 MB snapshot.
 */

import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/raft/types.js';
import { RaftStorage } from '../../src/storage/index.js';
import { entry, OPTS, withTempDir } from './helpers.js';

describe('storage performance', () => {
  it('median synced save of 10 entries of 100 bytes', async () => {
    await withTempDir(async (dir) => {
      const samples: number[] = [];
      const { storage } = await RaftStorage.open(dir, { ...OPTS, onSyncMs: (ms) => samples.push(ms) });
      const wall: number[] = [];
      let index = 1;
      for (let i = 0; i < 200; i++) {
        const es: Entry[] = [];
        for (let k = 0; k < 10; k++) es.push(entry(index++, 1, 100));
        const t0 = performance.now();
        await storage.save({ entries: es, hardState: { term: 1, vote: 'n1', commit: index - 11 } });
        wall.push(performance.now() - t0);
      }
      await storage.close();
      const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
      const q = (xs: number[], p: number) => sorted(xs)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
      expect(samples.length).toBe(200);
      console.log(
        `synced save (10 x 100 B): median ${q(wall, 0.5).toFixed(3)} ms, p99 ${q(wall, 0.99).toFixed(3)} ms ` +
          `(LevelDB batch+fsync alone: median ${q(samples, 0.5).toFixed(3)} ms)`,
      );
      expect(q(wall, 0.5)).toBeLessThan(100);
    });
  });

  it('writes and loads a 50 MB snapshot', async () => {
    await withTempDir(async (dir) => {
      const data = new Uint8Array(50 << 20);
      for (let i = 0; i < data.length; i += 4096) data[i] = (i >>> 12) & 0xff; // mostly zeros, but not constant
      const { storage } = await RaftStorage.open(dir, OPTS);
      await storage.save({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: null, commit: 2 } });
      const t0 = performance.now();
      await storage.saveSnapshot({ meta: { index: 2, term: 1, config: { voters: ['n1'], learners: [], members: [] } }, data });
      const writeMs = performance.now() - t0;
      await storage.close();
      const t1 = performance.now();
      const r = await RaftStorage.open(dir, OPTS);
      const loadMs = performance.now() - t1;
      await r.storage.close();
      // Second open: the data now sits in tables (the first open replayed the log).
      const t2 = performance.now();
      const r2 = await RaftStorage.open(dir, OPTS);
      const reloadMs = performance.now() - t2;
      await r2.storage.close();
      expect(r.snapshot?.data.length).toBe(data.length);
      expect(Buffer.compare(Buffer.from(r2.snapshot!.data), Buffer.from(data))).toBe(0);
      console.log(`50 MB snapshot: write ${writeMs.toFixed(0)} ms, first load (log replay) ${loadMs.toFixed(0)} ms, load from tables ${reloadMs.toFixed(0)} ms`);
      expect(writeMs + loadMs + reloadMs).toBeLessThan(60_000);
    });
  });
});
