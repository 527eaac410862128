/**
 * openMemberStore's bootstrap rules (etcd's --initial-cluster-state; issue 13):
 * an empty data dir never forms or joins a cluster by itself, `new` creates
 * the founding configuration, `existing` a store with no configuration (a
 * joining member cannot vote until the leader tells it the configuration,
 * thesis §4.1), and an existing store's cluster id is authoritative. On a
 * real LevelDB store in a temporary directory.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openMemberStore, StartRefusedError, type MemberStoreOptions } from '../../src/node/member-store.js';
import { withTempDir } from '../storage/helpers.js';

const VOTERS = ['n1', 'n2', 'n3'];

function opts(dataDir: string, o: Partial<MemberStoreOptions>): MemberStoreOptions {
  return { id: 'n1', dataDir, clusterId: null, initialClusterState: null, voters: VOTERS, ...o };
}

/** opened opens the store, closes it, and returns what the member would start with. */
async function opened(o: MemberStoreOptions) {
  const r = await openMemberStore(o);
  await r.storage.close();
  return { clusterId: r.clusterId, created: r.created, voters: r.durable.snapshotMeta.config.voters };
}

describe('openMemberStore', () => {
  it('refuses an empty data dir without both --initial-cluster-state and --cluster-id, creating nothing', async () => {
    await withTempDir(async (dir) => {
      for (const o of [{}, { initialClusterState: 'new' as const }, { initialClusterState: 'existing' as const }, { clusterId: 'c-1' }]) {
        const err = await openMemberStore(opts(dir, o)).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(StartRefusedError);
        expect(err).toMatchObject({ name: 'StartRefusedError', code: 'no_store' });
        // The refusal says why, and what to do in each case an operator can be in.
        for (const advice of [
          `${dir} holds no raftlock store, and a member never creates one by itself`,
          'rejoin as if it were new (it could vote twice in a term and lose acknowledged locks). ',
          'First start of a new cluster: start every founding member with --initial-cluster-state new --cluster-id ID ',
          '(one new id, the same on every member). A new member of a running cluster: add it with `raftlock member add`, ',
          "then start it with --initial-cluster-state existing --cluster-id ID (the running cluster's id). ",
          'If this member lost its data, do not bootstrap it again: ',
          'see "Replace a wiped machine" in the README. A restart of a member needs neither flag: it finds its store.',
        ]) {
          expect((err as Error).message).toContain(advice);
        }
      }
      expect(existsSync(dir)).toBe(false);
    });
  });

  it('creates the founding configuration for new, and no configuration for a member joining an existing cluster', async () => {
    await withTempDir(async (dir) => {
      expect(await opened(opts(dir, { clusterId: 'c-1', initialClusterState: 'new' }))).toEqual({ clusterId: 'c-1', created: true, voters: VOTERS });
    });
    await withTempDir(async (dir) => {
      expect(await opened(opts(dir, { clusterId: 'c-1', initialClusterState: 'existing' }))).toEqual({ clusterId: 'c-1', created: true, voters: [] });
    });
  });

  it('restarts from an existing store with no flags, or the same ones, keeping what the store holds', async () => {
    await withTempDir(async (dir) => {
      await opened(opts(dir, { clusterId: 'c-1', initialClusterState: 'new' }));
      expect(await opened(opts(dir, {}))).toEqual({ clusterId: 'c-1', created: false, voters: VOTERS });
      expect(await opened(opts(dir, { clusterId: 'c-1', initialClusterState: 'new', voters: ['n1'] }))).toEqual({ clusterId: 'c-1', created: false, voters: VOTERS });
    });
  });

  it('refuses a store of another cluster than --cluster-id names, and leaves it closed for the next start', async () => {
    await withTempDir(async (dir) => {
      await opened(opts(dir, { clusterId: 'c-1', initialClusterState: 'new' }));
      await expect(openMemberStore(opts(dir, { clusterId: 'c-2' }))).rejects.toMatchObject({
        code: 'cluster_id_mismatch',
        message: `${dir} belongs to cluster c-1, but --cluster-id (or RAFTLOCK_CLUSTER_ID) says c-2. A member keeps the cluster id its store was created with: drop --cluster-id, or point --data-dir at the data of the cluster you mean.`,
      });
      expect(await opened(opts(dir, {}))).toMatchObject({ clusterId: 'c-1' });
    });
  });

  it("passes the storage's own refusal on for a store of another member, never taking it for a missing store", async () => {
    await withTempDir(async (dir) => {
      await opened(opts(dir, { clusterId: 'c-1', initialClusterState: 'new' }));
      await expect(openMemberStore(opts(dir, { id: 'n2' }))).rejects.toMatchObject({ code: 'storage_mismatch' });
      await expect(openMemberStore(opts(dir, { id: 'n2', clusterId: 'c-1', initialClusterState: 'new' }))).rejects.toMatchObject({ code: 'storage_mismatch' });
    });
  });
});
