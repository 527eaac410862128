import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftLockClient } from '../../src/client/index.js';
import { ProcessCluster, waitForLeader } from '../support/process-cluster.js';
import { FencedCounter } from './fenced-resource.js';

/** Users' problems, as tested examples: the README shows the same code. */

let cluster: ProcessCluster;
beforeAll(async () => {
  cluster = await ProcessCluster.create({ nodes: 3 });
  cluster.startAll();
  await waitForLeader(cluster);
});
afterAll(async () => {
  await cluster?.stop();
});

describe('inventory: 50 concurrent buyers race for a stock of 10', () => {
  it('sells exactly 10, never oversells, and the resource accepts only current fencing tokens', async () => {
    const stock = new FencedCounter({ widget: 10 });
    const clients = Array.from({ length: 5 }, (_, i) => new RaftLockClient({ endpoints: cluster.endpoints(), owner: `shop-${i}` }));
    let purchases = 0;
    const buy = async (buyer: number): Promise<boolean> => {
      const client = clients[buyer % clients.length]!;
      // Each buyer is its own owner, so buyers sharing a client instance exclude each other too.
      return client.withLock(
        'inventory/widget',
        async (lock) => {
          const left = stock.read('widget');
          if (left <= 0) return false;
          await new Promise((r) => setTimeout(r, 2)); // a slow read-modify-write
          if (!stock.write('widget', left - 1, lock.token)) return false;
          purchases++;
          return true;
        },
        { ttlMs: 10_000, waitMs: 30_000, owner: `buyer-${buyer}` },
      );
    };
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => buy(i)));
    expect(results.filter(Boolean)).toHaveLength(10);
    expect(purchases).toBe(10);
    expect(stock.read('widget')).toBe(0);
    expect(stock.rejected).toBe(0);
  });
});

describe('a scheduled job fired by 5 worker processes', () => {
  it('runs each slot exactly once', async () => {
    const worker = resolve(import.meta.dirname, '../../dist/test/examples/scheduled-worker.js');
    expect(existsSync(worker)).toBe(true);
    const out = join(cluster.baseDir, 'job-runs.txt');
    const slots = 6;
    const periodMs = 400;
    const startMs = Date.now() + 1_500;
    const children = Array.from({ length: 5 }, (_, i) =>
      spawn(process.execPath, [worker, cluster.endpoints().join(','), `worker-${i}`, out, String(slots), String(periodMs), String(startMs)], { stdio: ['ignore', 'ignore', 'pipe'] }),
    );
    try {
      const codes = await Promise.all(children.map((c) => new Promise<number | null>((done) => c.once('exit', (code) => done(code)))));
      expect(codes).toEqual([0, 0, 0, 0, 0]);
    } finally {
      for (const c of children) if (c.exitCode === null && c.pid !== undefined) c.kill('SIGKILL');
    }
    const runs = readFileSync(out, 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[0]));
    expect(runs.sort((a, b) => a - b)).toEqual(Array.from({ length: slots }, (_, i) => i));
  });
});
