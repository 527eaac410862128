import { describe, expect, it } from 'vitest';
import { ConfigError, buildNodeConfig } from '../../src/node/node-config.js';

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
