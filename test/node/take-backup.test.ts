import { describe, expect, it } from 'vitest';
import { takeBackup, type BackupSource } from '../../src/node/take-backup.js';

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
