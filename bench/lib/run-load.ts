import { fork } from 'node:child_process';
import { resolve } from 'node:path';
import { track } from './process-registry.js';
import type { LoadJob, RunResult } from './workloads.js';

/** The load process's entry point, beside this folder once compiled (dist/bench/load-worker.js). */
const WORKER = resolve(import.meta.dirname, '../load-worker.js');

/**
 * runLoad forks a load process, hands it `job`, and resolves with its
 * result. The process is killed (by PID) if it does not answer within
 * `timeoutMs`, so a stuck run cannot hang the benchmark.
 */
export function runLoad(job: LoadJob, timeoutMs: number): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = track(fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--max-old-space-size=4096'] }));
    let settled = false;
    const finish = (err: Error | null, result?: RunResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      if (err !== null) fail(err);
      else done(result!);
    };
    const timer = setTimeout(() => finish(new Error(`load process gave no result within ${timeoutMs} ms`)), timeoutMs);
    child.on('message', (msg: { type: 'result'; result: RunResult } | { type: 'error'; message: string }) => {
      if (msg.type === 'result') finish(null, msg.result);
      else finish(new Error(`load process failed: ${msg.message}`));
    });
    child.once('exit', (code, signal) => finish(new Error(`load process exited (${code ?? signal}) without a result`)));
    child.send(job);
  });
}
