import { describe, expect, it } from 'vitest';
import { ConfigError, buildNodeConfig, parseClusterId, parseHostPort, parseIdMap, parseIntFlag } from '../../src/node/node-config.js';

// Peer security is required (peer-security-config.test.ts covers it); these tests are about the bootstrap flags.
const base = { id: 'n1', 'data-dir': '/tmp/d', http: '127.0.0.1:4001', peers: 'n1=127.0.0.1:5001,n2=127.0.0.1:5002', secret: '0123456789abcdef' };

describe('serve flags for bootstrap and cluster identity', () => {
  it('has no default cluster id and no initial cluster state: a restart takes both from its store', () => {
    const c = buildNodeConfig(base, {});
    expect([c.clusterId, c.initialClusterState]).toEqual([null, null]);
  });

  it('takes --initial-cluster-state new with --cluster-id, from flags or the environment', () => {
    expect(buildNodeConfig({ ...base, 'initial-cluster-state': 'new', 'cluster-id': 'c-1' }, {})).toMatchObject({ clusterId: 'c-1', initialClusterState: 'new' });
    const env = { RAFTLOCK_INITIAL_CLUSTER_STATE: 'existing', RAFTLOCK_CLUSTER_ID: '0b6f2b7e-34f5-4d0c-9a43-0b2f7d1e5a11' };
    expect(buildNodeConfig(base, env)).toMatchObject({ clusterId: env.RAFTLOCK_CLUSTER_ID, initialClusterState: 'existing' });
  });

  it('takes an empty variable as unset, as a compose file passes them on every start', () => {
    expect(buildNodeConfig(base, { RAFTLOCK_INITIAL_CLUSTER_STATE: '', RAFTLOCK_CLUSTER_ID: '' })).toMatchObject({ clusterId: null, initialClusterState: null });
  });

  it('refuses new without a cluster id, an unknown state and a malformed id, as usage errors', () => {
    expect(() => buildNodeConfig({ ...base, 'initial-cluster-state': 'new' }, {})).toThrow(/new needs --cluster-id/);
    expect(() => buildNodeConfig({ ...base, 'initial-cluster-state': 'fresh', 'cluster-id': 'c' }, {})).toThrow(ConfigError);
    expect(() => buildNodeConfig({ ...base, 'cluster-id': 'no spaces' }, {})).toThrow(/--cluster-id: bad cluster id/);
  });
});

/** configError is the message buildNodeConfig refuses `flags` with (a ConfigError: the CLI exits 2 with it). */
function configError(flags: Record<string, string>, env: NodeJS.ProcessEnv = {}): string {
  try {
    buildNodeConfig(flags, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).name).toBe('ConfigError'); // what a log or stack trace shows it as
    return (err as Error).message;
  }
  throw new Error('the flags were accepted');
}

describe('host:port, id maps and integers', () => {
  it('takes IPv4, hostnames and bracketed IPv6 (brackets dropped), ports 0..65535, around spaces', () => {
    expect(parseHostPort(' 10.0.0.1:80 ', '--x')).toEqual({ host: '10.0.0.1', port: 80 });
    expect(parseHostPort('node-1.example:65535', '--x')).toEqual({ host: 'node-1.example', port: 65535 });
    expect(parseHostPort('[::1]:0', '--x')).toEqual({ host: '::1', port: 0 });
  });

  it('refuses a missing port, a port past 65535 and junk, naming the flag', () => {
    expect(() => parseHostPort('10.0.0.1', '--http')).toThrow('--http: expected host:port, got "10.0.0.1"');
    expect(() => parseHostPort('10.0.0.1:65536', '--http')).toThrow('--http: port 65536 is out of range');
    expect(() => parseHostPort('a b:1', '--peer')).toThrow(ConfigError);
    expect(() => parseHostPort('x:1:2', '--peer')).toThrow(ConfigError);
  });

  it('parses id=value lists, skipping empty parts, and refuses a part without an id, a bad id and a repeated id', () => {
    expect(parseIdMap(' n1=a , ,n2=b=c,', '--m', (v, id) => `${id}:${v}`)).toEqual({ n1: 'n1:a', n2: 'n2:b=c' });
    expect(() => parseIdMap('n1', '--m', (v) => v)).toThrow('--m: expected id=value, got "n1"');
    expect(() => parseIdMap('=v', '--m', (v) => v)).toThrow('--m: expected id=value, got "=v"');
    expect(() => parseIdMap('n.1=v', '--m', (v) => v)).toThrow('--m: bad node id "n.1"');
    expect(() => parseIdMap(`${'x'.repeat(65)}=v`, '--m', (v) => v)).toThrow(/bad node id/);
    expect(parseIdMap(`${'x'.repeat(64)}=v`, '--m', (v) => v)).toEqual({ ['x'.repeat(64)]: 'v' });
    expect(() => parseIdMap('n1=a,n1=b', '--m', (v) => v)).toThrow('--m: node n1 listed twice');
  });

  it('takes integers within their inclusive bounds only', () => {
    expect(parseIntFlag('5', '--t', 5, 9)).toBe(5);
    expect(parseIntFlag('9', '--t', 5, 9)).toBe(9);
    expect(() => parseIntFlag('4', '--t', 5, 9)).toThrow('--t: 4 is outside 5..9');
    expect(() => parseIntFlag('10', '--t', 5, 9)).toThrow('--t: 10 is outside 5..9');
    for (const bad of ['', '-1', '1.5', '5x', ' 5']) expect(() => parseIntFlag(bad, '--t', 0, 9)).toThrow(`--t: expected an integer, got "${bad}"`);
  });
});

describe('serve flags, each refused with a clear usage error', () => {
  it('names a missing flag and its environment variable, and takes the variable instead of the flag', () => {
    const { id: _id, ...noId } = base;
    expect(configError(noId)).toBe('missing --id (or RAFTLOCK_ID)');
    expect(configError({ ...base, id: '' })).toBe('missing --id (or RAFTLOCK_ID)');
    expect(buildNodeConfig(noId, { RAFTLOCK_ID: 'n2' }).id).toBe('n2');
    const { 'data-dir': _d, ...noDir } = base;
    expect(configError(noDir)).toBe('missing --data-dir (or RAFTLOCK_DATA_DIR)');
    expect(buildNodeConfig(noDir, { RAFTLOCK_DATA_DIR: '/var/d' }).dataDir).toBe('/var/d');
    // A flag wins over its variable.
    expect(buildNodeConfig(base, { RAFTLOCK_ID: 'n2', RAFTLOCK_DATA_DIR: '/var/d' })).toMatchObject({ id: 'n1', dataDir: '/tmp/d' });
  });

  it('reads every setting from its documented environment variable', () => {
    const env = {
      RAFTLOCK_ID: 'n2',
      RAFTLOCK_DATA_DIR: '/env/d',
      RAFTLOCK_HTTP: '127.0.0.1:4002',
      RAFTLOCK_PEER: '0.0.0.0:6002',
      RAFTLOCK_PEERS: 'n1=h1:5001,n2=h2:5002',
      RAFTLOCK_PEER_HTTP: 'n1=h1:4001',
      RAFTLOCK_SECRET: 'fedcba9876543210',
      RAFTLOCK_LOG_LEVEL: 'debug',
      RAFTLOCK_TICK_MS: '20',
      RAFTLOCK_ELECTION_TICKS: '12',
      RAFTLOCK_SNAPSHOT_EVERY: '500',
    };
    expect(buildNodeConfig({}, env)).toMatchObject({
      id: 'n2',
      dataDir: '/env/d',
      http: { host: '127.0.0.1', port: 4002 },
      peerListen: { host: '0.0.0.0', port: 6002 },
      peers: { n1: { host: 'h1', port: 5001 }, n2: { host: 'h2', port: 5002 } },
      peerHttp: { n1: 'http://h1:4001', n2: 'http://127.0.0.1:4002' },
      logLevel: 'debug',
      tickMs: 20,
      electionTicks: 12,
      snapshotEveryEntries: 500,
    });
    const noSecret = { ...env, RAFTLOCK_SECRET: '' };
    expect(buildNodeConfig({}, { ...noSecret, RAFTLOCK_INSECURE: '1' }).peerSecurity).toEqual({ mode: 'insecure' });
    for (const name of ['RAFTLOCK_PEER_CA', 'RAFTLOCK_PEER_CERT', 'RAFTLOCK_PEER_KEY']) {
      expect(configError({}, { ...noSecret, [name]: 'file.pem' })).toBe('peer TLS needs all three of --peer-ca, --peer-cert and --peer-key');
    }
  });

  it('refuses a bad node id, peers that leave this node out, and more than 9 members', () => {
    expect(configError({ ...base, id: 'n 1' })).toBe('--id: bad node id "n 1"');
    expect(configError({ ...base, id: 'n3' })).toBe('--peers must list this node (n3)');
    const nine = Array.from({ length: 9 }, (_, i) => `n${i + 1}=127.0.0.1:${5001 + i}`).join(',');
    expect(buildNodeConfig({ ...base, peers: nine }, {}).peers).toHaveProperty('n9');
    expect(configError({ ...base, peers: `${nine},n10=127.0.0.1:5010` })).toBe('--peers lists 10 members; at most 9 are supported');
    expect(configError({ ...base, peers: 'n1=127.0.0.1' })).toBe('--peers: expected host:port, got "127.0.0.1"');
    expect(configError({ ...base, peers: 'n1=127.0.0.1:5001,n1=127.0.0.1:5002' })).toBe('--peers: node n1 listed twice');
  });

  it('listens for peers at its own --peers address unless --peer says otherwise', () => {
    expect(buildNodeConfig(base, {}).peerListen).toEqual({ host: '127.0.0.1', port: 5001 });
    expect(buildNodeConfig({ ...base, peer: '0.0.0.0:7001' }, {}).peerListen).toEqual({ host: '0.0.0.0', port: 7001 });
    expect(configError({ ...base, peer: '0.0.0.0' })).toBe('--peer: expected host:port, got "0.0.0.0"');
    expect(configError({ ...base, http: 'nowhere' })).toBe('--http: expected host:port, got "nowhere"');
  });

  it('takes --peer-http as URL origins of listed members, adds its own (https with --http-cert, IPv6 bracketed), refuses others', () => {
    const c = buildNodeConfig({ ...base, 'peer-http': 'n2=https://h2:4443/some/path' }, {});
    expect(c.peerHttp).toEqual({ n2: 'https://h2:4443', n1: 'http://127.0.0.1:4001' });
    expect(buildNodeConfig(base, {}).peerHttp).toEqual({ n1: 'http://127.0.0.1:4001' });
    const tls = buildNodeConfig({ ...base, http: '[::1]:4001', 'http-cert': 'c.pem', 'http-key': 'k.pem' }, {});
    expect(tls.peerHttp).toEqual({ n1: 'https://[::1]:4001' });
    expect(tls.http).toEqual({ host: '::1', port: 4001 });
    expect(configError({ ...base, 'peer-http': 'n3=h3:4001' })).toBe('--peer-http names n3, which is not in --peers');
    expect(configError({ ...base, 'peer-http': 'n2' })).toBe('--peer-http: expected id=value, got "n2"');
    expect(configError({ ...base, 'peer-http': 'n2=ftp://h2' })).toBe('--peer-http: URL must be http(s): "ftp://h2"');
    expect(configError({ ...base, 'peer-http': 'n2=http://[bad' })).toBe('--peer-http: bad URL "http://[bad"');
  });

  it('logs at info by default and refuses an unknown level, listing the levels', () => {
    expect(buildNodeConfig(base, {}).logLevel).toBe('info');
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) expect(buildNodeConfig({ ...base, 'log-level': level }, {}).logLevel).toBe(level);
    expect(configError({ ...base, 'log-level': 'verbose' })).toBe('--log-level: one of fatal, error, warn, info, debug, trace, silent');
  });

  it('has the documented timing defaults and bounds', () => {
    expect(buildNodeConfig(base, {})).toMatchObject({ tickMs: 50, electionTicks: 10, snapshotEveryEntries: 10_000 });
    expect(configError({ ...base, 'tick-ms': '4' })).toBe('--tick-ms: 4 is outside 5..1000');
    expect(configError({ ...base, 'tick-ms': '1001' })).toBe('--tick-ms: 1001 is outside 5..1000');
    expect(configError({ ...base, 'election-ticks': '2' })).toBe('--election-ticks: 2 is outside 3..100');
    expect(configError({ ...base, 'election-ticks': '101' })).toBe('--election-ticks: 101 is outside 3..100');
    expect(configError({ ...base, 'snapshot-every': '9' })).toBe('--snapshot-every: 9 is outside 10..100000000');
    expect(configError({ ...base, 'snapshot-every': '100000001' })).toBe('--snapshot-every: 100000001 is outside 10..100000000');
  });

  it('refuses existing without a cluster id, an unknown state by name, and cluster ids past 64 characters', () => {
    expect(configError({ ...base, 'initial-cluster-state': 'existing' })).toMatch(/^--initial-cluster-state existing needs --cluster-id/);
    expect(configError({ ...base, 'initial-cluster-state': 'fresh', 'cluster-id': 'c' })).toBe('--initial-cluster-state: "new" or "existing", not "fresh"');
    expect(parseClusterId('a.b_c-D9', '--cluster-id')).toBe('a.b_c-D9');
    expect(() => parseClusterId('x'.repeat(65), '--cluster-id')).toThrow(/bad cluster id/);
    expect(() => parseClusterId('', '--cluster-id')).toThrow(/bad cluster id/);
  });

  it('passes the peer and HTTP security failures on as usage errors', () => {
    const { secret: _s, ...noSecurity } = base;
    expect(configError(noSecurity)).toMatch(/peer/i);
    expect(configError({ ...base, 'http-cert': 'c.pem' })).toBe('--http-cert and --http-key go together');
    // The auth file's JSON may come in RAFTLOCK_AUTH itself, for containers whose secrets arrive as variables.
    expect(buildNodeConfig(base, { RAFTLOCK_AUTH: '{"tokens":[]}' }).httpSecurity.auth).toEqual({ json: '{"tokens":[]}' });
  });
});
