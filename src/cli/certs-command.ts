import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CertError } from '../certs/cert-authority.js';
import { CA_DAYS, MEMBER_DAYS, makeCa, makeMember } from '../certs/cert-store.js';
import { ConfigError, parseIntFlag } from '../node/node-config.js';
import type { CliIo } from './cli-io.js';

export const CERTS_USAGE = `usage: raftlock certs ca --out DIR [--cluster-id raftlock] [--days ${CA_DAYS}] [--force]
       raftlock certs member --ca DIR --id ID --out DIR [--host NAME,...] [--cluster-id ID] [--days ${MEMBER_DAYS}] [--force]
Makes the certificates of peer TLS (ECDSA P-256). \`ca\` writes DIR/ca.crt and DIR/ca.key (keep ca.key off the
members). \`member\` signs a certificate for member ID with the CA in --ca and writes DIR/ID.crt and DIR/ID.key: it
names the member as URI raftlock://CLUSTER/ID and CN=ID, OU=CLUSTER (CLUSTER: the CA's, unless --cluster-id), and
--host adds DNS names or IP addresses. Give each member --peer-ca ca.crt --peer-cert ID.crt --peer-key ID.key.
Existing files are never replaced without --force.`;

/** certsCommand runs `raftlock certs ca|member`. Exit codes: 0 made, 2 usage or a certificate error. */
export async function certsCommand(argv: string[], _env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.out(`${CERTS_USAGE}\n`);
    return sub === undefined ? 2 : 0;
  }
  try {
    if (sub === 'ca') return await caCommand(rest, io);
    if (sub === 'member') return await memberCommand(rest, io);
    throw new ConfigError(`unknown subcommand "${sub}" (ca or member)`);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof CertError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`raftlock certs: ${(err as Error).message}\n${CERTS_USAGE}\n`);
      return 2;
    }
    throw err;
  }
}

async function caCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { out: { type: 'string' }, 'cluster-id': { type: 'string', default: 'raftlock' }, days: { type: 'string', default: String(CA_DAYS) }, force: { type: 'boolean' } },
  });
  const out = required(values.out, '--out');
  const files = await makeCa(resolve(out), values['cluster-id'], parseIntFlag(values.days, '--days', 1, 36_500), values.force === true);
  io.out(`raftlock certs: CA of cluster ${values['cluster-id']}: ${files.cert} (private key ${files.key})\n`);
  return 0;
}

async function memberCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ca: { type: 'string' },
      id: { type: 'string' },
      out: { type: 'string' },
      host: { type: 'string' },
      'cluster-id': { type: 'string' },
      days: { type: 'string', default: String(MEMBER_DAYS) },
      force: { type: 'boolean' },
    },
  });
  const id = required(values.id, '--id');
  const hosts = (values.host ?? '').split(',').map((h) => h.trim()).filter((h) => h.length > 0);
  const files = await makeMember(
    resolve(required(values.ca, '--ca')),
    resolve(required(values.out, '--out')),
    { id, days: parseIntFlag(values.days, '--days', 1, 36_500), hosts, ...(values['cluster-id'] !== undefined ? { clusterId: values['cluster-id'] } : {}) },
    values.force === true,
  );
  io.out(`raftlock certs: member ${id}: ${files.cert} (private key ${files.key})\n`);
  return 0;
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new ConfigError(`missing ${flag}`);
  return value;
}
