/**
 * Shared helpers for the storage tests: temp directories that are always
 * removed, entry builders, and a normaliser for comparing loaded state.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfState, DurableState, Entry, Snapshot } from '../../src/raft/types.js';

/** withTempDir runs `fn` with a fresh directory under os.tmpdir() and removes it afterwards, also on failure. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'raftlock-storage-'));
  try {
    return await fn(join(dir, 'db'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** entry builds a normal entry whose data is derived from (index, term, salt) so different writes differ. */
export function entry(index: number, term: number, size = 16, salt = 0): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + term * 7 + salt + i) & 0xff;
  return { index, term, type: 'normal', data };
}

/** configEntry builds a config entry. */
export function configEntry(index: number, term: number, voters: string[]): Entry {
  return { index, term, type: 'config', data: new Uint8Array(0), config: { voters, learners: [], members: [] } };
}

/** plainConfig turns a configuration into a comparable plain object: voters, learners and member records. */
export function plainConfig(c: ConfState): unknown {
  return { voters: [...c.voters], learners: [...c.learners], members: c.members.map((m) => ({ ...m })) };
}

/** plain turns an entry into a comparable plain object (Buffer vs Uint8Array and absent vs undefined fields do not matter). */
export function plainEntry(e: Entry): unknown {
  return { index: e.index, term: e.term, type: e.type, data: Array.from(e.data), config: e.config ? plainConfig(e.config) : null };
}

export function plainDurable(d: DurableState): unknown {
  return {
    hardState: { ...d.hardState },
    snapshotMeta: { index: d.snapshotMeta.index, term: d.snapshotMeta.term, config: plainConfig(d.snapshotMeta.config) },
    entries: d.entries.map(plainEntry),
  };
}

export function plainSnapshot(s: Snapshot | null): unknown {
  if (s === null) return null;
  return { index: s.meta.index, term: s.meta.term, config: plainConfig(s.meta.config), data: Buffer.from(s.data).toString('hex') };
}

export const OPTS = { nodeId: 'n1', clusterId: 'c1', voters: ['n1', 'n2', 'n3'] } as const;
