/**
 * What LevelDB says went wrong, turned into our typed storage errors: the
 * chain of an error's causes, its codes, and the corruption LevelDB only
 * notes in its LOG file. Used while opening and loading a store
 * (raft-storage.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageCorruptError } from './storage-errors.js';

/** errorChain renders an error and up to four of its causes, with their codes, for a message. */
export function errorChain(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    parts.push(typeof code === 'string' ? `${e.message} [${code}]` : e.message);
    e = e.cause;
  }
  return parts.join(' <- ');
}

/** hasCode says whether an error or one of its first causes carries `code`. */
export function hasCode(err: unknown, code: string): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    if ((e as { code?: unknown }).code === code) return true;
    e = e.cause;
  }
  return false;
}

/** leveldbReadError turns an error LevelDB raised while reading into a StorageCorruptError quoting LevelDB (which names the file). */
export function leveldbReadError(dir: string, err: unknown): StorageCorruptError {
  return new StorageCorruptError(dir, `LevelDB failed while reading the store: ${errorChain(err)}`, { cause: err });
}

/**
 * checkInfoLog scans LevelDB's LOG for corruption it reported and skipped
 * while opening (with paranoid checks off it only logs them). A second line
 * of defence behind verifyLevelDbDir.
 */
export async function checkInfoLog(dir: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(join(dir, 'LOG'), 'utf8');
  } catch {
    return; // No info log: nothing reported.
  }
  const bad = text.split('\n').filter((l) => /corruption|dropping|ignoring error/i.test(l));
  if (bad.length > 0) {
    throw new StorageCorruptError(join(dir, 'LOG'), `LevelDB reported while opening: ${bad.slice(0, 3).join(' | ')}`);
  }
}
