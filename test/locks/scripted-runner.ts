/**
 * A runner for scripted lease-table tests, in the style of etcd-io/raft's
 * testdata/*.txt (cockroachdb/datadriven). A script is a sequence of blocks
 * separated by blank lines; `#` lines between blocks are comments:
 *
 *   acquire name=a owner=o1 ttl=1000 at=100
 *   ----
 *   entry 1 at 100: ok queued=false name=a owner=o1 token=1 mode=exclusive expiresAtMs=1100 holdCount=1
 *
 * A command that applies a log entry prints `entry <index> at <table time>:`
 * and its result, then one `event ...` line per event, in order. Every such
 * command takes `at=<ms>` (the leader's stamp; default: the previous stamp)
 * and `index=<n>` (default: the previous index + 1). Query commands print what
 * the query returns. Results print their fields in the table's own order, so
 * the output is exactly what the table answered; strings that could be read
 * as another type (or contain spaces) are quoted.
 *
 * Commands (see ScriptedTable.run): acquire (value= for an election value), proclaim, release, renew, force-release,
 * create-session, keepalive, delete-session, cancel-wait, expire, extend,
 * apply <json> (any command, also malformed ones), get, list, check, session,
 * deadline, stats, new-table (fresh table with limits), restart (restore from
 * a snapshot of the table).
 */
import { LeaseTable, type CommandResult, type LeaseTableLimits, type LockCommand, type LockEvent, type LockMode } from '../../src/locks/index.js';

/** Block is one command with its expected output. `line` is the command's 1-based line in the script. */
export interface Block {
  readonly line: number;
  readonly command: string;
  readonly expected: string;
}

/** Mismatch is a block whose output differs from what the script expects. */
export interface Mismatch extends Block {
  readonly actual: string;
}

/** ScriptRun is the outcome of running a script: the blocks that differ, and the script with every expectation replaced by the actual output. */
export interface ScriptRun {
  readonly mismatches: Mismatch[];
  readonly rewritten: string;
}

/** Segment is a piece of a script: comment and blank lines, or a block. */
export type Segment = { readonly kind: 'text'; readonly lines: string[] } | { readonly kind: 'block'; readonly block: Block };

const SEPARATOR = '----';

/** parseScript splits a script into comment/blank text and blocks; throws on a command without `----`. */
export function parseScript(text: string, file: string): Segment[] {
  const lines = text.split('\n');
  const segments: Segment[] = [];
  let textLines: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) {
      textLines.push(line);
      i++;
      continue;
    }
    if (lines[i + 1] !== SEPARATOR) throw new Error(`${file}:${i + 1}: "${line}" must be followed by a ${SEPARATOR} line`);
    const expected: string[] = [];
    let j = i + 2;
    while (j < lines.length && lines[j]!.trim() !== '') expected.push(lines[j++]!);
    if (textLines.length > 0) segments.push({ kind: 'text', lines: textLines });
    textLines = [];
    segments.push({ kind: 'block', block: { line: i + 1, command: line.trim(), expected: expected.join('\n') } });
    i = j;
  }
  if (textLines.length > 0) segments.push({ kind: 'text', lines: textLines });
  return segments;
}

/** runScript runs every block of a script against one fresh lease table, in order. */
export function runScript(text: string, file: string): ScriptRun {
  const table = new ScriptedTable();
  const mismatches: Mismatch[] = [];
  const out: string[] = [];
  for (const seg of parseScript(text, file)) {
    if (seg.kind === 'text') {
      out.push(...seg.lines);
      continue;
    }
    const b = seg.block;
    let actual: string;
    try {
      actual = table.run(b.command);
    } catch (err) {
      throw new Error(`${file}:${b.line}: ${b.command}: ${(err as Error).message}`);
    }
    if (actual !== b.expected) mismatches.push({ ...b, actual });
    out.push(b.command, SEPARATOR, ...actual.split('\n'));
  }
  return { mismatches, rewritten: out.join('\n') };
}

/** formatMismatches describes every mismatch with its place in the file and a line diff (- expected, + actual). */
export function formatMismatches(file: string, mismatches: readonly Mismatch[]): string {
  const parts = mismatches.map((m) => {
    const diff = lineDiff(m.expected === '' ? [] : m.expected.split('\n'), m.actual.split('\n'));
    return `${file}:${m.line}: ${m.command}\n${diff.map((l) => `  ${l}`).join('\n')}`;
  });
  return `${mismatches.length} block(s) differ from the expected output (- expected, + actual; REWRITE=1 regenerates):\n\n${parts.join('\n\n')}`;
}

/** lineDiff is a longest-common-subsequence diff: unchanged lines start with a space, removed with -, added with +. */
function lineDiff(a: readonly string[], b: readonly string[]): string[] {
  // lcs[i][j] = length of the LCS of a[i..] and b[j..]; outputs are a few lines long.
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(`  ${a[i++]}`);
      j++;
    } else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      out.push(`- ${a[i++]}`);
    } else {
      out.push(`+ ${b[j++]}`);
    }
  }
  return out;
}

// ---- the commands -----------------------------------------------------------

/** Args are a command's key=value arguments; every one must be used, so a typo fails instead of being ignored. */
class Args {
  private readonly values = new Map<string, string>();

  constructor(tokens: readonly string[]) {
    for (const t of tokens) {
      const eq = t.indexOf('=');
      if (eq <= 0) throw new Error(`argument "${t}" is not key=value`);
      const key = t.slice(0, eq);
      if (this.values.has(key)) throw new Error(`argument ${key} given twice`);
      this.values.set(key, t.slice(eq + 1));
    }
  }

  str(key: string): string {
    const v = this.optStr(key);
    if (v === undefined) throw new Error(`missing argument ${key}`);
    return v;
  }

  optStr(key: string): string | undefined {
    const v = this.values.get(key);
    this.values.delete(key);
    return v;
  }

  num(key: string): number {
    const v = this.optNum(key);
    if (v === undefined) throw new Error(`missing argument ${key}`);
    return v;
  }

  optNum(key: string): number | undefined {
    const v = this.optStr(key);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v === '' || Number.isNaN(n)) throw new Error(`argument ${key}=${v} is not a number`);
    return n;
  }

  /** restNums returns the arguments not used yet, as numbers (for new-table's limits). */
  restNums(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const key of [...this.values.keys()]) out[key] = this.num(key);
    return out;
  }

  done(): void {
    if (this.values.size > 0) throw new Error(`unknown argument(s): ${[...this.values.keys()].join(', ')}`);
  }
}

/** ScriptedTable drives one LeaseTable through script commands: consecutive indexes and a settable leader clock. */
class ScriptedTable {
  private table = new LeaseTable();
  private index = 0;
  private timeMs = 0;

  /** run executes one command line and returns its rendered output (never empty). */
  run(line: string): string {
    const space = line.indexOf(' ');
    const verb = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? '' : line.slice(space + 1).trim();
    if (verb === 'apply') return this.applyEntry(JSON.parse(rest) as LockCommand, new Args([]));
    const args = new Args(rest === '' ? [] : rest.split(/\s+/));
    const out = this.runVerb(verb, args);
    args.done();
    return out;
  }

  private runVerb(verb: string, a: Args): string {
    switch (verb) {
      case 'acquire':
        return this.applyEntry(
          compact({
            type: 'acquire',
            name: a.str('name'),
            owner: a.str('owner'),
            mode: (a.optStr('mode') ?? 'exclusive') as LockMode,
            limit: a.optNum('limit'),
            ttlMs: a.optNum('ttl'),
            sessionId: a.optStr('session'),
            waitMs: a.optNum('wait') ?? 0,
            lockDelayMs: a.optNum('delay'),
            value: a.optStr('value'),
            requestId: a.optStr('rid'),
          }),
          a,
        );
      case 'proclaim':
        return this.applyEntry(
          compact({ type: 'proclaim', name: a.str('name'), owner: a.str('owner'), token: a.num('token'), value: a.str('value'), requestId: a.optStr('rid') }),
          a,
        );
      case 'release':
        return this.applyEntry(compact({ type: 'release', name: a.str('name'), owner: a.str('owner'), token: a.num('token'), requestId: a.optStr('rid') }), a);
      case 'renew':
        return this.applyEntry(
          compact({ type: 'renew', name: a.str('name'), owner: a.str('owner'), token: a.num('token'), ttlMs: a.optNum('ttl'), requestId: a.optStr('rid') }),
          a,
        );
      case 'force-release':
        return this.applyEntry(compact({ type: 'forceRelease', name: a.str('name'), requestId: a.optStr('rid') }), a);
      case 'create-session':
        return this.applyEntry(
          compact({ type: 'createSession', sessionId: a.str('id'), ttlMs: a.num('ttl'), owner: a.optStr('owner'), requestId: a.optStr('rid') }),
          a,
        );
      case 'keepalive':
        return this.applyEntry(compact({ type: 'keepalive', sessionId: a.str('id'), requestId: a.optStr('rid') }), a);
      case 'delete-session':
        return this.applyEntry(compact({ type: 'deleteSession', sessionId: a.str('id'), requestId: a.optStr('rid') }), a);
      case 'cancel-wait':
        return this.applyEntry(compact({ type: 'cancelWait', name: a.str('name'), waiterId: a.str('waiter'), owner: a.optStr('owner') }), a);
      case 'expire':
        return this.applyEntry({ type: 'expire' }, a);
      case 'extend':
        return this.applyEntry({ type: 'extendLeases', byMs: a.num('by') }, a);
      default:
        return this.query(verb, a);
    }
  }

  private query(verb: string, a: Args): string {
    const t = this.table;
    switch (verb) {
      case 'get':
        return renderView(t.get(a.str('name')));
      case 'list': {
        const views = t.list(a.optStr('prefix') ?? '', a.optNum('limit') ?? 100, a.optStr('after'));
        return views.length === 0 ? '(none)' : views.map((v) => renderFields(v)).join('\n');
      }
      case 'check':
        return renderFields(t.checkToken(a.str('name'), a.num('token')));
      case 'session':
        return renderView(t.session(a.str('id')));
      case 'deadline':
        return `next=${renderValue(t.nextDeadlineMs())}`;
      case 'stats':
        return `${renderFields(t.stats())} records=${t.size} dedupe=${t.dedupeSize}`;
      case 'new-table': {
        const limits = a.restNums();
        for (const key of Object.keys(limits)) if (!(key in this.table.limits)) throw new Error(`unknown limit ${key}`);
        this.table = new LeaseTable(limits as Partial<LeaseTableLimits>);
        this.index = 0;
        this.timeMs = 0;
        return joinWords('ok', renderFields(limits));
      }
      case 'restart':
        this.table = LeaseTable.restore(this.table.snapshot());
        return `restored from a snapshot at entry ${this.table.appliedIndex}`;
      default:
        throw new Error(`unknown command ${verb}`);
    }
  }

  private applyEntry(cmd: LockCommand, a: Args): string {
    const at = a.optNum('at');
    if (at !== undefined) this.timeMs = at;
    this.index = a.optNum('index') ?? this.index + 1;
    const out = this.table.apply(cmd, { index: this.index, timeMs: this.timeMs });
    return [`entry ${this.index} at ${this.table.nowMs}: ${renderResult(out.result)}`, ...out.events.map(renderEvent)].join('\n');
  }
}

/** compact drops undefined fields, as a decoded log entry would not have them. */
function compact<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

// ---- rendering --------------------------------------------------------------

function renderResult(r: CommandResult): string {
  if (r.ok) return joinWords('ok', renderFields(r, ['ok']));
  return joinWords(`error=${r.error}`, renderFields(r, ['ok', 'error']));
}

function renderEvent(e: LockEvent): string {
  return joinWords(`event ${e.kind}`, renderFields(e, ['kind']));
}

function renderView(v: object | null): string {
  return v === null ? 'null' : renderFields(v);
}

function renderFields(o: object, skip: readonly string[] = []): string {
  return Object.entries(o)
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => `${k}=${renderValue(v)}`)
    .join(' ');
}

function renderValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return `[${v.map(renderValue).join(' ')}]`;
  if (typeof v === 'object') return `{${renderFields(v)}}`;
  if (typeof v !== 'string') return String(v);
  // Bare when it cannot be mistaken for a number, boolean, null or several words.
  return /^[A-Za-z._:/-][A-Za-z0-9._:/-]*$/.test(v) && !['true', 'false', 'null', 'undefined'].includes(v) ? v : JSON.stringify(v);
}

function joinWords(head: string, tail: string): string {
  return tail === '' ? head : `${head} ${tail}`;
}
