import { describe, expect, it } from 'vitest';
import { BACKUP_FORMAT_VERSION, BackupFileError, decodeBackup, encodeBackup, type BackupImage } from '../../src/storage/index.js';

const image: BackupImage = {
  header: {
    formatVersion: BACKUP_FORMAT_VERSION,
    clusterId: 'c-1',
    takenFrom: 'n2',
    takenAt: '2026-01-01T00:00:00.000Z',
    index: 1234,
    term: 7,
    members: ['n1', 'n2', 'n3'],
    dataFormat: 'raftlock.leases.v1',
    dataBytes: 5000,
  },
  data: Uint8Array.from({ length: 5000 }, (_, i) => (i * 13) & 0xff),
};

function bytes(): Buffer {
  return Buffer.concat(encodeBackup(image));
}

describe('backup file', () => {
  it('reads back what it wrote', () => {
    const back = decodeBackup(bytes());
    expect(back.header).toEqual(image.header);
    expect(Buffer.from(back.data).equals(Buffer.from(image.data))).toBe(true);
  });

  it('refuses a truncated file, at every length, naming it truncated', () => {
    const whole = bytes();
    for (const keep of [0, 5, 16, 19, 40, whole.length - 5000, whole.length - 33, whole.length - 1]) {
      expect(() => decodeBackup(whole.subarray(0, keep)), `kept ${keep}`).toThrow(/truncated/);
    }
  });

  it('refuses a flipped byte anywhere: in the data, the header, the checksum', () => {
    const whole = bytes();
    for (const at of [whole.length - 100, whole.length - 3, 30, 25]) {
      const damaged = Buffer.from(whole);
      damaged[at] = damaged[at]! ^ 0x01;
      expect(() => decodeBackup(damaged), `byte ${at}`).toThrow(BackupFileError);
    }
    const flipped = Buffer.from(whole);
    flipped[whole.length - 100] = flipped[whole.length - 100]! ^ 0x40;
    expect(() => decodeBackup(flipped)).toThrow(/checksum does not match/);
  });

  it('refuses what is not a backup, extra bytes, and another format version', () => {
    expect(() => decodeBackup(Buffer.from('{"locks": []}\n'.repeat(4)))).toThrow(/not a raftlock backup/);
    expect(() => decodeBackup(Buffer.concat([bytes(), Buffer.from('x')]))).toThrow(/1 bytes more/);
    const v2 = Buffer.concat(encodeBackup({ ...image, header: { ...image.header, formatVersion: 2 } }));
    expect(() => decodeBackup(v2)).toThrow(/format version 2/);
  });
});
