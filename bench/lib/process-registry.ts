import type { ChildProcess } from 'node:child_process';

/**
 * Every process the benchmark starts is registered here by PID, so a failure
 * or Ctrl-C kills exactly those (never anything found by name).
 */
const children = new Set<ChildProcess>();
const cleanups = new Set<() => Promise<void> | void>();

/** track registers a child; it leaves the registry when it exits. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** onCleanup registers an extra cleanup (a ProcessCluster's stop); returns its unregister function. */
export function onCleanup(fn: () => Promise<void> | void): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** killAll SIGKILLs every tracked child by PID and runs the cleanups. */
export async function killAll(): Promise<void> {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  const fns = [...cleanups];
  cleanups.clear();
  await Promise.allSettled(fns.map(async (fn) => fn()));
}

/** installSignalHandlers makes SIGINT/SIGTERM and uncaught errors kill every tracked process before exiting. */
export function installSignalHandlers(): void {
  const die = (code: number) => (reason?: unknown): void => {
    if (reason !== undefined && typeof reason !== 'string') console.error(reason);
    void killAll().finally(() => process.exit(code));
  };
  process.once('SIGINT', die(130));
  process.once('SIGTERM', die(143));
  process.once('uncaughtException', die(1));
  process.once('unhandledRejection', die(1));
}

/** runMain runs a bench entry point and exits with its code, killing every process it started, also on failure. */
export function runMain(main: () => Promise<number>): void {
  main()
    .then(async (code) => {
      await killAll();
      process.exit(code);
    })
    .catch(async (err: unknown) => {
      console.error(err);
      await killAll();
      process.exit(1);
    });
}
