/**
 * The vocabulary of a recorded Jepsen-style history of lock operations.
 *
 * One record per client operation: what was asked (`f`, `input`), what came back
 * (`status`, `output`) and when, on the harness's monotonic clock (`invokeMs`,
 * `completeMs`). An operation whose outcome is unknown (timeout, lost connection,
 * 504) may take effect at any time after its invocation, or never, so its
 * completion is +∞ for every checker (`completeMs` is recorded as null or Infinity,
 * or as the time the client gave up, which the checkers ignore).
 */

/** OpFunction names the lock service call an operation made. */
export type OpFunction = 'acquire' | 'release' | 'renew' | 'read';

/** OpStatus is the client's view of the outcome: definite success, definite failure, or indeterminate. */
export type OpStatus = 'ok' | 'fail' | 'unknown';

/** LOCK_HELD is the only acquire failure that says something about the lock (it is held by someone else). */
export const LOCK_HELD = 'lock_held';
/** NOT_HOLDER is the only release/renew failure that says something about the lock (the caller does not hold it). */
export const NOT_HOLDER = 'not_holder';

/** HolderView is one holder as a read reports it. */
export interface HolderView {
  readonly owner: string;
  readonly token: number;
}

/** AcquireInput asks for the lock for `owner` with a lease of `ttlMs`. */
export interface AcquireInput {
  readonly owner: string;
  readonly ttlMs: number;
}
/** ReleaseInput gives the lock back; `token` is the fencing token the grant returned. */
export interface ReleaseInput {
  readonly owner: string;
  readonly token: number;
}
/** RenewInput extends the lease of (owner, token) to `ttlMs` from the moment the server applies it. */
export interface RenewInput {
  readonly owner: string;
  readonly token: number;
  readonly ttlMs: number;
}
/** ReadInput is empty: a read names only the key. */
export type ReadInput = Readonly<Record<string, never>>;

/** AcquireOkOutput carries the fencing token of the grant. */
export interface AcquireOkOutput {
  readonly token: number;
}
/** EmptyOkOutput is the output of a successful release or renew. */
export type EmptyOkOutput = Readonly<Record<string, never>>;
/** ReadOkOutput is a linearizable snapshot of one lock. */
export interface ReadOkOutput {
  readonly holders: readonly HolderView[];
  readonly lastToken: number;
}
/**
 * FailOutput carries the server's error code. `lock_held` / `not_holder` are the
 * contract's definite answers; any other code (e.g. `not_leader`, `bad_request`)
 * means the request was definitely not applied and tells nothing about the lock.
 */
export interface FailOutput {
  readonly error: string;
}

/** Outcome ties status, output and completion together so TypeScript narrows them jointly. */
export type Outcome<OkOutput> =
  | { readonly status: 'ok'; readonly output: OkOutput; readonly completeMs: number }
  | { readonly status: 'fail'; readonly output: FailOutput; readonly completeMs: number }
  | { readonly status: 'unknown'; readonly output: null; readonly completeMs: number | null };

interface OpCommon {
  /** Unique within a history. */
  readonly id: number;
  /** The client (Jepsen "process") that issued the operation. */
  readonly process: number | string;
  /** The lock name. */
  readonly key: string;
  /** Harness monotonic time at which the request was sent. */
  readonly invokeMs: number;
}

/** AcquireOp is one acquire call and its outcome. */
export type AcquireOp = OpCommon & { readonly f: 'acquire'; readonly input: AcquireInput } & Outcome<AcquireOkOutput>;
/** ReleaseOp is one release call and its outcome. */
export type ReleaseOp = OpCommon & { readonly f: 'release'; readonly input: ReleaseInput } & Outcome<EmptyOkOutput>;
/** RenewOp is one renew call and its outcome. */
export type RenewOp = OpCommon & { readonly f: 'renew'; readonly input: RenewInput } & Outcome<EmptyOkOutput>;
/** ReadOp is one linearizable read and its outcome. */
export type ReadOp = OpCommon & { readonly f: 'read'; readonly input: ReadInput } & Outcome<ReadOkOutput>;

/** Operation is one record of a history. */
export type Operation = AcquireOp | ReleaseOp | RenewOp | ReadOp;

/** History is the list of operations of one test run, in any order. */
export type History = readonly Operation[];

/** HistoryErrorCode names why a history was rejected before checking. */
export type HistoryErrorCode = 'invalid_op' | 'duplicate_id' | 'bad_jsonl';

/** HistoryError is thrown for malformed input; checkers never return a verdict on a malformed history. */
export class HistoryError extends Error {
  readonly code: HistoryErrorCode;
  constructor(code: HistoryErrorCode, message: string) {
    super(message);
    this.name = 'HistoryError';
    this.code = code;
  }
}

/**
 * effectiveCompleteMs is the completion every checker uses: +∞ for an operation of
 * unknown outcome (it may still take effect later), the recorded time otherwise.
 */
export function effectiveCompleteMs(op: { readonly status: OpStatus; readonly completeMs: number | null }): number {
  if (op.status === 'unknown') return Infinity;
  if (op.completeMs === null) throw new HistoryError('invalid_op', 'definite operation without completeMs');
  return op.completeMs;
}

/**
 * isMeaningfulFail says whether a failed operation carries the contract's definite
 * answer (`lock_held` for acquire, `not_holder` for release/renew). Other failures
 * were not applied and say nothing about the lock.
 */
export function isMeaningfulFail(op: Operation): boolean {
  if (op.status !== 'fail') return false;
  switch (op.f) {
    case 'acquire':
      return op.output.error === LOCK_HELD;
    case 'release':
    case 'renew':
      return op.output.error === NOT_HOLDER;
    case 'read':
      return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function bad(op: unknown, why: string): never {
  const id = isObject(op) ? String(op['id']) : '?';
  throw new HistoryError('invalid_op', `operation ${id}: ${why}`);
}

function validateInput(raw: Record<string, unknown>): void {
  const input = raw['input'];
  if (!isObject(input)) bad(raw, 'input must be an object');
  const f = raw['f'];
  if (f === 'read') return;
  if (typeof input['owner'] !== 'string') bad(raw, 'input.owner must be a string');
  if ((f === 'release' || f === 'renew') && !isFiniteNumber(input['token'])) bad(raw, 'input.token must be a finite number');
  if ((f === 'acquire' || f === 'renew') && !(isFiniteNumber(input['ttlMs']) && input['ttlMs'] >= 0)) {
    bad(raw, 'input.ttlMs must be a finite number >= 0');
  }
}

function validateOutput(raw: Record<string, unknown>): void {
  const status = raw['status'];
  const output = raw['output'];
  if (status === 'unknown') {
    if (output !== null && output !== undefined) bad(raw, 'unknown operation must have a null output');
    const c = raw['completeMs'];
    if (!(c === null || c === undefined || (typeof c === 'number' && !Number.isNaN(c)))) bad(raw, 'bad completeMs');
    return;
  }
  if (!isObject(output)) bad(raw, 'output must be an object');
  if (status === 'fail') {
    if (typeof output['error'] !== 'string') bad(raw, 'fail output must carry an error string');
    return;
  }
  if (raw['f'] === 'acquire' && !isFiniteNumber(output['token'])) bad(raw, 'acquire ok output must carry a finite token');
  if (raw['f'] === 'read') {
    if (!isFiniteNumber(output['lastToken'])) bad(raw, 'read ok output must carry lastToken');
    const holders = output['holders'];
    if (!Array.isArray(holders)) bad(raw, 'read ok output must carry holders[]');
    for (const h of holders) {
      if (!isObject(h) || typeof h['owner'] !== 'string' || !isFiniteNumber(h['token'])) bad(raw, 'bad holder entry');
    }
  }
}

/**
 * validateOperation checks the shape of one untrusted record and returns it typed.
 * Throws HistoryError('invalid_op') with the operation id on the first problem.
 */
export function validateOperation(raw: unknown): Operation {
  if (!isObject(raw)) bad(raw, 'not an object');
  if (!(Number.isSafeInteger(raw['id']))) bad(raw, 'id must be an integer');
  const p = raw['process'];
  if (!(typeof p === 'string' || isFiniteNumber(p))) bad(raw, 'process must be a string or number');
  if (typeof raw['key'] !== 'string' || raw['key'].length === 0) bad(raw, 'key must be a non-empty string');
  const f = raw['f'];
  if (f !== 'acquire' && f !== 'release' && f !== 'renew' && f !== 'read') bad(raw, `unknown f ${String(f)}`);
  const status = raw['status'];
  if (status !== 'ok' && status !== 'fail' && status !== 'unknown') bad(raw, `unknown status ${String(status)}`);
  if (!isFiniteNumber(raw['invokeMs'])) bad(raw, 'invokeMs must be finite');
  if (status !== 'unknown') {
    const c = raw['completeMs'];
    if (!isFiniteNumber(c)) bad(raw, 'a definite operation needs a finite completeMs');
    if (c < raw['invokeMs']) bad(raw, 'completeMs before invokeMs');
  }
  validateInput(raw);
  validateOutput(raw);
  return raw as unknown as Operation;
}

/**
 * validateHistory checks every record and that ids are unique. Checkers call it
 * first so that a malformed history is an error, never a verdict.
 */
export function validateHistory(history: readonly unknown[]): History {
  const seen = new Set<number>();
  const out: Operation[] = [];
  for (const raw of history) {
    const op = validateOperation(raw);
    if (seen.has(op.id)) throw new HistoryError('duplicate_id', `operation id ${op.id} appears twice`);
    seen.add(op.id);
    out.push(op);
  }
  return out;
}

/** partitionByKey groups a history by lock name, keeping each group's input order; keys come out sorted. */
export function partitionByKey<O extends { readonly key: string }>(history: readonly O[]): Map<string, O[]> {
  const groups = new Map<string, O[]>();
  for (const op of history) {
    const g = groups.get(op.key);
    if (g === undefined) groups.set(op.key, [op]);
    else g.push(op);
  }
  return new Map([...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** describeOp renders one operation on one line for explanations and logs. */
export function describeOp(op: Operation): string {
  const when = `[${op.invokeMs}, ${op.status === 'unknown' ? '∞' : String(op.completeMs)}]`;
  let input = '';
  switch (op.f) {
    case 'acquire':
      input = `${op.input.owner} ttl=${op.input.ttlMs}`;
      break;
    case 'release':
      input = `${op.input.owner} t=${op.input.token}`;
      break;
    case 'renew':
      input = `${op.input.owner} t=${op.input.token} ttl=${op.input.ttlMs}`;
      break;
    case 'read':
      break;
  }
  let out = '';
  if (op.status === 'fail') out = ` → fail ${op.output.error}`;
  else if (op.status === 'unknown') out = ' → unknown';
  else if (op.f === 'acquire') out = ` → ok t=${op.output.token}`;
  else if (op.f === 'read') {
    const hs = op.output.holders.map((h) => `${h.owner}:${h.token}`).join(',');
    out = ` → ok holders=[${hs}] last=${op.output.lastToken}`;
  } else out = ' → ok';
  return `#${op.id} p${op.process} ${op.key} ${op.f}(${input})${out} ${when}`;
}
