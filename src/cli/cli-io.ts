/** CliIo is where a command writes; tests capture it. */
export interface CliIo {
  out(s: string): void;
  err(s: string): void;
}

export const processIo: CliIo = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
};
