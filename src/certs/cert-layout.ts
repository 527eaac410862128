/**
 * Where a directory of cluster certificates keeps its files, shared by
 * `raftlock certs` (which writes them), `raftlock cluster` (which makes them
 * on first start) and the launcher (which hands them to `raftlock serve`):
 *
 *   ca.crt, ca.key           the cluster CA (keep ca.key off the members in a real deployment)
 *   <id>.crt, <id>.key       member <id>'s certificate and private key
 *
 * Node built-ins only: the launcher imports this.
 */
import { join } from 'node:path';

/** PemFiles are the paths of a certificate and its key. */
export interface PemFiles {
  readonly cert: string;
  readonly key: string;
}

/** caFiles are the CA's files in `dir`. */
export function caFiles(dir: string): PemFiles {
  return { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
}

/** memberFiles are member `id`'s certificate and key in `dir`. */
export function memberFiles(dir: string, id: string): PemFiles {
  return { cert: join(dir, `${id}.crt`), key: join(dir, `${id}.key`) };
}
