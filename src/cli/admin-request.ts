/**
 * One operator request to a running cluster: the admin commands (transfer-leader, member) send it to each
 * endpoint in turn until one gives a definite answer. Any member relays these routes to the leader, so the next
 * endpoint helps only when this one could not answer at all: unreachable, or no leader known right now.
 */
import { connectionFrom, messageOf } from './cli-args.js';

/** Bound on one HTTP request; a transfer or a membership change waits at most a few election timeouts on the server. */
export const ADMIN_REQUEST_TIMEOUT_MS = 10_000;

/** Answers that another member might not give: try the next endpoint. Anything else is the cluster's answer. */
const TRY_ELSEWHERE = new Set(['no_leader', 'not_leader', 'shutting_down', 'not_ready']);

/** AdminAnswer is a definite answer from one endpoint, or why no endpoint gave one. */
export type AdminAnswer =
  | { readonly answered: true; readonly status: number; readonly body: AnswerBody }
  | { readonly answered: false; readonly failures: readonly string[] };

/** AnswerBody is an answer's JSON: a route's result, or the API's `{error, message}`. */
export type AnswerBody = Record<string, unknown> & { error?: string; message?: string };

/** adminRequest sends `method path` with an optional JSON body to each endpoint in turn; see the file header. */
export async function adminRequest(endpoints: readonly string[], auth: Record<string, string>, method: string, path: string, body?: unknown): Promise<AdminAnswer> {
  const failures: string[] = [];
  for (const endpoint of endpoints) {
    let res: Response;
    try {
      res = await fetch(new URL(path, endpoint), {
        method,
        headers: body === undefined ? auth : { 'content-type': 'application/json', ...auth },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(ADMIN_REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      failures.push(`${endpoint}: ${messageOf(err)}`);
      continue;
    }
    const answer = (await res.json().catch(() => ({}))) as AnswerBody;
    if (res.status === 503 && TRY_ELSEWHERE.has(answer.error ?? '')) {
      failures.push(`${endpoint}: ${answer.message ?? `HTTP ${res.status}`}`);
      continue;
    }
    return { answered: true, status: res.status, body: answer };
  }
  return { answered: false, failures };
}

/**
 * adminConnection is the endpoints and the bearer token header of an admin command. These commands use fetch, which
 * takes no per-call CA in Node 20: for HTTPS under a private CA, set NODE_EXTRA_CA_CERTS to the CA file.
 */
export function adminConnection(values: { endpoints?: string; token?: string; ca?: string }, env: NodeJS.ProcessEnv): { endpoints: string[]; auth: Record<string, string> } {
  const { endpoints, token } = connectionFrom(values, env);
  return { endpoints, auth: token === undefined ? {} : { authorization: `Bearer ${token}` } };
}
