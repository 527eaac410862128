import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { API_BOUNDS } from '../api/contract.js';
import { LockHeldError, RaftLockClient, type EndpointStatus, type LockHandle, type LockInfo } from '../client/index.js';
import { UsageError, connectionFrom, endpointsOption, holdCommandOptions, intFlag, messageOf, parse, printHelp, usageError, type Connection } from './cli-args.js';
import type { CliIo } from './cli-io.js';

const DEFAULT_TTL_MS = 15_000;
/**
 * LOCK_LOST_EXIT_CODE is the exit code of `raftlock lock` and `raftlock elect` when the lock (the leadership) was
 * lost while COMMAND ran (COMMAND was then stopped): sysexits' EX_TEMPFAIL, a failure worth retrying, and not 128 + a signal, which COMMAND's own death by
 * that signal would give.
 */
export const LOCK_LOST_EXIT_CODE = 75;
const DEFAULT_KILL_GRACE_MS = 5_000;
/** A CLI command should fail fast when a member is down: shorter than the library's defaults. */
const CLI_REQUEST_TIMEOUT_MS = 3_000;
const CLI_CALL_TIMEOUT_MS = 15_000;
/** Signals the lock command passes on to its child (SIGINT from a terminal reaches the child by itself). */
const FORWARDED_SIGNALS = ['SIGTERM', 'SIGHUP'] as const;

const LOCK_USAGE = `usage: raftlock lock NAME [--ttl MS] [--wait MS] [--kill-grace MS] [--endpoints URLS] -- COMMAND [ARGS...]
  Runs COMMAND while holding lock NAME (env RAFTLOCK_LOCK, RAFTLOCK_TOKEN = the fencing token),
  releases it when COMMAND exits, and exits with COMMAND's exit code. If the lock is lost,
  COMMAND gets SIGTERM, then SIGKILL after --kill-grace (default ${DEFAULT_KILL_GRACE_MS} ms), and the exit code is ${LOCK_LOST_EXIT_CODE}.
  --ttl MS     lease, renewed every ttl/3 (default ${DEFAULT_TTL_MS}; ${API_BOUNDS.ttlMsMin}..${API_BOUNDS.ttlMsMax})
  --wait MS    how long to queue for the lock (default 0; at most ${API_BOUNDS.waitMsMax}); exit 1 if not acquired in time
Exit codes: COMMAND's (128 + N if signal N ended it), 1 lock not acquired, 2 bad usage,
  ${LOCK_LOST_EXIT_CODE} lock lost while COMMAND ran, 127 COMMAND could not be started.`;
const STATUS_USAGE = `usage: raftlock status [--json] [--endpoints URLS]
  Prints each endpoint's Raft status (id, role, term, leader, commit and applied index) and what the member
  knows is wrong with it (removed, diverged, cluster_id_rejected).`;
const LOCKS_USAGE = `usage: raftlock locks [--prefix P] [--limit N] [--after NAME] [--json] [--endpoints URLS]
  Lists locks in name order with their holders, waiters and last fencing token.`;
const RELEASE_USAGE = `usage: raftlock release NAME --force [--endpoints URLS]
  Force-releases NAME: removes every holder and waiter. Holders learn it at their next renewal.`;

/**
 * lockCommand: `raftlock lock NAME [--ttl MS] [--wait MS] [--kill-grace MS]
 * [--endpoints URLS] -- COMMAND ARGS...`. Exit codes: COMMAND's own (128 +
 * signal number if a signal ended it), 1 if the lock was not acquired, 2 on
 * bad usage (a --ttl or --wait outside the API's bounds too),
 * LOCK_LOST_EXIT_CODE if the lock was lost while COMMAND ran, 127 if COMMAND
 * could not be started.
 */
export async function lockCommand(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let parsed: { name: string; command: string[]; ttlMs: number; waitMs: number; killGraceMs: number; connection: Connection };
  try {
    const { values, positionals } = parse(argv, holdCommandOptions);
    if (values.help === true) return printHelp(io, LOCK_USAGE);
    const [name, ...command] = positionals;
    if (name === undefined) throw new UsageError('missing lock NAME');
    if (command.length === 0) throw new UsageError('missing COMMAND after --');
    parsed = {
      name,
      command,
      ttlMs: intFlag(values.ttl, '--ttl', DEFAULT_TTL_MS, { min: API_BOUNDS.ttlMsMin, max: API_BOUNDS.ttlMsMax }),
      waitMs: intFlag(values.wait, '--wait', 0, { max: API_BOUNDS.waitMsMax }),
      killGraceMs: intFlag(values['kill-grace'], '--kill-grace', DEFAULT_KILL_GRACE_MS),
      connection: connectionFrom(values, env),
    };
  } catch (err) {
    return usageError(io, err, LOCK_USAGE);
  }

  const { name, command, ttlMs, waitMs, killGraceMs } = parsed;
  let lock: LockHandle;
  try {
    const client = newClient(parsed.connection);
    lock = await client.acquire(name, { ttlMs, waitMs });
  } catch (err) {
    if (err instanceof LockHeldError) {
      const holders = err.holders.map((h) => `${h.owner} (token ${h.token})`).join(', ');
      io.err(`raftlock: lock ${name} not acquired within ${waitMs} ms${holders === '' ? '' : `; held by ${holders}`}\n`);
    } else {
      io.err(`raftlock: cannot acquire lock ${name}: ${messageOf(err)}\n`);
    }
    return 1;
  }

  const exitCode = await runWhileHeld(lock, command, env, killGraceMs, io);
  try {
    await lock.release();
  } catch (err) {
    io.err(`raftlock: could not release lock ${name} (its lease will expire): ${messageOf(err)}\n`);
  }
  return exitCode;
}

/** runWhileHeld spawns the command and resolves with its exit code; kills it if the lock (or leadership: elect) is lost. */
export async function runWhileHeld(lock: Pick<LockHandle, 'name' | 'token' | 'lost'>, command: string[], env: NodeJS.ProcessEnv, killGraceMs: number, io: CliIo): Promise<number> {
  const [file, ...args] = command;
  if (file === undefined) throw new Error('invariant: empty command');
  const child = spawn(file, args, { stdio: 'inherit', env: { ...env, RAFTLOCK_LOCK: lock.name, RAFTLOCK_TOKEN: String(lock.token) } });
  let killTimer: NodeJS.Timeout | undefined;
  const onLost = (): void => {
    io.err(`raftlock: ${messageOf(lock.lost.reason)}; stopping the command (SIGTERM, SIGKILL after ${killGraceMs} ms)\n`);
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), killGraceMs);
  };
  if (lock.lost.aborted) onLost();
  else lock.lost.addEventListener('abort', onLost, { once: true });
  // Stay alive on these signals so the lock is released after the child has stopped.
  const forwarders = FORWARDED_SIGNALS.map((signal) => [signal, () => void child.kill(signal)] as const);
  const ignoreInterrupt = (): void => {};
  for (const [signal, forward] of forwarders) process.on(signal, forward);
  process.on('SIGINT', ignoreInterrupt);
  try {
    const end = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: Error }>((resolve) => {
      child.once('error', (error) => resolve({ error }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    if ('error' in end) {
      io.err(`raftlock: cannot run ${file}: ${end.error.message}\n`);
      return 127;
    }
    if (lock.lost.aborted) return LOCK_LOST_EXIT_CODE;
    if (end.code !== null) return end.code;
    return 128 + (end.signal !== null ? (osConstants.signals[end.signal] ?? 0) : 0);
  } finally {
    clearTimeout(killTimer);
    lock.lost.removeEventListener('abort', onLost);
    for (const [signal, forward] of forwarders) process.off(signal, forward);
    process.off('SIGINT', ignoreInterrupt);
  }
}

/** statusCommand: `raftlock status [--json]`. Exit 0 if any endpoint answered, 1 if none did. */
export async function statusCommand(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let connection: Connection;
  let json: boolean;
  try {
    const { values, positionals } = parse(argv, { ...endpointsOption, json: { type: 'boolean' } });
    if (values.help === true) return printHelp(io, STATUS_USAGE);
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    connection = connectionFrom(values, env);
    json = values.json === true;
  } catch (err) {
    return usageError(io, err, STATUS_USAGE);
  }
  let statuses: EndpointStatus[];
  try {
    statuses = await newClient(connection).statusOfAll();
  } catch (err) {
    io.err(`raftlock: ${messageOf(err)}\n`);
    return 1;
  }
  if (json) {
    io.out(`${JSON.stringify(statuses, null, 2)}\n`);
  } else {
    // LAG: entries this member has yet to apply of what the leader (as read in this same pass) has committed.
    const leaderCommit = statuses.find((s) => 'status' in s && s.status.role === 'leader');
    const commitOfLeader = leaderCommit !== undefined && 'status' in leaderCommit ? leaderCommit.status.commitIndex : null;
    const rows = statuses.map((s) =>
      'status' in s
        ? [
            s.endpoint,
            s.status.id,
            (s.status.learners ?? []).includes(s.status.id) ? 'learner' : s.status.role,
            String(s.status.term),
            s.status.leader ?? '-',
            String(s.status.commitIndex),
            String(s.status.appliedIndex),
            commitOfLeader === null ? '-' : String(Math.max(0, commitOfLeader - s.status.appliedIndex)),
            [...s.status.members, ...(s.status.learners ?? []).map((l) => `${l}(learner)`)].join(','),
            (s.status.problems ?? []).map((p) => p.reason).join(',') || '-',
          ]
        : [s.endpoint, '-', 'unreachable', '-', '-', '-', '-', '-', '-', s.error],
    );
    io.out(formatTable(['ENDPOINT', 'ID', 'ROLE', 'TERM', 'LEADER', 'COMMIT', 'APPLIED', 'LAG', 'MEMBERS', 'PROBLEMS'], rows));
  }
  return statuses.some((s) => 'status' in s) ? 0 : 1;
}

/** locksCommand: `raftlock locks [--prefix P] [--limit N] [--after NAME] [--json]`. */
export async function locksCommand(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let options: { connection: Connection; json: boolean; prefix?: string; after?: string; limit?: number };
  try {
    const { values, positionals } = parse(argv, {
      ...endpointsOption,
      json: { type: 'boolean' },
      prefix: { type: 'string' },
      after: { type: 'string' },
      limit: { type: 'string' },
    });
    if (values.help === true) return printHelp(io, LOCKS_USAGE);
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const limit = values.limit === undefined ? undefined : intFlag(values.limit, '--limit', 0);
    if (limit === 0) throw new UsageError('--limit must be at least 1');
    options = {
      connection: connectionFrom(values, env),
      json: values.json === true,
      ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
      ...(values.after !== undefined ? { after: values.after } : {}),
      ...(limit !== undefined ? { limit } : {}),
    };
  } catch (err) {
    return usageError(io, err, LOCKS_USAGE);
  }
  let locks: LockInfo[];
  try {
    const { connection, json: _json, ...listOptions } = options;
    locks = await newClient(connection).list(listOptions);
  } catch (err) {
    io.err(`raftlock: ${messageOf(err)}\n`);
    return 1;
  }
  if (options.json) {
    io.out(`${JSON.stringify(locks, null, 2)}\n`);
    return 0;
  }
  if (locks.length === 0) {
    io.out('(no locks)\n');
    return 0;
  }
  const rows = locks.map((l) => [
    l.name,
    l.holders[0]?.mode ?? '-',
    l.holders.length === 0 ? '-' : l.holders.map((h) => `${h.owner}#${h.token} (${Math.round(h.expiresInMs)} ms)`).join(', '),
    String(l.waiters),
    String(l.lastToken),
  ]);
  io.out(formatTable(['NAME', 'MODE', 'HOLDERS', 'WAITERS', 'LAST_TOKEN'], rows));
  return 0;
}

/** releaseCommand: `raftlock release NAME --force`; without --force it explains and exits 2. */
export async function releaseCommand(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let name: string;
  let connection: Connection;
  try {
    const { values, positionals } = parse(argv, { ...endpointsOption, force: { type: 'boolean' } });
    if (values.help === true) return printHelp(io, RELEASE_USAGE);
    if (positionals.length !== 1 || positionals[0] === undefined) throw new UsageError('give exactly one lock NAME');
    name = positionals[0];
    connection = connectionFrom(values, env);
    if (values.force !== true) {
      io.err(
        `raftlock: release takes a lock away from its holders, which may still be working under it (they learn it at their next renewal).\n` +
          `Run \`raftlock release ${name} --force\` if that is what you want. A holder releases its own lock by exiting \`raftlock lock\`.\n`,
      );
      return 2;
    }
  } catch (err) {
    return usageError(io, err, RELEASE_USAGE);
  }
  try {
    const result = await newClient(connection).forceRelease(name);
    io.out(`released ${name}: ${result.holdersRemoved} holder(s) and ${result.waitersRemoved} waiter(s) removed\n`);
    return 0;
  } catch (err) {
    io.err(`raftlock: cannot release ${name}: ${messageOf(err)}\n`);
    return 1;
  }
}

// ---- helpers ------------------------------------------------------------------------------

/** newClient is a client for one CLI command: it fails fast when a member is down. */
export function newClient(connection: Connection): RaftLockClient {
  return new RaftLockClient({ ...connection, requestTimeoutMs: CLI_REQUEST_TIMEOUT_MS, callTimeoutMs: CLI_CALL_TIMEOUT_MS });
}

/** formatTable left-aligns columns two spaces apart. */
function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n`;
}
