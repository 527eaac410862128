/**
 * Signals to a launched process, by PID, or by process group when the node
 * runs under a wrapper. A wrapper such as faketime forks the node and waits
 * for it: SIGKILL to the wrapper's PID alone would orphan the node (still
 * holding its ports and data directory), and SIGSTOP would not pause it. So a
 * wrapped command starts as the leader of its own process group and every
 * signal goes to that group: the wrapper and everything it started.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Target is one launched process: its PID, and whether the signals go to its whole group. */
export interface Target {
  readonly pid: number;
  readonly group: boolean;
}

/** sendSignal signals the target (0: only asks whether it exists); returns false if it is already gone. */
export function sendSignal(target: Target, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(target.group ? -target.pid : target.pid, signal);
    return true;
  } catch {
    return false;
  }
}

const GROUP_POLL_MS = 20;

/**
 * waitGroupGone resolves once no live process is left in group `pgid`, or
 * after `timeoutMs`. Zombies count as gone: they hold no ports, files or
 * locks, and in a container whose PID 1 does not reap, an orphaned node stays
 * a zombie for good. Without /proc (not Linux) it asks kill(-pgid, 0).
 */
export async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(GROUP_POLL_MS);
  }
}

function groupAlive(pgid: number): boolean {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name));
  } catch {
    return sendSignal({ pid: pgid, group: true }, 0);
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}
