import { describe, expect, it } from 'vitest';
import { SNAPSHOT_FORMAT } from '../../src/locks/index.js';
import { takeBackup, type BackupSource } from '../../src/node/take-backup.js';
import { BACKUP_FORMAT_VERSION } from '../../src/storage/index.js';

/**
 * A backup names the index of exactly what its table holds. While the host encodes a snapshot in slices, the core
 * counts committed entries applied that the app has not applied yet (they wait for the encoding): a backup taken
 * then must carry the host's applied index, not the core's, or a restore would start its log past entries the
 * image does not hold (acknowledged writes lost, the next token computed from the wrong index).
 */
function source(hostApplied: number, tableApplied: number): BackupSource {
  return {
    host: { id: 'n1', leader: 'n1', isLeader: () => true, members: () => ['n1', 'n2', 'n3'], readBarrier: async () => {}, appliedIndex: hostApplied },
    core: { termAt: (i: number) => (i <= 20 ? 3 : null) },
    locks: { snapshot: () => new Uint8Array([7, 7]), lockTable: { appliedIndex: tableApplied } } as unknown as BackupSource['locks'],
    clusterId: 'c-1',
    readTimeoutMs: 1_000,
  };
}

describe('takeBackup', () => {
  it('labels the image with the host applied index (entries waiting for a snapshot encoding are not in it)', async () => {
    const image = await takeBackup(source(10, 9)); // 10: a no-op the table does not count
    expect([image.header.index, image.header.term, image.header.dataBytes]).toEqual([10, 3, 2]);
  });

  it('refuses a table that is ahead of the host (the index would understate the image)', async () => {
    await expect(takeBackup(source(10, 11))).rejects.toThrow(/the table applied 11, past the host's 10/);
  });

  it('is refused on a non-leader, naming the leader', async () => {
    const s = source(10, 10);
    await expect(takeBackup({ ...s, host: { ...s.host, isLeader: () => false, leader: 'n2' } })).rejects.toMatchObject({ code: 'not_leader' });
  });
});

describe('takeBackup header', () => {
  it('names the cluster, the member, the voters, the formats and the size of the data it holds', async () => {
    const image = await takeBackup(source(10, 10));
    expect(image.header).toEqual({
      formatVersion: BACKUP_FORMAT_VERSION,
      clusterId: 'c-1',
      takenFrom: 'n1',
      takenAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      index: 10,
      term: 3,
      members: ['n1', 'n2', 'n3'],
      dataFormat: SNAPSHOT_FORMAT,
      dataBytes: 2,
    });
    expect([...image.data]).toEqual([7, 7]);
  });

  it('reads the applied index only after the read barrier (thesis §6.4): entries applied while it waited are in the image', async () => {
    const s = source(10, 10);
    const host = { ...s.host, readBarrier: async () => void (host.appliedIndex = 12) };
    const image = await takeBackup({ ...s, host, locks: { ...s.locks, lockTable: { appliedIndex: 12 } } as unknown as BackupSource['locks'] });
    expect(image.header.index).toBe(12);
  });

  it('fails as its read barrier fails', async () => {
    const s = source(10, 10);
    await expect(takeBackup({ ...s, host: { ...s.host, readBarrier: () => Promise.reject(new Error('read timed out')) } })).rejects.toThrow('read timed out');
  });
});
