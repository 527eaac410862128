import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockCommand, statusCommand } from '../../src/cli/client-commands.js';
import { ForbiddenError, RaftLockClient, UnauthorizedError } from '../../src/index.js';
import { TokenStore, hashToken } from '../../src/server/auth-tokens.js';
import { captureIo as capture } from '../support/capture-io.js';
import { LockTestCluster } from './lock-test-cluster.js';

/**
 * The client library's `token` option and the CLI's --token /
 * RAFTLOCK_AUTH_TOKEN against nodes with authentication on (the real auth
 * plugin over the in-process table).
 */

const TOKENS = { locker: 'locker-token-0123456789abcdef', reader: 'reader-token-0123456789abcdef' };

let cluster: LockTestCluster;

beforeEach(async () => {
  const store = TokenStore.parse(
    JSON.stringify({
      tokens: {
        [hashToken(TOKENS.locker)]: { principal: 'app', roles: ['reader', 'locker'] },
        [hashToken(TOKENS.reader)]: { principal: 'dashboard', roles: ['reader'] },
      },
    }),
    'test',
  );
  cluster = await LockTestCluster.start(2, Date.now, store);
});

afterEach(async () => {
  await cluster.close();
});

describe('client token option', () => {
  it('sends the token with every call, the leader probe included; the hold is stored under its principal and shown as sent', async () => {
    const client = new RaftLockClient({ endpoints: cluster.urls, token: TOKENS.locker, owner: 'worker-1' });
    try {
      expect(await client.discoverLeader()).toBe(cluster.node(0).url);
      const lock = await client.acquire('auth/a', { ttlMs: 5_000 });
      expect(cluster.holdersOf('auth/a')).toEqual([expect.objectContaining({ owner: 'app/worker-1', token: lock.token })]);
      expect((await client.get('auth/a')).holders).toEqual([expect.objectContaining({ owner: 'worker-1' })]);
      const session = await client.session({ ttlMs: 5_000 });
      expect(session.id.startsWith('app~')).toBe(true);
      await session.acquire('auth/s');
      await session.close();
      await lock.release();
      expect(cluster.holdersOf('auth/a')).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('no token is UnauthorizedError, a token without the role ForbiddenError, and the route never runs', async () => {
    const anonymous = new RaftLockClient({ endpoints: cluster.urls, preferLeader: false });
    const reader = new RaftLockClient({ endpoints: cluster.urls, preferLeader: false, token: TOKENS.reader });
    try {
      await expect(anonymous.get('auth/b')).rejects.toBeInstanceOf(UnauthorizedError);
      await expect(reader.acquire('auth/b', { ttlMs: 5_000 })).rejects.toBeInstanceOf(ForbiddenError);
      expect((await reader.get('auth/b')).holders).toEqual([]);
      expect(cluster.requests.filter((r) => r.route === 'acquire')).toHaveLength(0);
    } finally {
      anonymous.close();
      reader.close();
    }
  });

  it('rejects a token that cannot travel in a header', () => {
    expect(() => new RaftLockClient({ endpoints: cluster.urls, token: 'has space' })).toThrow(/token/);
  });
});

describe('CLI token', () => {
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ ...process.env, RAFTLOCK_ENDPOINTS: cluster.urls.join(','), ...extra });

  it('raftlock lock takes RAFTLOCK_AUTH_TOKEN; its command still gets the fencing token as RAFTLOCK_TOKEN', async () => {
    const c = capture();
    const script = `process.exit(process.env.RAFTLOCK_TOKEN === '1' && process.env.RAFTLOCK_AUTH_TOKEN === '${TOKENS.locker}' ? 7 : 1)`;
    const code = await lockCommand(['deploy', '--ttl', '5000', '--', process.execPath, '-e', script], env({ RAFTLOCK_AUTH_TOKEN: TOKENS.locker }), c.io);
    expect(c.err.join('')).toBe('');
    expect(code).toBe(7);
  });

  it('--token works, and without a token the command says it is unauthorized', async () => {
    const ok = capture();
    expect(await statusCommand(['--token', TOKENS.reader], env(), ok.io)).toBe(0);
    const none = capture();
    expect(await lockCommand(['deploy', '--', process.execPath, '-e', 'process.exit(0)'], env(), none.io)).toBe(1);
    expect(none.err.join('')).toMatch(/bearer token/);
  });
});
