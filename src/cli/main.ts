#!/usr/bin/env node
import { processIo, type CliIo } from './cli-io.js';
import { packageVersion } from '../node/package-version.js';
import { serveCommand } from './serve-command.js';

const USAGE = `usage: raftlock <command> [flags]    (raftlock --version prints the version)
commands:
  serve      run one cluster member           (raftlock serve --help)
  cluster    run a local cluster of members   (raftlock cluster --help)
  certs      make a CA and member certificates for peer TLS (raftlock certs --help)
  lock       run a command while holding a lock: raftlock lock NAME [--ttl MS] [--wait MS] -- COMMAND ...
  elect      campaign in an election, run a command while leader: raftlock elect NAME VALUE [-- COMMAND ...]
  status     show every endpoint's Raft status
  locks      list locks [--prefix P]
  release    force-release a lock: raftlock release NAME --force
  transfer-leader  hand leadership to another member: raftlock transfer-leader [--to ID]
  member     list, add, promote or remove members at run time (raftlock member --help)
  snapshot   back up a running cluster or restore a backup into a new one (raftlock snapshot --help)
  verify     Jepsen-style fault test of a local cluster (raftlock verify --help)
Client commands take --endpoints URL,... or RAFTLOCK_ENDPOINTS; with authentication --token or RAFTLOCK_AUTH_TOKEN;
for HTTPS under a private CA --ca FILE or RAFTLOCK_CA.`;

type Command = (argv: string[], env: NodeJS.ProcessEnv, io: CliIo) => Promise<number>;

/** Commands load lazily, so `serve` does not pay for the client and `lock` does not load the server. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => serveCommand,
  // Lazy like the rest: cluster and certs load the certificate library, which serve must not pay for.
  cluster: async () => (await import('./cluster-command.js')).clusterCommand,
  certs: async () => (await import('./certs-command.js')).certsCommand,
  lock: async () => (await import('./client-commands.js')).lockCommand,
  elect: async () => (await import('./elect-command.js')).electCommand,
  status: async () => (await import('./client-commands.js')).statusCommand,
  locks: async () => (await import('./client-commands.js')).locksCommand,
  release: async () => (await import('./client-commands.js')).releaseCommand,
  'transfer-leader': async () => (await import('./admin-commands.js')).transferLeaderCommand,
  snapshot: async () => (await import('./admin-commands.js')).snapshotCommand,
  member: async () => (await import('./member-commands.js')).memberCommand,
  verify: async () => (await import('./verify-command.js')).verifyCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    processIo.out(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    processIo.out(`raftlock ${packageVersion()}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (load === undefined) {
    processIo.err(`raftlock: unknown command "${name}"\n${USAGE}\n`);
    return 2;
  }
  return (await load())(rest, process.env, processIo);
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit explicitly: keep-alive sockets of the HTTP client must not keep a finished command alive.
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`raftlock: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
