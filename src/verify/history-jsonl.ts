/**
 * JSON-lines encoding of a history: one operation per line. JSON has no Infinity,
 * so an unknown operation's completion is written as null. This is the only file
 * of src/verify that touches the disk.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { HistoryError, validateHistory, type History, type Operation } from './history.js';

/** MAX_HISTORY_LINES bounds a parsed history; a verify run records far fewer operations. */
export const MAX_HISTORY_LINES = 10_000_000;

/** formatHistoryJsonl encodes a history, one operation a line, with a trailing newline. */
export function formatHistoryJsonl(history: History): string {
  const lines: string[] = [];
  for (const op of history) {
    const completeMs = op.completeMs === null || !Number.isFinite(op.completeMs) ? null : op.completeMs;
    lines.push(JSON.stringify({ ...op, completeMs }));
  }
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

/**
 * parseHistoryJsonl decodes and validates a history; blank lines are skipped.
 * Throws HistoryError('bad_jsonl') with the line number for unparsable JSON and
 * the validator's error for a malformed record.
 */
export function parseHistoryJsonl(text: string): History {
  const raw: unknown[] = [];
  const lines = text.split('\n');
  if (lines.length > MAX_HISTORY_LINES) throw new HistoryError('bad_jsonl', `more than ${MAX_HISTORY_LINES} lines`);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line.length === 0) continue;
    try {
      raw.push(JSON.parse(line));
    } catch (e) {
      throw new HistoryError('bad_jsonl', `line ${i + 1}: ${(e as Error).message}`);
    }
  }
  return validateHistory(raw);
}

/** readHistoryJsonl reads and validates a history file. */
export async function readHistoryJsonl(path: string): Promise<Operation[]> {
  return [...parseHistoryJsonl(await readFile(path, 'utf8'))];
}

/** writeHistoryJsonl writes a history file (replacing it). */
export async function writeHistoryJsonl(path: string, history: History): Promise<void> {
  await writeFile(path, formatHistoryJsonl(history), 'utf8');
}
