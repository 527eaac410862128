import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Test certificates, made with the openssl command line (Debian's openssl
 * package; .ci/run installs it): a CA, and a server certificate it signs for
 * 127.0.0.1 and localhost, which every loopback node of a test serves. Keys
 * are P-256, so making them takes milliseconds. For tests and the bench
 * only: the keys sit unencrypted in a temporary directory.
 */

/** TestCa is a CA's certificate and key files. */
export interface TestCa {
  readonly certFile: string;
  readonly keyFile: string;
  /** The certificate's PEM text. */
  readonly pem: string;
}

/** ServerCert is a server certificate and key signed by a TestCa. */
export interface ServerCert {
  readonly certFile: string;
  readonly keyFile: string;
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('the openssl command is not installed (apt-get install openssl): the HTTPS tests need it to make certificates');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString() ?? String(err)}`);
  }
}

/** makeTestCa creates a CA named `name` in `dir`. */
export function makeTestCa(dir: string, name: string): TestCa {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.pem`);
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '30',
    '-subj', `/CN=raftlock test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { certFile, keyFile, pem: readFileSync(certFile, 'utf8') };
}

/** makeServerCert creates a certificate for 127.0.0.1 and localhost named `name` in `dir`, signed by `ca`. */
export function makeServerCert(dir: string, name: string, ca: TestCa): ServerCert {
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.pem`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile, '-days', '30', '-extfile', extFile]);
  return { certFile, keyFile };
}
