/**
 * SystemName names one system under test; the two Redis variants differ only in persistence. `raftlock-lib` is
 * raftlock driven through the project's own client library (RaftLockClient) instead of the minimal HTTP client.
 */
export type SystemName = 'raftlock' | 'raftlock-lib' | 'etcd' | 'redis-aof' | 'redis-nopersist';

/** ALL_SYSTEMS is every system, in report order (raftlock first: ratios are against it). */
export const ALL_SYSTEMS: readonly SystemName[] = ['raftlock', 'raftlock-lib', 'etcd', 'redis-aof', 'redis-nopersist'];

/** LIB_WORKLOADS_DEFAULT are the workloads `raftlock-lib` runs unless `--lib-workloads` says otherwise. */
export const LIB_WORKLOADS_DEFAULT: readonly string[] = ['uncontended-64'];

/** LoadTarget is what the load process needs to reach one running system. */
export type LoadTarget =
  | { readonly protocol: 'raftlock'; readonly host: string; readonly port: number; readonly client: 'raw' | 'lib'; readonly access?: HttpAccess }
  | { readonly protocol: 'etcd'; readonly host: string; readonly port: number }
  | { readonly protocol: 'redis'; readonly host: string; readonly port: number };

/** HttpAccess is how a client reaches a secured raftlock: HTTPS under `ca` (PEM), a bearer `token`. */
export interface HttpAccess {
  readonly ca?: string;
  readonly token?: string;
}
