import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { buildPeerSecurity } from '../../src/node/peer-security-config.js';
import { certificateMemberNames } from '../../src/transport/tls-identity.js';
import type { PeerSecurity } from '../../src/transport/index.js';
import { createNode, startCluster, stopAll, type TestNode } from '../transport/helpers.js';

/**
 * The README's openssl equivalent of `raftlock certs`, run as written: serve's
 * checks accept what it makes, and two members with those certificates talk
 * over peer TLS.
 */

const root = resolve(import.meta.dirname, '../..');
const hasOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
let dir = '';
let open: TestNode[] = [];

afterEach(async () => {
  await stopAll(open);
  open = [];
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** readmeScript is the sh block after the README's `<!-- openssl-peer-certs -->` marker. */
function readmeScript(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const m = /<!-- openssl-peer-certs -->\s*```sh\n([\s\S]*?)```/.exec(readme);
  if (m === null) throw new Error('README.md has no openssl-peer-certs block');
  return m[1]!;
}

/** selfSigned makes a throwaway certificate with openssl: `subject`, plus a subjectAltName when given. */
function selfSigned(subject: string, san?: string): X509Certificate {
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-days', '1', '-subj', subject];
  if (san !== undefined) args.push('-addext', `subjectAltName=${san}`);
  return new X509Certificate(execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'ignore'] }));
}

describe.runIf(hasOpenssl)('tls-identity on certificates from elsewhere', () => {
  it('names a member by CN and OU alone, or by the URI alone, and nothing by a lone CN or another scheme', () => {
    expect(certificateMemberNames(selfSigned('/O=x/OU=prod/CN=n1'))).toEqual([{ clusterId: 'prod', id: 'n1' }]);
    expect(certificateMemberNames(selfSigned('/O=x', 'URI:raftlock://prod/n7,DNS:n7'))).toEqual([{ clusterId: 'prod', id: 'n7' }]);
    expect(certificateMemberNames(selfSigned('/CN=n1'))).toEqual([]);
    expect(certificateMemberNames(selfSigned('/O=x', 'URI:https://prod/n1,DNS:n1'))).toEqual([]);
  });
});

describe.runIf(hasOpenssl)('the README\'s openssl commands', () => {
  it('make certificates that serve accepts and that members connect with', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftlock-openssl-'));
    execFileSync('sh', ['-e', '-c', readmeScript()], { cwd: dir, stdio: 'pipe' });
    const files = (id: string) => ({ peerCa: join(dir, 'ca.crt'), peerCert: join(dir, `${id}.crt`), peerKey: join(dir, `${id}.key`), secret: undefined, insecure: undefined });
    const security: Record<string, PeerSecurity> = {};
    for (const id of ['n1', 'n2', 'n3']) {
      const r = buildPeerSecurity(files(id), id, 'raftlock');
      expect(r.ok ? r.security.mode : r.message).toBe('tls');
      if (r.ok) security[id] = r.security;
    }
    // A certificate for n2 is refused as n1's.
    expect(buildPeerSecurity(files('n2'), 'n1', 'raftlock').ok).toBe(false);
    const a = createNode('n1', ['n1', 'n2'], { clusterId: 'raftlock', security: security['n1']! });
    const b = createNode('n2', ['n1', 'n2'], { clusterId: 'raftlock', security: security['n2']! });
    open.push(a, b);
    await startCluster([a, b]);
    a.transport.send([{ type: 'heartbeat', from: 'n1', to: 'n2', term: 1, commit: 0, context: null }]);
    await b.inbox.until((ms) => ms.length === 1, 'a message over TLS with openssl-made certificates');
    expect(b.log.items.some((e) => e.msg === 'accepted peer connection' && e.obj['security'] === 'tls')).toBe(true);
  });
});
