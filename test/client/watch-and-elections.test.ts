/**
 * Watches (blocking reads) and elections through the real route plugins and
 * the client library, over one in-process lease table: what a blocking read
 * answers and refuses, client.watch, campaign / proclaim / resign / leader /
 * observe. The same features against real 3-node clusters, with a leader
 * killed: test/e2e/elections.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { API_BOUNDS } from '../../src/api/contract.js';
import { LOCK_LOST_EXIT_CODE } from '../../src/cli/client-commands.js';
import { electCommand } from '../../src/cli/elect-command.js';
import { LockHeldError, NotHolderError, RaftLockClient, type LeaderInfo, type LockHandle, type LockWatchEvent } from '../../src/index.js';
import { quickClient, useLockTestCluster, type LockTestCluster } from './lock-test-cluster.js';

const clusterOfTest = useLockTestCluster(2);
const client = (owner: string): RaftLockClient => quickClient(clusterOfTest(), owner);

async function get(path: string): Promise<{ status: number; index: string | null; body: Record<string, unknown> }> {
  const res = await fetch(`${clusterOfTest().node(0).url}${path}`);
  return { status: res.status, index: res.headers.get('x-raftlock-index'), body: (await res.json()) as Record<string, unknown> };
}

describe('blocking reads', () => {
  it('answers at once with the index, blocks on it until a change, and answers a wait that ran out unchanged', async () => {
    const first = await get('/v1/locks/w1');
    expect(first.status).toBe(200);
    const index = first.body['index'] as number;
    expect(index).toBeGreaterThanOrEqual(1);
    expect(first.index).toBe(String(index));
    const started = performance.now();
    const timedOut = await get(`/v1/locks/w1?index=${index}&wait=300ms`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(timedOut.body).toMatchObject({ name: 'w1', holders: [], index });
    const blocked = get(`/v1/locks/w1?index=${index}&wait=20s`);
    await waitUntil(() => clusterOfTest().watching === 1);
    const lock = await client('a').acquire('w1', { ttlMs: 5_000 });
    const woken = await blocked;
    expect(woken.body['index']).toBeGreaterThan(index);
    expect(woken.body['holders']).toMatchObject([{ owner: 'a', token: lock.token }]);
    await lock.release();
  });

  it('does not end a wait for a renewal that changes nothing a watcher sees', async () => {
    const lock = await client('a').acquire('w2', { ttlMs: 5_000 });
    const { body } = await get('/v1/locks/w2');
    let answered = false;
    const blocked = get(`/v1/locks/w2?index=${body['index'] as number}&wait=20s`).then((r) => {
      answered = true;
      return r;
    });
    await waitUntil(() => clusterOfTest().watching === 1);
    await lock.renew();
    await lock.renew();
    await new Promise((r) => setTimeout(r, 200));
    expect(answered).toBe(false);
    expect(clusterOfTest().watching).toBe(1);
    await lock.release();
    expect((await blocked).body['holders']).toEqual([]);
  });

  it('blocks on a prefix and wakes for any lock under it', async () => {
    const { body } = await get('/v1/locks?prefix=jobs/');
    const blocked = get(`/v1/locks?prefix=jobs/&index=${body['index'] as number}&wait=20s`);
    const lock = await client('a').acquire('jobs/1', { ttlMs: 5_000 });
    const woken = await blocked;
    expect(woken.body['locks']).toMatchObject([{ name: 'jobs/1', holders: [{ owner: 'a' }] }]);
    expect(woken.body['index']).toBeGreaterThan(body['index'] as number);
    await lock.release();
  });

  it.each([
    ['/v1/locks/w?index=1&wait=10', 'wait without a unit'],
    ['/v1/locks/w?index=1&wait=301s', 'wait above the bound'],
    ['/v1/locks/w?index=-1', 'a negative index'],
    ['/v1/locks/w?wait=10s', 'wait without index'],
    ['/v1/elections/e?index=x', 'an index that is not a number'],
    ['/v1/locks?prefix=a&index=1&wait=1h', 'an unknown unit'],
  ])('refuses %s (%s) with 400 bad_request', async (path) => {
    const res = await get(path);
    expect(res.status).toBe(400);
    expect(res.body['error']).toBe('bad_request');
    expect(typeof res.body['message']).toBe('string');
  });
});

describe('client.watch', () => {
  it('yields the state at once and then each change, in order', async () => {
    const watcher = client('watcher');
    const controller = new AbortController();
    const seen: LockWatchEvent[] = [];
    const a = client('a');
    let lock: LockHandle | undefined;
    for await (const ev of watcher.watch('wc', { signal: controller.signal, waitMs: 5_000 })) {
      seen.push(ev);
      if (seen.length === 1) lock = await a.acquire('wc', { ttlMs: 5_000 });
      if (seen.length === 2) await lock!.release();
      if (seen.length === 3) break;
    }
    expect(seen.map((e) => e.holders.map((h) => h.owner))).toEqual([[], ['a'], []]);
    expect(seen[1]!.index).toBeGreaterThan(seen[0]!.index);
    expect(seen[2]!.index).toBeGreaterThan(seen[1]!.index);
  });

  it('stops with the abort reason when its signal aborts mid-wait', async () => {
    const controller = new AbortController();
    const it = client('w').watch('idle', { signal: controller.signal, waitMs: 20_000 });
    await it.next();
    const pending = it.next();
    setTimeout(() => controller.abort(new Error('enough')), 100);
    await expect(pending).rejects.toThrow('enough');
  });
});

describe('elections', () => {
  it('elects in campaign order with increasing tokens, proclaims, observes every leader, and resigns', async () => {
    const observer = client('observer');
    const controller = new AbortController();
    const observed: (LeaderInfo | null)[] = [];
    const observing = (async () => {
      try {
        for await (const leader of observer.observe('e1', { signal: controller.signal, waitMs: 5_000 })) observed.push(leader);
      } catch {
        // aborted at the end
      }
    })();
    const c1 = await client('c1').campaign('e1', 'addr-1');
    expect(await observer.leader('e1')).toMatchObject({ owner: 'c1', token: c1.token, value: 'addr-1' });
    const second = client('c2').campaign('e1', 'addr-2');
    await clusterOfTest().waitForRequests((r) => r.route === 'campaign' && r.body['owner'] === 'c2', 1);
    await c1.proclaim('addr-1b');
    expect(c1.value).toBe('addr-1b');
    await c1.resign();
    const c2 = await second;
    expect(c2.token).toBeGreaterThan(c1.token);
    expect(c2.value).toBe('addr-2');
    await expect(c1.proclaim('stale')).rejects.toBeInstanceOf(NotHolderError);
    await c2.resign();
    await waitUntil(() => observed.at(-1) === null && observed.length > 1);
    controller.abort();
    await observing;
    // Each state was at least one read's round trip long here, so the observer saw each, in order.
    expect(observed.map((l) => (l === null ? null : [l.owner, l.value]))).toEqual([null, ['c1', 'addr-1'], ['c1', 'addr-1b'], ['c2', 'addr-2'], null]);
  });

  it('gives up after waitMs with LockHeldError, and refuses a value over the bound', async () => {
    const c1 = await client('c1').campaign('e2', 'x');
    await expect(client('c2').campaign('e2', 'y', { waitMs: 200 })).rejects.toBeInstanceOf(LockHeldError);
    await expect(client('c2').campaign('e2', 'y'.repeat(API_BOUNDS.electionValueLengthMax + 1))).rejects.toMatchObject({ code: 'bad_request' });
    const res = await fetch(`${clusterOfTest().node(0).url}/v1/elections/e2/campaign`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ owner: 'c3', value: 'v', ttlMs: 1_000, sessionId: 's' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('bad_request');
    await c1.resign();
  });
});

async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(cond()).toBe(true);
}

describe('leadership lost', () => {
  it('fires lost, as a lock handle does, when the leadership cannot be renewed', async () => {
    const leadership = await client('c1').campaign('e3', 'v', { ttlMs: 300 });
    await clusterOfTest().waitForRequests((r) => r.route === 'renew', 1);
    clusterOfTest().faultAll('renew', { kind: 'status', status: 503, error: 'no_leader' });
    await new Promise<void>((resolve) => leadership.lost.addEventListener('abort', () => resolve(), { once: true }));
    expect(leadership.isLeader).toBe(false);
    expect(leadership.lost.reason).toBeInstanceOf(Error);
    clusterOfTest().clearFaults();
  });
});

describe('raftlock elect', () => {
  const capture = (): { out: string[]; err: string[]; io: { out: (s: string) => void; err: (s: string) => void } } => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (s) => void out.push(s), err: (s) => void err.push(s) } };
  };
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, RAFTLOCK_ENDPOINTS: clusterOfTest().urls.join(',') });

  it('stops the command with SIGTERM when leadership is lost and exits 75, resigning nothing it no longer holds', async () => {
    const c = capture();
    // The command exits 0 on SIGTERM, and no SIGKILL comes within the test (--kill-grace): only SIGTERM can end it,
    // and elect's exit code is the lost leadership's, not the command's.
    const command = [process.execPath, '-e', "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000)"];
    const pending = electCommand(['flaky-election', 'v1', '--ttl', '300', '--kill-grace', '600000', '--', ...command], env(), c.io);
    await clusterOfTest().waitForRequests((r) => r.route === 'renew', 1);
    clusterOfTest().faultAll('renew', { kind: 'status', status: 503, error: 'no_leader' });
    expect(await pending).toBe(LOCK_LOST_EXIT_CODE);
    expect(LOCK_LOST_EXIT_CODE).toBe(75);
    expect(c.out.join('')).toMatch(/^elected flaky-election token \d+ value v1\n$/);
    expect(c.err.join('')).toMatch(/stopping the command/);
    clusterOfTest().clearFaults();
  });

  it('exits 1 naming the leader when not elected within --wait, and 2 on bad usage', async () => {
    const leader = await client('boss').campaign('taken', 'b');
    const c = capture();
    expect(await electCommand(['taken', 'v', '--wait', '100', '--', process.execPath, '-e', 'process.exit(0)'], env(), c.io)).toBe(1);
    expect(c.err.join('')).toMatch(/not elected leader of taken within 100 ms; boss \(token \d+\) leads/);
    const u = capture();
    expect(await electCommand(['taken', 'v', '--ttl', 'x'], env(), u.io)).toBe(2);
    await leader.resign();
  });
});

describe('observe', () => {
  it('sees every change in order even when changes come faster than its reads', async () => {
    const observer = client('observer');
    const controller = new AbortController();
    const observed: (LeaderInfo | null)[] = [];
    // Every answer to the observer leaves 300 ms after it was read: the changes below come faster than its reads.
    clusterOfTest().faultAll('leader', { kind: 'applyThenDelayReply', ms: 300 });
    const iterator = observer.observe('fast', { signal: controller.signal, waitMs: 5_000 });
    const first = await iterator.next();
    observed.push(first.value as LeaderInfo | null);
    const reading = (async () => {
      for await (const leader of { [Symbol.asyncIterator]: () => iterator }) observed.push(leader);
    })().catch(() => undefined);
    // Back to back, without waiting for the observer: one blocking read may return after several of them.
    const leader = await client('c1').campaign('fast', 'v0');
    for (let i = 1; i <= 5; i++) await leader.proclaim(`v${i}`);
    await leader.resign();
    await waitUntil(() => observed.length === 8);
    controller.abort();
    await reading;
    clusterOfTest().clearFaults();
    expect(observed.map((l) => (l === null ? null : l.value))).toEqual([null, 'v0', 'v1', 'v2', 'v3', 'v4', 'v5', null]);
  });
});
