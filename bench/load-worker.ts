/**
 * The load process: the benchmark's clients run here, in a process of their
 * own, so their CPU time is measured apart from the servers'. The parent
 * forks it, sends one LoadJob over IPC, and gets one RunResult back.
 */
import { runLockWorkload, runSessionWorkload, type LoadJob, type RunResult } from './lib/workloads.js';

type Reply = { type: 'result'; result: RunResult } | { type: 'error'; message: string };

function send(reply: Reply): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) {
      process.stdout.write(`${JSON.stringify(reply)}\n`, () => resolve());
      return;
    }
    process.send(reply, undefined, {}, () => resolve());
  });
}

process.once('message', (job: LoadJob) => {
  const run = job.workload.kind === 'sessions' ? runSessionWorkload(job) : runLockWorkload(job);
  run
    .then((result) => send({ type: 'result', result }))
    .catch((err: unknown) => send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }))
    .finally(() => process.exit(0));
});
