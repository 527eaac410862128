/**
 * Command-line helpers shared by the client and admin commands: strict
 * parsing whose errors are usage errors (exit 2), the endpoint list, integer
 * flags, help and error printing.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { CliIo } from './cli-io.js';

/** DEFAULT_ENDPOINTS are the HTTP addresses of `raftlock cluster`'s three local members. */
export const DEFAULT_ENDPOINTS = 'http://127.0.0.1:4001,http://127.0.0.1:4002,http://127.0.0.1:4003';
export const ENDPOINTS_HELP = `Endpoints: --endpoints URL,URL,... or RAFTLOCK_ENDPOINTS (default ${DEFAULT_ENDPOINTS}).
A cluster with authentication: --token T or RAFTLOCK_AUTH_TOKEN (the environment keeps it out of ps).
HTTPS endpoints signed by a private CA: --ca FILE or RAFTLOCK_CA.`;

/** endpointsOption is the flags every command that talks to the cluster takes. */
export const endpointsOption = { endpoints: { type: 'string' }, token: { type: 'string' }, ca: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

/** holdCommandOptions are the flags of the commands that run a COMMAND while they hold something (lock, elect). */
export const holdCommandOptions = { ...endpointsOption, ttl: { type: 'string' }, wait: { type: 'string' }, 'kill-grace': { type: 'string' } } as const;

/** Connection is how a command reaches the cluster: endpoints, and the bearer token and CA if any. */
export interface Connection {
  readonly endpoints: string[];
  readonly token?: string;
  readonly ca?: Buffer;
}

/** connectionFrom reads the endpoints, token (--token, RAFTLOCK_AUTH_TOKEN) and CA file (--ca, RAFTLOCK_CA). */
export function connectionFrom(values: { endpoints?: string; token?: string; ca?: string }, env: NodeJS.ProcessEnv): Connection {
  const token = values.token ?? env['RAFTLOCK_AUTH_TOKEN'];
  const caFile = values.ca ?? env['RAFTLOCK_CA'];
  let ca: Buffer | undefined;
  if (caFile !== undefined && caFile !== '') {
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      throw new UsageError(`cannot read the CA file ${caFile}: ${messageOf(err)}`);
    }
  }
  return {
    endpoints: endpointsFrom(values.endpoints, env),
    ...(token !== undefined && token !== '' ? { token } : {}),
    ...(ca !== undefined ? { ca } : {}),
  };
}

/** UsageError is a bad command line: the command prints its usage and exits 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** parse runs node:util parseArgs strictly; its errors become UsageErrors. */
export function parse<O extends Options>(argv: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(messageOf(err));
  }
}

/** endpointsFrom is the endpoint list of --endpoints, else RAFTLOCK_ENDPOINTS, else the local cluster's. */
export function endpointsFrom(flag: string | undefined, env: NodeJS.ProcessEnv): string[] {
  const raw = flag ?? env['RAFTLOCK_ENDPOINTS'] ?? DEFAULT_ENDPOINTS;
  const endpoints = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (endpoints.length === 0) throw new UsageError('no endpoints given');
  for (const e of endpoints) {
    if (!/^https?:\/\/[^/]+/.test(e)) throw new UsageError(`endpoint ${e} is not an http(s) URL`);
  }
  return endpoints;
}

/** intFlag parses a non-negative integer flag (milliseconds or a count), within `bounds` when given. */
export function intFlag(value: string | undefined, flag: string, fallback: number, bounds: { min?: number; max?: number } = {}): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]{1,10}$/.test(value)) throw new UsageError(`${flag} must be a non-negative integer, not ${JSON.stringify(value)}`);
  const n = Number(value);
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = bounds;
  if (n < min || n > max) throw new UsageError(`${flag} must be ${max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min}..${max}`}, not ${n}`);
  return n;
}

/** printHelp prints a command's usage and the endpoints help; exit 0. */
export function printHelp(io: CliIo, usage: string): number {
  io.out(`${usage}\n${ENDPOINTS_HELP}\n`);
  return 0;
}

/** usageError prints a UsageError with the usage (exit 2); any other error is rethrown. */
export function usageError(io: CliIo, err: unknown, usage: string): number {
  if (!(err instanceof UsageError)) throw err;
  io.err(`raftlock: ${err.message}\n${usage}\n${ENDPOINTS_HELP}\n`);
  return 2;
}

/** messageOf is an error's message, or the thing itself as text. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
