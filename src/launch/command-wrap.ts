/**
 * Running a node's command under another program: Debian's `faketime` to
 * skew one member's wall clock (`faketime -f '+4s' node main.js serve ...`),
 * or `taskset`, `strace`, a shell script.
 */

/** CommandWrap names the program a node runs under, its own arguments, and environment to add. */
export interface CommandWrap {
  /** The wrapping program, e.g. `faketime` (looked up on PATH). */
  readonly command: string;
  /** Its arguments, placed before the node's own command, e.g. `['-f', '+4s']`. */
  readonly args: readonly string[];
  /** Added to the node's environment last (it wins), e.g. `{ FAKETIME_DONT_FAKE_MONOTONIC: '1' }`. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Invocation is what to hand to spawn. */
export interface Invocation {
  readonly command: string;
  readonly args: string[];
  readonly env: NodeJS.ProcessEnv;
}

/**
 * wrapInvocation puts `inner` under `wrap` (if any): the wrapper's command
 * and arguments come first, then the inner command line, and the wrapper's
 * environment is laid over the inner one.
 */
export function wrapInvocation(inner: Invocation, wrap: CommandWrap | undefined): Invocation {
  if (wrap === undefined) return inner;
  if (wrap.command === '') throw new Error('a command wrap needs a command');
  return { command: wrap.command, args: [...wrap.args, inner.command, ...inner.args], env: { ...inner.env, ...wrap.env } };
}

/** describeWrap is a wrap as one line for a node's log, e.g. `faketime -f +4s (FAKETIME_DONT_FAKE_MONOTONIC=1)`. */
export function describeWrap(wrap: CommandWrap): string {
  const env = Object.entries(wrap.env ?? {}).map(([k, v]) => `${k}=${v}`);
  return `${[wrap.command, ...wrap.args].join(' ')}${env.length > 0 ? ` (${env.join(' ')})` : ''}`;
}
