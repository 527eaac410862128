/**
 * `raftlock member list|add|promote|remove`: runtime membership change from the command line, over the member
 * routes (src/server/member-routes.ts). A new member joins as a learner (`add`), is started with
 * `--initial-cluster-state existing`, catches up, and becomes a voter (`promote`); `remove` takes a member out
 * (a leader hands leadership over first).
 */
import { adminConnection, adminRequest, type AnswerBody } from './admin-request.js';
import { UsageError, endpointsOption, intFlag, parse, printHelp, usageError } from './cli-args.js';
import type { CliIo } from './cli-io.js';

const USAGE = `usage: raftlock member list [--json]
       raftlock member add ID --peer-address HOST:PORT --http-url URL
       raftlock member promote ID [--wait MS]
       raftlock member remove ID
  list     voters and learners, their addresses and, from the leader, how far each is behind
  add      adds ID as a learner (it receives the log but does not vote); then start it with
           raftlock serve --id ID ... --initial-cluster-state existing --cluster-id <the cluster's id>
  promote  makes learner ID a voter once it is close behind the leader; --wait MS keeps retrying that long
           while it catches up (default 0: one try)
  remove   removes voter or learner ID (removing the leader hands leadership to another voter first)
Exit 0 done, 1 refused or failed, 2 bad usage.`;

/** Refusals that pass with time: `promote --wait` retries these. */
const RETRYABLE = new Set(['not_caught_up', 'change_in_progress', 'own_term_not_committed']);
/** Pause between `promote --wait` attempts. */
const PROMOTE_RETRY_MS = 250;

interface MemberRow {
  id: string;
  suffrage: string;
  peerAddress: string | null;
  httpUrl: string | null;
  match?: number;
  lag?: number;
  state?: string;
}

/** memberCommand dispatches `raftlock member VERB ...`. */
export async function memberCommand(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const [verb, ...rest] = argv;
  let parsed;
  try {
    if (verb === undefined) throw new UsageError('missing list, add, promote or remove');
    if (verb === '--help' || verb === '-h') return printHelp(io, USAGE);
    parsed = parse(rest, { ...endpointsOption, json: { type: 'boolean' }, 'peer-address': { type: 'string' }, 'http-url': { type: 'string' }, wait: { type: 'string' } });
    if (parsed.values.help === true) return printHelp(io, USAGE);
  } catch (err) {
    return usageError(io, err, USAGE);
  }
  const { values, positionals } = parsed;
  let conn: ReturnType<typeof adminConnection>;
  let request: () => Promise<number>;
  try {
    conn = adminConnection(values, env);
    const id = (): string => {
      if (positionals.length !== 1 || positionals[0] === undefined) throw new UsageError(`member ${verb}: give exactly one member ID`);
      return positionals[0];
    };
    switch (verb) {
      case 'list':
        if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
        request = () => list(conn, values.json === true, io);
        break;
      case 'add': {
        const member = id();
        const peerAddress = values['peer-address'];
        const httpUrl = values['http-url'];
        if (peerAddress === undefined || httpUrl === undefined) throw new UsageError('member add needs --peer-address HOST:PORT and --http-url URL');
        request = () => change(conn, io, 'POST', '/v1/members', { id: member, peerAddress, httpUrl });
        break;
      }
      case 'promote': {
        const member = id();
        const waitMs = intFlag(values.wait, '--wait', 0);
        request = () => promote(conn, io, member, waitMs);
        break;
      }
      case 'remove': {
        const member = id();
        request = () => change(conn, io, 'DELETE', `/v1/members/${encodeURIComponent(member)}`);
        break;
      }
      default:
        throw new UsageError(`unknown member command "${verb}"`);
    }
  } catch (err) {
    return usageError(io, err, USAGE);
  }
  return request();
}

type Conn = { endpoints: string[]; auth: Record<string, string> };

async function list(conn: Conn, json: boolean, io: CliIo): Promise<number> {
  const r = await adminRequest(conn.endpoints, conn.auth, 'GET', '/v1/members');
  if (!r.answered) return noMember(io, 'list', r.failures);
  if (r.status !== 200) return refused(io, 'list', r.body, r.status);
  if (json) {
    io.out(`${JSON.stringify(r.body)}\n`);
    return 0;
  }
  const b = r.body as { leader?: string | null; term?: number; configurationIndex?: number; committed?: boolean; members?: MemberRow[] };
  io.out(`leader ${b.leader ?? '(none)'}, term ${b.term}; configuration at index ${b.configurationIndex}${b.committed === true ? '' : ' (not committed yet)'}\n`);
  const rows = (b.members ?? []).map((m) => [m.id, m.suffrage, m.peerAddress ?? '-', m.httpUrl ?? '-', m.match?.toString() ?? '-', m.lag?.toString() ?? '-', m.state ?? '-']);
  io.out(table([['ID', 'SUFFRAGE', 'PEER ADDRESS', 'HTTP URL', 'MATCH', 'LAG', 'STATE'], ...rows]));
  return 0;
}

async function change(conn: Conn, io: CliIo, method: string, path: string, body?: unknown): Promise<number> {
  const r = await adminRequest(conn.endpoints, conn.auth, method, path, body);
  if (!r.answered) return noMember(io, 'change', r.failures);
  if (r.status !== 200 && r.status !== 201) return refused(io, 'change', r.body, r.status);
  io.out(`${describeChange(r.body)}\n`);
  return 0;
}

/** promote retries a refusal that passes with time (the learner catching up) until `waitMs` has passed. */
async function promote(conn: Conn, io: CliIo, id: string, waitMs: number): Promise<number> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const r = await adminRequest(conn.endpoints, conn.auth, 'POST', `/v1/members/${encodeURIComponent(id)}/promote`);
    if (!r.answered) return noMember(io, 'promote', r.failures);
    if (r.status === 200) {
      io.out(`${describeChange(r.body)}\n`);
      return 0;
    }
    const retry = r.status === 409 && RETRYABLE.has(String(r.body.reason)) && Date.now() + PROMOTE_RETRY_MS < deadline;
    if (!retry) return refused(io, 'promote', r.body, r.status);
    await new Promise((resolve) => setTimeout(resolve, PROMOTE_RETRY_MS));
  }
}

function describeChange(body: AnswerBody): string {
  const members = (body.members as MemberRow[] | undefined) ?? [];
  const voters = members.filter((m) => m.suffrage === 'voter').map((m) => m.id);
  const learners = members.filter((m) => m.suffrage === 'learner').map((m) => m.id);
  const what = { addLearner: 'added learner', promote: 'promoted', remove: 'removed' }[String(body.change)] ?? String(body.change);
  return `${what} ${String(body.id)}: voters ${voters.join(',') || '(none)'}; learners ${learners.join(',') || '(none)'}`;
}

function refused(io: CliIo, what: string, body: AnswerBody, status: number): number {
  io.err(`raftlock: member ${what}: ${body.message ?? `HTTP ${status}`}\n`);
  return 1;
}

function noMember(io: CliIo, what: string, failures: readonly string[]): number {
  io.err(`raftlock: member ${what}: no member answered:\n  ${failures.join('\n  ')}\n`);
  return 1;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
