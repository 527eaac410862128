import type { CliIo } from '../../src/cli/cli-io.js';

/** CapturedIo is a CliIo that keeps what a command writes, for assertions. */
export interface CapturedIo {
  readonly out: string[];
  readonly err: string[];
  readonly io: CliIo;
}

/** captureIo makes a CliIo that records stdout and stderr writes. */
export function captureIo(): CapturedIo {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s) => void out.push(s), err: (s) => void err.push(s) } };
}
