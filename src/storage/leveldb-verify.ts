/**
 * verifyLevelDbDir checks a LevelDB directory's files BEFORE LevelDB opens it.
 *
 * Why: classic-level opens LevelDB with `paranoid_checks` off and reads with
 * `verify_checksums` off, and exposes neither option. With those defaults a
 * damaged .log record is skipped during recovery (noted only in the LOG file;
 * the log is then compacted away, so the loss becomes permanent) and a
 * damaged table block is returned unchecked. Our own per-record checksums
 * catch altered bytes but not a record that silently vanished. So we check the
 * on-disk formats ourselves, strictly, and refuse to open on any problem.
 *
 * What is checked: CURRENT names an existing MANIFEST; every MANIFEST record
 * CRC and VersionEdit; every live table file exists, has the size the
 * MANIFEST recorded, every block CRC matches and the blocks tile the file;
 * every live .log record CRC matches and each is a well-formed WriteBatch.
 *
 * What is tolerated (crash artifacts LevelDB itself ignores and that cannot
 * hold an acknowledged write): an incomplete record or zero-filled tail at the
 * end of the NEWEST .log file and of the current MANIFEST (a write cut short by
 * a crash; our writes are synced, so that batch was never acknowledged);
 * table files the MANIFEST does not reference (a flush or compaction
 * interrupted by a crash; LevelDB deletes them); stale logs older than the
 * MANIFEST's log number.
 *
 * What is NOT detected: a .log truncated exactly at a record boundary, or cut
 * mid-record near its end, looks exactly like a crash during a write; the
 * batches after the cut are lost without a trace. No log-structured store can
 * tell these apart without an external witness.
 */

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageCorruptError } from './storage-errors.js';
import { checkWriteBatch, Cursor, LevelDbFormatError, readLogRecords } from './leveldb-log-format.js';
import { verifyTable } from './leveldb-table-format.js';

const NUM_LEVELS = 7;
const TAG_COMPARATOR = 1;
const TAG_LOG_NUMBER = 2;
const TAG_NEXT_FILE_NUMBER = 3;
const TAG_LAST_SEQUENCE = 4;
const TAG_COMPACT_POINTER = 5;
const TAG_DELETED_FILE = 6;
const TAG_NEW_FILE = 7;
const TAG_PREV_LOG_NUMBER = 9;
const BYTEWISE_COMPARATOR = 'leveldb.BytewiseComparator';
/** Upper bound on files in a store directory we are willing to look at. */
const MAX_DIR_ENTRIES = 100_000;

/** LevelDbVerifyReport says what was checked; `exists` is false for a directory without a LevelDB store. */
export interface LevelDbVerifyReport {
  readonly exists: boolean;
  readonly tables: number;
  readonly logs: number;
  readonly bytes: number;
  /** "000007.log@1234" when the newest log ends in a torn (crash-cut) record that LevelDB will drop. */
  readonly tornTail: string | null;
}

interface Manifest {
  readonly liveTables: Map<number, number>; // file number -> size
  readonly logNumber: number;
  readonly prevLogNumber: number;
}

function corrupt(file: string, err: unknown): never {
  if (err instanceof LevelDbFormatError) throw new StorageCorruptError(file, err.message, { cause: err });
  throw err;
}

function pad6(n: number): string {
  return String(n).padStart(6, '0');
}

function parseManifest(name: string, bytes: Uint8Array): Manifest {
  const { records, tornTailOffset } = readLogRecords(bytes);
  void tornTailOffset; // A torn MANIFEST tail is an interrupted VersionEdit, ignored by LevelDB too.
  const levels: Array<Map<number, number>> = [];
  for (let l = 0; l < NUM_LEVELS; l++) levels.push(new Map());
  let logNumber = -1;
  let prevLogNumber = 0;
  let comparatorSeen = false;
  for (const rec of records) {
    const cur = new Cursor(rec.data, rec.offset);
    while (!cur.done) {
      const tag = cur.varint('tag');
      switch (tag) {
        case TAG_COMPARATOR: {
          const cmp = new TextDecoder().decode(cur.lengthPrefixed('comparator'));
          if (cmp !== BYTEWISE_COMPARATOR) cur.fail(`unexpected comparator ${cmp}`);
          comparatorSeen = true;
          break;
        }
        case TAG_LOG_NUMBER:
          logNumber = cur.varint('log number');
          break;
        case TAG_PREV_LOG_NUMBER:
          prevLogNumber = cur.varint('prev log number');
          break;
        case TAG_NEXT_FILE_NUMBER:
          cur.varint('next file number');
          break;
        case TAG_LAST_SEQUENCE:
          cur.varint('last sequence');
          break;
        case TAG_COMPACT_POINTER:
          readLevel(cur);
          cur.lengthPrefixed('compact pointer key');
          break;
        case TAG_DELETED_FILE: {
          const level = readLevel(cur);
          levels[level]!.delete(cur.varint('deleted file number'));
          break;
        }
        case TAG_NEW_FILE: {
          const level = readLevel(cur);
          const number = cur.varint('file number');
          const size = cur.varint('file size');
          cur.lengthPrefixed('smallest key');
          cur.lengthPrefixed('largest key');
          levels[level]!.set(number, size);
          break;
        }
        default:
          cur.fail(`unknown VersionEdit tag ${tag}`);
      }
    }
  }
  if (!comparatorSeen) throw new StorageCorruptError(name, 'MANIFEST names no comparator');
  if (logNumber < 0) throw new StorageCorruptError(name, 'MANIFEST names no log number');
  const liveTables = new Map<number, number>();
  for (const lv of levels) for (const [n, s] of lv) liveTables.set(n, s);
  return { liveTables, logNumber, prevLogNumber };
}

function readLevel(cur: Cursor): number {
  const level = cur.varint('level');
  if (level >= NUM_LEVELS) cur.fail(`level ${level} out of range`);
  return level;
}

async function listDir(dir: string): Promise<string[] | null> {
  try {
    const names = await readdir(dir);
    if (names.length > MAX_DIR_ENTRIES) throw new StorageCorruptError(dir, `directory holds ${names.length} entries (> ${MAX_DIR_ENTRIES})`);
    return names;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * verifyLevelDbDir verifies every live file of the LevelDB store in `dir`
 * (see the module comment for exactly what) and throws StorageCorruptError
 * naming the file and byte offset of the first problem. A missing or empty
 * directory, or one left by a crash while LevelDB created the store (only
 * MANIFEST-000001, no CURRENT), reports `exists: false`.
 */
export async function verifyLevelDbDir(dir: string): Promise<LevelDbVerifyReport> {
  const names = await listDir(dir);
  const none: LevelDbVerifyReport = { exists: false, tables: 0, logs: 0, bytes: 0, tornTail: null };
  if (names === null) return none;
  const fileRe = /^(\d+)\.(log|ldb|sst)$/;
  const dataFiles = names.filter((n) => fileRe.test(n));
  const manifests = names.filter((n) => n.startsWith('MANIFEST-'));
  if (!names.includes('CURRENT')) {
    // LevelDB writes MANIFEST-000001 and then CURRENT when creating a store; a
    // crash between them leaves no data. Anything more without CURRENT means
    // CURRENT was lost, and LevelDB would silently create an EMPTY store over it.
    if (dataFiles.length === 0 && manifests.every((m) => m === 'MANIFEST-000001')) return none;
    throw new StorageCorruptError('CURRENT', `missing, but the directory holds ${[...dataFiles, ...manifests].slice(0, 5).join(', ')}`);
  }
  const current = await readFile(join(dir, 'CURRENT'), 'utf8');
  const m = /^(MANIFEST-\d+)\n$/.exec(current);
  if (m === null) throw new StorageCorruptError('CURRENT', `does not name a MANIFEST: ${JSON.stringify(current.slice(0, 64))}`);
  const manifestName = m[1]!;
  if (!names.includes(manifestName)) throw new StorageCorruptError(manifestName, 'named by CURRENT but missing');
  let bytes = 0;
  const manifestBytes = await readFile(join(dir, manifestName));
  bytes += manifestBytes.length;
  let manifest: Manifest;
  try {
    manifest = parseManifest(manifestName, manifestBytes);
  } catch (err) {
    corrupt(manifestName, err);
  }

  const present = new Map<number, { name: string; kind: string }>();
  for (const n of dataFiles) {
    const fm = fileRe.exec(n)!;
    present.set(Number(fm[1]), { name: n, kind: fm[2]! });
  }
  let tables = 0;
  for (const [number, expectedSize] of [...manifest.liveTables].sort((a, b) => a[0] - b[0])) {
    const f = present.get(number);
    if (f === undefined || f.kind === 'log') {
      throw new StorageCorruptError(`${pad6(number)}.ldb`, `live table named by ${manifestName} is missing`);
    }
    const st = await stat(join(dir, f.name));
    if (st.size !== expectedSize) {
      throw new StorageCorruptError(f.name, `size ${st.size} differs from ${expectedSize} recorded in ${manifestName} (truncated or extended)`);
    }
    const data = await readFile(join(dir, f.name));
    bytes += data.length;
    try {
      verifyTable(data);
    } catch (err) {
      corrupt(f.name, err);
    }
    tables++;
  }

  // DBImpl::Recover replays logs numbered >= the MANIFEST's log number (or equal to prev_log), oldest first.
  const logs = [...present]
    .filter(([n, f]) => f.kind === 'log' && (n >= manifest.logNumber || n === manifest.prevLogNumber))
    .sort((a, b) => a[0] - b[0]);
  let tornTail: string | null = null;
  for (let i = 0; i < logs.length; i++) {
    const [, f] = logs[i]!;
    const data = await readFile(join(dir, f.name));
    bytes += data.length;
    try {
      const { records, tornTailOffset } = readLogRecords(data);
      for (const rec of records) checkWriteBatch(rec.data, rec.offset);
      if (tornTailOffset !== null) {
        // Only the log being appended to when the process died can be torn.
        if (i !== logs.length - 1) throw new LevelDbFormatError(tornTailOffset, 'incomplete record in a log that is not the newest');
        tornTail = `${f.name}@${tornTailOffset}`;
      }
    } catch (err) {
      corrupt(f.name, err);
    }
  }
  return { exists: true, tables, logs: logs.length, bytes, tornTail };
}
