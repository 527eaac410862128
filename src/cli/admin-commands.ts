/**
 * The operator's commands: `raftlock transfer-leader [--to ID]` and
 * `raftlock snapshot save FILE` talk to a running cluster over HTTP (any
 * member relays a transfer to the leader; a backup is served by the leader,
 * so each endpoint is tried in turn); `raftlock snapshot restore` writes a
 * member's store of a new cluster from a backup file, offline.
 */
import { createWriteStream } from 'node:fs';
import { access, constants, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigError, parseClusterId, parseHostPort, parseIdMap } from '../node/node-config.js';
import { restoreBackup } from '../node/restore-backup.js';
import { decodeBackup, type BackupHeader } from '../storage/index.js';
import { adminConnection, adminRequest } from './admin-request.js';
import { UsageError, endpointsOption, messageOf, parse, printHelp, usageError } from './cli-args.js';
import type { CliIo } from './cli-io.js';

const TRANSFER_USAGE = `usage: raftlock transfer-leader [--to ID] [--endpoints URLS]
  Hands leadership to member ID, or to the most caught-up member, and waits (bounded) until it leads.`;
const SNAPSHOT_USAGE = `usage: raftlock snapshot save FILE [--endpoints URLS]
       raftlock snapshot restore FILE --data-dir DIR --id ID --peers ID=HOST:PORT,... --cluster-id NEW_ID
  save     writes a consistent backup of the running cluster (taken on the leader after a read barrier) to FILE.
  restore  seeds member ID of a NEW cluster from FILE: run it for every member with the same --peers and the same
           new --cluster-id, then start each with \`raftlock serve\` (no --initial-cluster-state: the store is there).`;
/** Bound on a backup download. */
const SAVE_TIMEOUT_MS = 600_000;

/** transferLeaderCommand: exit 0 once another member (or the one named) leads, 1 if that failed, 2 on bad usage. */
export async function transferLeaderCommand(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let endpoints: string[];
  let auth: Record<string, string>;
  let to: string | undefined;
  try {
    const { values, positionals } = parse(argv, { ...endpointsOption, to: { type: 'string' } });
    if (values.help === true) return printHelp(io, TRANSFER_USAGE);
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    ({ endpoints, auth } = adminConnection(values, env));
    to = values.to;
  } catch (err) {
    return usageError(io, err, TRANSFER_USAGE);
  }
  const r = await adminRequest(endpoints, auth, 'POST', '/v1/admin/transfer-leader', to === undefined ? {} : { to });
  if (!r.answered) {
    io.err(`raftlock: transfer-leader: no member could do it:\n  ${r.failures.join('\n  ')}\n`);
    return 1;
  }
  const body = r.body as { transferred?: boolean; from?: string; leader?: string; term?: number; message?: string };
  if (r.status !== 200) {
    // A definite answer (a bad member id, a transfer that did not complete): other members would relay to the same leader.
    io.err(`raftlock: transfer-leader: ${body.message ?? `HTTP ${r.status}`}\n`);
    return 1;
  }
  io.out(body.transferred === true ? `leadership moved from ${body.from} to ${body.leader} (term ${body.term})\n` : `${body.leader} already leads (term ${body.term})\n`);
  return 0;
}

/** snapshotCommand: `raftlock snapshot save|restore ...`. Exit 0 done, 1 failed or refused, 2 bad usage. */
export async function snapshotCommand(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === 'save') return saveCommand(rest, env, io);
  if (verb === 'restore') return restoreCommand(rest, io);
  if (verb === '--help' || verb === '-h') return printHelp(io, SNAPSHOT_USAGE);
  return usageError(io, new UsageError(verb === undefined ? 'missing save or restore' : `unknown snapshot command "${verb}"`), SNAPSHOT_USAGE);
}

async function saveCommand(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let endpoints: string[];
  let auth: Record<string, string>;
  let file: string;
  try {
    const { values, positionals } = parse(argv, endpointsOption);
    if (values.help === true) return printHelp(io, SNAPSHOT_USAGE);
    if (positionals.length !== 1 || positionals[0] === undefined) throw new UsageError('give exactly one FILE');
    file = positionals[0];
    ({ endpoints, auth } = adminConnection(values, env));
  } catch (err) {
    return usageError(io, err, SNAPSHOT_USAGE);
  }
  try {
    // A local problem is not the cluster's: say so at once instead of trying every member.
    await access(dirname(file), constants.W_OK);
  } catch (err) {
    io.err(`raftlock: snapshot save: cannot write ${file}: ${messageOf(err)}\n`);
    return 1;
  }
  const failures: string[] = [];
  for (const endpoint of endpoints) {
    const outcome = await saveFrom(endpoint, file, auth);
    if (typeof outcome === 'string') {
      failures.push(`${endpoint}: ${outcome}`);
      continue;
    }
    const h = outcome.header;
    io.out(`saved a backup of cluster ${h.clusterId} at index ${h.index} (term ${h.term}, members ${h.members.join(',')}, taken on ${h.takenFrom}) to ${file}: ${outcome.bytes} bytes\n`);
    return 0;
  }
  io.err(`raftlock: snapshot save: no member served a backup (it is taken on the leader):\n  ${failures.join('\n  ')}\n`);
  return 1;
}

/**
 * saveFrom downloads a backup from one endpoint into FILE.part, checks it whole (a transfer cut short must not
 * pass for a backup), and renames it to FILE. Returns what it saved, or why not.
 */
async function saveFrom(endpoint: string, file: string, auth: Record<string, string>): Promise<{ header: BackupHeader; bytes: number } | string> {
  const partial = `${file}.part`;
  try {
    const res = await fetch(new URL('/v1/snapshot', endpoint), { headers: auth, signal: AbortSignal.timeout(SAVE_TIMEOUT_MS) });
    if (!res.ok || res.body === null) {
      const body = (await res.json().catch(() => ({}))) as { message?: string };
      return body.message ?? `HTTP ${res.status}`;
    }
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(partial));
    const bytes = await readFile(partial);
    const { header } = decodeBackup(bytes);
    await rename(partial, file);
    return { header, bytes: bytes.length };
  } catch (err) {
    await rm(partial, { force: true });
    return messageOf(err);
  }
}

async function restoreCommand(argv: string[], io: CliIo): Promise<number> {
  let file: string;
  let target: { dataDir: string; id: string; clusterId: string; voters: string[] };
  try {
    const { values, positionals } = parse(argv, {
      help: { type: 'boolean', short: 'h' },
      'data-dir': { type: 'string' },
      id: { type: 'string' },
      peers: { type: 'string' },
      'cluster-id': { type: 'string' },
    });
    if (values.help === true) return printHelp(io, SNAPSHOT_USAGE);
    if (positionals.length !== 1 || positionals[0] === undefined) throw new UsageError('give exactly one FILE');
    file = positionals[0];
    const need = (v: string | undefined, flag: string): string => {
      if (v === undefined || v === '') throw new UsageError(`missing ${flag}`);
      return v;
    };
    const peers = parseIdMap(need(values.peers, '--peers'), '--peers', (v) => parseHostPort(v, '--peers'));
    const id = need(values.id, '--id');
    if (!(id in peers)) throw new UsageError(`--peers must list this member (${id})`);
    target = { dataDir: need(values['data-dir'], '--data-dir'), id, clusterId: parseClusterId(need(values['cluster-id'], '--cluster-id'), '--cluster-id'), voters: Object.keys(peers) };
  } catch (err) {
    return usageError(io, err instanceof ConfigError ? new UsageError(err.message) : err, SNAPSHOT_USAGE);
  }
  try {
    const bytes = await readFile(file);
    const r = await restoreBackup(bytes, target);
    io.out(
      `restored ${file} (cluster ${r.header.clusterId}, index ${r.header.index}, term ${r.header.term}: ${r.locks} held locks, ${r.sessions} sessions) ` +
        `into ${target.dataDir} as member ${target.id} of the new cluster ${target.clusterId} (members ${target.voters.join(',')}).\n` +
        `Start it with raftlock serve --id ${target.id} --data-dir ${target.dataDir} and the same --peers; it needs no --initial-cluster-state.\n`,
    );
    return 0;
  } catch (err) {
    const what = (err as { code?: unknown }).code === 'backup_damaged' ? `${file} is not an intact backup: ` : '';
    io.err(`raftlock: snapshot restore: ${what}${messageOf(err)}\n`);
    return 1;
  }
}
