import { API_BOUNDS } from '../api/contract.js';
import { RaftLockClientError } from './errors.js';
import type { HttpTransport } from './http-transport.js';
import { monotonicNowMs } from './monotonic-clock.js';

/** An answer a blocking read may give without a change (a renewal, a new leader's index): pause at least this long before the next. */
const UNCHANGED_PAUSE_MS = 50;

/** WatchLoopOptions shape one watch: its stop signal and how long each blocking read waits. */
export interface WatchLoopOptions {
  readonly signal?: AbortSignal;
  /** How long one blocking read waits on the server before it answers unchanged; at most API_BOUNDS.watchWaitMsMax. */
  readonly waitMs: number;
}

/**
 * watchLoop reads `path` (a GET answering `{..., index}`) at once, then as
 * blocking reads (`index=<last>&wait=<waitMs>ms`), and yields each answer
 * whose `shape` differs from the last one yielded, in order: the first
 * answer, then each change it reads. Answers that show no change (the
 * server's index may move without one) are not yielded. An index lower than
 * the last (a member that forgot it) starts over with a plain read, as
 * Consul's clients do. It ends when the consumer stops, or throws when
 * `signal` aborts or a read fails after the transport's retries.
 */
export async function* watchLoop<T extends { readonly index: number }>(
  transport: HttpTransport,
  path: string,
  options: WatchLoopOptions,
  shape: (answer: T) => string,
): AsyncGenerator<T, void, undefined> {
  const { signal, waitMs } = options;
  if (!(Number.isInteger(waitMs) && waitMs >= 1 && waitMs <= API_BOUNDS.watchWaitMsMax)) {
    throw new RaftLockClientError('bad_request', `waitMs must be an integer from 1 to ${API_BOUNDS.watchWaitMsMax}`);
  }
  const separator = path.includes('?') ? '&' : '?';
  let index = 0;
  let last: string | undefined;
  // Unbounded on purpose: a watch lasts as long as its consumer; each turn is one bounded read, or a pause.
  for (;;) {
    signal?.throwIfAborted();
    const startedAtMs = monotonicNowMs();
    const blocking = index > 0;
    const res = await transport.call<T>({
      method: 'GET',
      path: blocking ? `${path}${separator}index=${index}&wait=${waitMs}ms` : path,
      write: false,
      ...(blocking ? { waitMs } : {}),
      ...(signal !== undefined ? { signal } : {}),
    });
    const answer = res.body;
    if (!(Number.isSafeInteger(answer.index) && answer.index >= 1)) {
      throw new RaftLockClientError('bad_response', `a watched read answered without an index: ${JSON.stringify(answer)}`);
    }
    index = answer.index < index ? 0 : answer.index;
    const now = shape(answer);
    if (now !== last) {
      last = now;
      yield answer;
      continue;
    }
    const tookMs = monotonicNowMs() - startedAtMs;
    if (tookMs < UNCHANGED_PAUSE_MS) await pause(UNCHANGED_PAUSE_MS - tookMs, signal);
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
