import { LockHeldError, type Leadership } from '../client/index.js';
import { UsageError, connectionFrom, holdCommandOptions, intFlag, messageOf, parse, printHelp, usageError, type Connection } from './cli-args.js';
import type { CliIo } from './cli-io.js';
import { LOCK_LOST_EXIT_CODE, newClient, runWhileHeld } from './client-commands.js';

const DEFAULT_TTL_MS = 15_000;
const DEFAULT_KILL_GRACE_MS = 5_000;
/** Signals that end `raftlock elect` without a COMMAND: it resigns, then exits 0. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const ELECT_USAGE = `usage: raftlock elect NAME VALUE [--ttl MS] [--wait MS] [--kill-grace MS] [--endpoints URLS] [-- COMMAND [ARGS...]]
  Campaigns in election NAME with VALUE (waiting in line until elected), prints
  "elected NAME token T value VALUE" once leader, and resigns when it is done.
  With COMMAND: runs it while leader (env RAFTLOCK_LOCK = NAME, RAFTLOCK_TOKEN = the
  leadership's fencing token, RAFTLOCK_VALUE = VALUE), resigns when it exits and exits
  with its exit code. If leadership is lost, COMMAND gets SIGTERM, then SIGKILL after
  --kill-grace (default ${DEFAULT_KILL_GRACE_MS} ms), and the exit code is ${LOCK_LOST_EXIT_CODE}.
  Without COMMAND: stays leader until SIGINT/SIGTERM/SIGHUP (resigns, exits 0) or until
  leadership is lost (exits 1).
  --ttl MS     leadership lease, renewed every ttl/3 (default ${DEFAULT_TTL_MS})
  --wait MS    give up after waiting this long to be elected (exit 1); default: wait until elected
Exit codes: COMMAND's (128 + N if signal N ended it), 1 not elected or leadership lost without COMMAND,
  2 bad usage, ${LOCK_LOST_EXIT_CODE} leadership lost while COMMAND ran, 127 COMMAND could not be started.`;

/**
 * electCommand: `raftlock elect NAME VALUE [-- COMMAND ARGS...]`. Exit codes:
 * COMMAND's own (128 + signal number if a signal ended it), 0 when stopped by
 * a signal without COMMAND, 1 if not elected or leadership was lost without
 * COMMAND, 2 on bad usage, LOCK_LOST_EXIT_CODE (75) if leadership was lost
 * while COMMAND ran (runWhileHeld stopped it), 127 if COMMAND could not be started.
 */
export async function electCommand(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let parsed: { name: string; value: string; command: string[]; ttlMs: number; waitMs: number | undefined; killGraceMs: number; connection: Connection };
  try {
    const { values, positionals } = parse(argv, holdCommandOptions);
    if (values.help === true) return printHelp(io, ELECT_USAGE);
    const [name, value, ...command] = positionals;
    if (name === undefined) throw new UsageError('missing election NAME');
    if (value === undefined) throw new UsageError('missing VALUE (what the leader announces, e.g. its address)');
    parsed = {
      name,
      value,
      command,
      ttlMs: intFlag(values.ttl, '--ttl', DEFAULT_TTL_MS),
      waitMs: values.wait === undefined ? undefined : intFlag(values.wait, '--wait', 0),
      killGraceMs: intFlag(values['kill-grace'], '--kill-grace', DEFAULT_KILL_GRACE_MS),
      connection: connectionFrom(values, env),
    };
  } catch (err) {
    return usageError(io, err, ELECT_USAGE);
  }

  const { name, value, command, ttlMs, waitMs, killGraceMs } = parsed;
  // A stop signal while waiting to be elected abandons the campaign.
  const stop = new AbortController();
  const onStop = (): void => stop.abort(new Error('stopped by a signal'));
  for (const signal of STOP_SIGNALS) process.on(signal, onStop);
  let leadership: Leadership;
  try {
    try {
      leadership = await newClient(parsed.connection).campaign(name, value, { ttlMs, signal: stop.signal, ...(waitMs !== undefined ? { waitMs } : {}) });
    } catch (err) {
      if (stop.signal.aborted) {
        io.err(`raftlock: campaign for ${name} stopped before it was elected\n`);
        return 1;
      }
      if (err instanceof LockHeldError) {
        const leader = err.holders[0];
        io.err(`raftlock: not elected leader of ${name} within ${waitMs ?? 0} ms${leader === undefined ? '' : `; ${leader.owner} (token ${leader.token}) leads`}\n`);
      } else {
        io.err(`raftlock: cannot campaign for ${name}: ${messageOf(err)}\n`);
      }
      return 1;
    }
    io.out(`elected ${name} token ${leadership.token} value ${value}\n`);
    const exitCode =
      command.length > 0
        ? await runWhileHeld(leadership, command, { ...env, RAFTLOCK_VALUE: value }, killGraceMs, io)
        : await leadUntilStopped(leadership, stop.signal, io);
    try {
      await leadership.resign();
    } catch (err) {
      io.err(`raftlock: could not resign ${name} (its lease will expire): ${messageOf(err)}\n`);
    }
    return exitCode;
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, onStop);
  }
}

/** leadUntilStopped waits for a stop signal (exit 0) or the loss of leadership (exit 1). */
async function leadUntilStopped(leadership: Leadership, stop: AbortSignal, io: CliIo): Promise<number> {
  if (leadership.lost.aborted) return lostExit(leadership, io);
  const lost = await new Promise<boolean>((resolve) => {
    const onLost = (): void => resolve(true);
    const onStop = (): void => resolve(false);
    leadership.lost.addEventListener('abort', onLost, { once: true });
    stop.addEventListener('abort', onStop, { once: true });
    if (stop.aborted) resolve(false);
  });
  return lost ? lostExit(leadership, io) : 0;
}

function lostExit(leadership: Leadership, io: CliIo): number {
  io.err(`raftlock: leadership of ${leadership.name} lost: ${messageOf(leadership.lost.reason)}\n`);
  return 1;
}
