/**
 * Leader election and watches against a real 3-node cluster of `raftlock
 * serve` processes: a campaign that waits through a kill -9 of the Raft
 * leader still completes, with a fencing token above every earlier
 * leadership's; an observer sees every leadership change in order, across
 * the kill (paced around it, back to back after it); a blocking read through a follower carries the index; and
 * `raftlock elect` runs a command while leader and resigns at its exit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftLockClient, type LeaderInfo, type Leadership } from '../../src/client/index.js';
import { ProcessCluster, httpJson, runCli, startedLeaderAndFollower, waitFor, waitForLeader } from '../support/process-cluster.js';

let cluster: ProcessCluster;
let followerUrl: string;

beforeAll(async () => {
  cluster = await ProcessCluster.create({ nodes: 3 });
  ({ followerUrl } = await startedLeaderAndFollower(cluster));
});

afterAll(async () => {
  await cluster?.stop();
});

function client(owner: string): RaftLockClient {
  // Generous retries: these clients must ride out a leader election.
  return new RaftLockClient({ endpoints: cluster.endpoints(), owner, maxRetries: 12, requestTimeoutMs: 5_000, callTimeoutMs: 60_000 });
}

/** summary is what the observer test compares: who leads, under which token, with which value. */
const summary = (l: LeaderInfo | null): string => (l === null ? 'none' : `${l.owner}#${l.token}=${l.value}`);

describe('an election across a kill -9 of the Raft leader', () => {
  it('completes a waiting campaign with a larger token, and its observer sees every change in order', async () => {
    const observed: (LeaderInfo | null)[] = [];
    const stopObserving = new AbortController();
    const observing = (async () => {
      for await (const leader of client('observer').observe('scheduler', { signal: stopObserving.signal, waitMs: 5_000 })) observed.push(leader);
    })().catch((err: unknown) => {
      if (!stopObserving.signal.aborted) throw err;
    });
    const expected: string[] = ['none'];
    /** seen waits until the observer has seen `n` states: each change below happens only after the last was observed. */
    const seen = (n: number): Promise<true> => waitFor(`the observer to see ${n} states`, async () => (observed.length >= n ? true : undefined), 30_000);
    await seen(1);

    const c1 = await client('c1').campaign('scheduler', 'host-1', { ttlMs: 10_000 });
    expected.push(`c1#${c1.token}=host-1`);
    await seen(2);
    await c1.proclaim('host-1:8080');
    expected.push(`c1#${c1.token}=host-1:8080`);
    await seen(3);

    // c2 waits in line; the Raft leader dies while it waits.
    let c2: Leadership | undefined;
    const campaigning = client('c2')
      .campaign('scheduler', 'host-2', { ttlMs: 10_000 })
      .then((l) => (c2 = l));
    await waitFor('c2 to wait in line', async () => ((await httpJson(`${followerUrl}/v1/locks/scheduler`)).body.waiters === 1 ? true : undefined));
    const oldLeader = await waitForLeader(cluster);
    await cluster.kill(oldLeader, 'SIGKILL');
    await waitForLeader(cluster, 30_000, [oldLeader]);
    expect(c1.lost.aborted).toBe(false);
    expect(c2).toBeUndefined();

    await c1.resign();
    await campaigning;
    expect(c2!.token).toBeGreaterThan(c1.token);
    expect(c2!.value).toBe('host-2');
    expected.push(`c2#${c2!.token}=host-2`);
    await seen(4);
    // The deposed leader's token proclaims nothing.
    await expect(c1.proclaim('stale')).rejects.toMatchObject({ code: 'not_holder' });
    // Back to back, without waiting for the observer: the member it reads from lists every change after its index.
    for (const port of [9090, 9091, 9092]) {
      await c2!.proclaim(`host-2:${port}`);
      expected.push(`c2#${c2!.token}=host-2:${port}`);
    }
    expect(await client('reader').leader('scheduler')).toMatchObject({ owner: 'c2', token: c2!.token, value: 'host-2:9092' });
    await c2!.resign();
    expected.push('none');
    await seen(expected.length);

    stopObserving.abort();
    await observing;
    expect(observed.map(summary)).toEqual(expected);
    const tokens = observed.filter((l): l is LeaderInfo => l !== null).map((l) => l.token);
    expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
    cluster.start(oldLeader);
    await waitForLeader(cluster, 30_000);
  });
});

describe('watches through a follower', () => {
  it('blocks until the lock changes and relays the index header', async () => {
    const first = await httpJson(`${followerUrl}/v1/locks/watched`);
    expect(first.status).toBe(200);
    const index = first.body.index as number;
    expect(first.headers.get('x-raftlock-index')).toBe(String(index));
    const blocked = httpJson(`${followerUrl}/v1/locks/watched?index=${index}&wait=20s`, 'GET', undefined, 30_000);
    // Parked or not yet arrived, the read must answer with the acquire: its entry comes after `index` either way.
    const lock = await client('w').acquire('watched', { ttlMs: 10_000 });
    const woken = await blocked;
    expect(woken.status).toBe(200);
    expect(woken.body.index).toBeGreaterThan(index);
    expect(woken.headers.get('x-raftlock-index')).toBe(String(woken.body.index));
    expect(woken.body.holders).toMatchObject([{ owner: 'w', token: lock.token }]);
    await lock.release();
    const refused = await httpJson(`${followerUrl}/v1/locks/watched?index=${index}&wait=10m`);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('bad_request');
  });
});

describe('raftlock elect', () => {
  it('runs the command while leader with its token, and resigns when it exits', async () => {
    const env = { ...process.env, RAFTLOCK_ENDPOINTS: cluster.endpoints().join(',') };
    const script = 'console.log("token=" + process.env.RAFTLOCK_TOKEN + " value=" + process.env.RAFTLOCK_VALUE); process.exit(3)';
    const run = await runCli(['elect', 'cli-election', '10.1.2.3', '--', process.execPath, '-e', script], 60_000, env);
    expect(run.code).toBe(3);
    const token = /elected cli-election token (\d+) value 10\.1\.2\.3/.exec(run.output)?.[1];
    expect(token).toBeDefined();
    expect(run.output).toContain(`token=${token} value=10.1.2.3`);
    expect(await client('reader').leader('cli-election')).toBeNull();
    const usage = await runCli(['elect', 'only-a-name'], 20_000, env);
    expect(usage.code).toBe(2);
    expect(usage.output).toContain('missing VALUE');
  });
});
