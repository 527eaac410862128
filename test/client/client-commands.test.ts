import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_LOST_EXIT_CODE, lockCommand, locksCommand, releaseCommand, statusCommand } from '../../src/cli/client-commands.js';
import { RaftLockClient } from '../../src/index.js';
import { LockTestCluster } from './lock-test-cluster.js';

let cluster: LockTestCluster;

beforeEach(async () => {
  cluster = await LockTestCluster.start(2);
});

afterEach(async () => {
  cluster.clearFaults();
  await cluster.close();
});

function capture(): { out: string[]; err: string[]; io: { out: (s: string) => void; err: (s: string) => void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s) => void out.push(s), err: (s) => void err.push(s) } };
}

const env = (): NodeJS.ProcessEnv => ({ ...process.env, RAFTLOCK_ENDPOINTS: cluster.urls.join(',') });
const node = process.execPath;

describe('raftlock lock', () => {
  it('runs the command with the lock and token in its env, releases, and exits with its code', async () => {
    const c = capture();
    const script = "process.exit(process.env.RAFTLOCK_LOCK === 'deploy' && process.env.RAFTLOCK_TOKEN === '1' ? 7 : 1)";
    const code = await lockCommand(['deploy', '--ttl', '5000', '--', node, '-e', script], env(), c.io);
    expect(c.err.join('')).toBe('');
    expect(code).toBe(7);
    expect(cluster.requests.filter((r) => r.route === 'acquire').map((r) => r.body['ttlMs'])).toEqual([5_000]);
    expect(cluster.requests.filter((r) => r.route === 'release')).toHaveLength(1);
    expect(cluster.holdersOf('deploy')).toEqual([]);
  });

  it('holds the lock while the command runs', async () => {
    const c = capture();
    // The child asks the server whether its token is valid and exits 0 only if so.
    const script = `fetch(process.env.URL + '/v1/locks/held/check', {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({token: Number(process.env.RAFTLOCK_TOKEN)})}).then(r => r.json()).then(b => process.exit(b.valid ? 0 : 3), () => process.exit(4))`;
    const code = await lockCommand(['held', '--', node, '-e', script], { ...env(), URL: cluster.node(1).url }, c.io);
    expect(code).toBe(0);
  });

  it('exits 1 with a message when the lock is not acquired within --wait', async () => {
    const holder = await new RaftLockClient({ endpoints: cluster.urls, owner: 'someone-else', preferLeader: false }).acquire('busy', { ttlMs: 5_000 });
    const c = capture();
    const code = await lockCommand(['busy', '--wait', '100', '--', node, '-e', 'process.exit(0)'], env(), c.io);
    expect(code).toBe(1);
    expect(c.err.join('')).toMatch(/lock busy not acquired within 100 ms; held by someone-else \(token 1\)/);
    await holder.release();
  });

  it('stops the command with SIGTERM when the lock is lost', async () => {
    const c = capture();
    const pending = lockCommand(['flaky', '--ttl', '300', '--', node, '-e', 'setInterval(() => {}, 1000)'], env(), c.io);
    await cluster.waitForRequests((r) => r.route === 'renew', 1);
    cluster.faultAll('renew', { kind: 'status', status: 503, error: 'no_leader' });
    // Its own exit code, not the 143 of a command that died of SIGTERM.
    expect(await pending).toBe(LOCK_LOST_EXIT_CODE);
    expect(LOCK_LOST_EXIT_CODE).toBe(75);
    expect(c.err.join('')).toMatch(/lock flaky \(token 1\) lost: .*stopping the command \(SIGTERM/);
  });

  it('follows up with SIGKILL after --kill-grace when the command ignores SIGTERM', async () => {
    const c = capture();
    // The child says it is ready (SIGTERM handler installed) by asking for its lock's state.
    const script = `process.on('SIGTERM', () => {}); fetch(process.env.URL + '/v1/locks/stubborn').then(() => {}); setInterval(() => {}, 1000)`;
    const pending = lockCommand(['stubborn', '--ttl', '2000', '--kill-grace', '200', '--', node, '-e', script], { ...env(), URL: cluster.node(1).url }, c.io);
    // A lease long enough that a loaded machine cannot lose it before the child asks (at 300 ms it was lost first, under
    // mutation runs, and the child was killed before its request); the loss here is the force-release below.
    await cluster.waitForRequests((r) => r.route === 'get' && r.name === 'stubborn', 1, 30_000);
    await new RaftLockClient({ endpoints: cluster.urls, preferLeader: false }).forceRelease('stubborn');
    expect(await pending).toBe(LOCK_LOST_EXIT_CODE);
  });

  it('exits 127 when the command cannot be started, and releases', async () => {
    const c = capture();
    const code = await lockCommand(['nocmd', '--', '/nonexistent/raftlock-test-binary'], env(), c.io);
    expect(code).toBe(127);
    expect(c.err.join('')).toMatch(/cannot run/);
    expect(cluster.holdersOf('nocmd')).toEqual([]);
  });

  it('rejects bad usage with exit 2 and the usage text', async () => {
    const outOfBounds = [['x', '--ttl', '50', '--', 'true'], ['x', '--ttl', '3600001', '--', 'true'], ['x', '--wait', '300001', '--', 'true']];
    for (const argv of [['--bogus', 'x', '--', 'true'], ['x'], [], ['x', '--ttl', 'soon', '--', 'true'], ...outOfBounds]) {
      const c = capture();
      expect(await lockCommand(argv, env(), c.io)).toBe(2);
      expect(c.err.join('')).toMatch(/usage: raftlock lock NAME/);
    }
    expect(cluster.requests).toHaveLength(0);
  });
});

describe('raftlock status / locks / release', () => {
  it('status prints a table, or JSON with --json; exit 1 when nothing answers', async () => {
    const c = capture();
    expect(await statusCommand(['--endpoints', cluster.urls.join(',')], {}, c.io)).toBe(0);
    const table = c.out.join('');
    expect(table.split('\n')[0]).toMatch(/^ENDPOINT\s+ID\s+ROLE\s+TERM\s+LEADER/);
    expect(table).toMatch(/n1\s+leader\s+1\s+n1/);
    expect(table).toMatch(/n2\s+follower\s+1\s+n1/);

    const j = capture();
    expect(await statusCommand(['--json'], env(), j.io)).toBe(0);
    const parsed = JSON.parse(j.out.join('')) as Array<{ endpoint: string; status?: { role: string } }>;
    expect(parsed.map((p) => p.status?.role)).toEqual(['leader', 'follower']);

    const urls = cluster.urls;
    await cluster.stopNode(0);
    await cluster.stopNode(1);
    const down = capture();
    expect(await statusCommand(['--endpoints', urls.join(',')], {}, down.io)).toBe(1);
    expect(down.out.join('')).toMatch(/unreachable/);
  });

  it('locks lists holders by prefix, as a table or JSON', async () => {
    const client = new RaftLockClient({ endpoints: cluster.urls, owner: 'me', preferLeader: false });
    const a = await client.acquire('svc/a', { ttlMs: 5_000 });
    const b = await client.acquire('other', { ttlMs: 5_000 });
    const c = capture();
    expect(await locksCommand(['--prefix', 'svc/'], env(), c.io)).toBe(0);
    const lines = c.out.join('').trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+MODE\s+HOLDERS\s+WAITERS\s+LAST_TOKEN$/);
    expect(lines.slice(1)).toHaveLength(1);
    expect(lines[1]).toMatch(/^svc\/a\s+exclusive\s+me#1 \(\d+ ms\)\s+0\s+1$/);
    const j = capture();
    expect(await locksCommand(['--json', '--limit', '10'], env(), j.io)).toBe(0);
    expect((JSON.parse(j.out.join('')) as Array<{ name: string }>).map((l) => l.name)).toEqual(['other', 'svc/a']);
    const none = capture();
    expect(await locksCommand(['--prefix', 'zzz'], env(), none.io)).toBe(0);
    expect(none.out.join('')).toBe('(no locks)\n');
    expect(await locksCommand(['--limit', 'many'], env(), capture().io)).toBe(2);
    await a.release();
    await b.release();
  });

  it('release needs --force (exit 2 without), then force-releases', async () => {
    const holder = await new RaftLockClient({ endpoints: cluster.urls, preferLeader: false }).acquire('stuck', { ttlMs: 5_000 });
    const c = capture();
    expect(await releaseCommand(['stuck'], env(), c.io)).toBe(2);
    expect(c.err.join('')).toMatch(/--force/);
    expect(cluster.holdersOf('stuck')).toHaveLength(1);
    const f = capture();
    expect(await releaseCommand(['stuck', '--force'], env(), f.io)).toBe(0);
    expect(f.out.join('')).toBe('released stuck: 1 holder(s) and 0 waiter(s) removed\n');
    expect(cluster.holdersOf('stuck')).toEqual([]);
    expect(await holder.release()).toBe(false);
    expect(await releaseCommand([], env(), capture().io)).toBe(2);
  });
});
