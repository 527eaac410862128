import { Level } from 'level';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { ConfState, Entry } from '../../src/raft/types.js';
import {
  SNAPSHOT_KEY,
  decodeEntry,
  decodeSnapshotHeader,
  encodeEntry,
  encodeSnapshotHeader,
  entryKey,
  frame,
} from '../../src/storage/record-codec.js';
import { RaftStorage } from '../../src/storage/index.js';
import { OPTS, entry, plainConfig, withTempDir } from './helpers.js';

/**
 * Configurations in stored records: the records written before learners and member records existed (a config entry
 * with a voter list, a 6-field snapshot header) still decode, and the new ones round-trip whole.
 */
const packr = new Packr({ useRecords: false });

const WITH_LEARNER: ConfState = {
  voters: ['n1', 'n2', 'n3'],
  learners: ['n4'],
  members: [{ id: 'n4', peerAddress: '10.0.0.4:7000', httpUrl: 'http://10.0.0.4:8080' }],
};

/** oldConfigEntry is a config entry exactly as the codec wrote it before learners: type code 1 and a voter list. */
function oldConfigEntry(index: number, term: number, voters: string[]): Uint8Array {
  return frame(entryKey(index), packr.pack([index, term, 1, new Uint8Array(0), voters]));
}

describe('stored configurations', () => {
  it('a config entry stored before learners existed decodes as voters without learners or records', () => {
    const e = decodeEntry(entryKey(8), 8, oldConfigEntry(8, 2, ['n1', 'n2']));
    expect(e.type).toBe('config');
    expect(plainConfig(e.config!)).toEqual({ voters: ['n1', 'n2'], learners: [], members: [] });
  });

  it('a 6-field snapshot header stored before learners existed decodes, and one without learners is still written so', () => {
    const old = frame(SNAPSHOT_KEY, packr.pack([12, 3, ['n1', 'n2', 'n3'], 50, 1, 1234]));
    const header = decodeSnapshotHeader(old);
    expect(header.meta).toEqual({ index: 12, term: 3, config: { voters: ['n1', 'n2', 'n3'], learners: [], members: [] } });
    expect(encodeSnapshotHeader(header)).toEqual(old);
  });

  it('a configuration with learners and member records round-trips in entries and snapshot headers', () => {
    const e: Entry = { index: 9, term: 4, type: 'config', data: new Uint8Array(0), config: WITH_LEARNER };
    expect(plainConfig(decodeEntry(entryKey(9), 9, encodeEntry(entryKey(9), e)).config!)).toEqual(plainConfig(WITH_LEARNER));
    const header = { meta: { index: 9, term: 4, config: WITH_LEARNER }, dataLength: 5, chunkCount: 1, dataCrc: 77, file: null };
    const decoded = decodeSnapshotHeader(encodeSnapshotHeader(header));
    expect(plainConfig(decoded.meta.config)).toEqual(plainConfig(WITH_LEARNER));
    expect(decoded.dataLength).toBe(5);
  });

  it('a store holding an old-format config entry opens with that configuration', async () => {
    await withTempDir(async (dir) => {
      const a = await RaftStorage.open(dir, OPTS);
      await a.storage.save({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: 'n1', commit: 1 } });
      await a.storage.close();
      // Rewrite entry 2 as the old codec would have written a config entry there.
      const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
      await db.put(entryKey(2), oldConfigEntry(2, 1, ['n1', 'n2']));
      await db.close();
      const b = await RaftStorage.open(dir, OPTS);
      const loaded = b.durable.entries[1]!;
      expect(loaded.type).toBe('config');
      expect(plainConfig(loaded.config!)).toEqual({ voters: ['n1', 'n2'], learners: [], members: [] });
      await b.storage.close();
    });
  });
});
