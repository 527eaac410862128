import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueMemberCertificate } from '../../src/certs/cert-authority.js';
import { buildPeerSecurity, type PeerSecurityFlags } from '../../src/node/peer-security-config.js';
import { MAIN } from '../support/process-cluster.js';
import { makeTestPki, type TestPki } from '../support/test-pki.js';

/**
 * `raftlock serve` refuses to start without peer security, and with TLS files
 * that could never work, and says why; --insecure is explicit and alone.
 */

let dir = '';
let pki: TestPki;
let other: TestPki;

const none: PeerSecurityFlags = { peerCa: undefined, peerCert: undefined, peerKey: undefined, secret: undefined, insecure: undefined };

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function tlsFlags(caPem: string, certPem: string, keyPem: string): PeerSecurityFlags {
  return { ...none, peerCa: file('ca.pem', caPem), peerCert: file('cert.pem', certPem), peerKey: file('key.pem', keyPem) };
}

function message(flags: PeerSecurityFlags, id = 'n1', clusterId = 'raftlock'): string {
  const r = buildPeerSecurity(flags, id, clusterId);
  if (r.ok) throw new Error(`expected a refusal, got mode ${r.security.mode}`);
  return r.message;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'raftlock-peer-config-'));
  pki = await makeTestPki('raftlock', ['n1', 'n2']);
  other = await makeTestPki('raftlock', ['n1']);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('buildPeerSecurity', () => {
  it('refuses to run with no peer security at all, naming the three ways', () => {
    expect(message(none)).toMatch(/peer traffic is not secured: give --peer-ca, --peer-cert and --peer-key .* or --secret .* or --insecure/);
  });

  it('takes a secret of at least 16 characters, and --insecure only alone', () => {
    expect(buildPeerSecurity({ ...none, secret: 'x'.repeat(16) }, 'n1', 'raftlock')).toEqual({ ok: true, security: { mode: 'secret', secret: 'x'.repeat(16) } });
    expect(message({ ...none, secret: 'short-secret' })).toMatch(/at least 16 characters/);
    expect(buildPeerSecurity({ ...none, insecure: 'true' }, 'n1', 'raftlock')).toEqual({ ok: true, security: { mode: 'insecure' } });
    expect(message({ ...none, insecure: 'true', secret: 'x'.repeat(16) })).toMatch(/give it alone/);
    expect(message({ ...none, insecure: 'maybe' })).toMatch(/RAFTLOCK_INSECURE/);
    expect(buildPeerSecurity({ ...none, insecure: '0', secret: 'x'.repeat(16) }, 'n1', 'raftlock').ok).toBe(true);
  });

  it('takes matching TLS files that name this member, and refuses TLS mixed with a secret or with a file missing', () => {
    const n1 = pki.members['n1']!;
    const flags = tlsFlags(pki.ca.certPem, n1.certPem, n1.keyPem);
    expect(buildPeerSecurity(flags, 'n1', 'raftlock')).toEqual({ ok: true, security: { mode: 'tls', ca: pki.ca.certPem, cert: n1.certPem, key: n1.keyPem } });
    expect(message({ ...flags, secret: 'x'.repeat(16) })).toMatch(/either peer TLS .* or --secret, not both/);
    expect(message({ ...flags, peerKey: undefined })).toMatch(/needs all three/);
    expect(message({ ...flags, peerCa: join(dir, 'no-such-file') })).toMatch(/--peer-ca: cannot read .*no-such-file/);
  });

  it('refuses files that could never work: not PEM, a foreign key, another CA, another member, another cluster, a member as CA', () => {
    const n1 = pki.members['n1']!;
    expect(message(tlsFlags('not a certificate', n1.certPem, n1.keyPem))).toMatch(/--peer-ca: .* is not a PEM certificate/);
    expect(message(tlsFlags(pki.ca.certPem, n1.certPem, 'not a key'))).toMatch(/--peer-key: .* is not a PEM private key/);
    expect(message(tlsFlags(pki.ca.certPem, n1.certPem, pki.members['n2']!.keyPem))).toMatch(/--peer-key: .* is not the key of --peer-cert/);
    expect(message(tlsFlags(other.ca.certPem, n1.certPem, n1.keyPem))).toMatch(/--peer-cert: .* is not signed by the CA in --peer-ca/);
    expect(message(tlsFlags(pki.ca.certPem, pki.members['n2']!.certPem, pki.members['n2']!.keyPem))).toMatch(
      /does not name member n1 of cluster raftlock .*raftlock:\/\/raftlock\/n1, or CN=n1 and OU=raftlock/,
    );
    expect(message(flagsFor(pki, 'n1'), 'n1', 'another-cluster')).toMatch(/does not name member n1 of cluster another-cluster/);
    expect(message(tlsFlags(n1.certPem, n1.certPem, n1.keyPem))).toMatch(/--peer-ca: .* is not a CA certificate/);
  });

  it('refuses an expired member certificate', async () => {
    const expired = await issueMemberCertificate(pki.ca, { id: 'n1', days: 1 });
    // A certificate valid for one day, checked as if two days had passed.
    const realNow = Date.now;
    Date.now = () => realNow() + 2 * 24 * 60 * 60 * 1000;
    try {
      expect(message(tlsFlags(pki.ca.certPem, expired.certPem, expired.keyPem))).toMatch(/--peer-cert: .* expired on/);
    } finally {
      Date.now = realNow;
    }
  });
});

function flagsFor(p: TestPki, id: string): PeerSecurityFlags {
  return tlsFlags(p.ca.certPem, p.members[id]!.certPem, p.members[id]!.keyPem);
}

describe('raftlock serve without peer security', () => {
  it('exits 2 and says how to secure it, before opening anything', () => {
    const data = join(dir, 'data');
    const env = { ...process.env };
    for (const k of ['RAFTLOCK_SECRET', 'RAFTLOCK_PEER_CA', 'RAFTLOCK_PEER_CERT', 'RAFTLOCK_PEER_KEY', 'RAFTLOCK_INSECURE']) delete env[k];
    const r = spawnSync(process.execPath, [MAIN, 'serve', '--id', 'n1', '--data-dir', data, '--http', '127.0.0.1:1', '--peers', 'n1=127.0.0.1:2'], { encoding: 'utf8', env, timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/raftlock serve: peer traffic is not secured/);
    expect(r.stderr).toMatch(/--insecure/);
    const withFlag = spawnSync(process.execPath, [MAIN, 'serve', '--help'], { encoding: 'utf8', env, timeout: 20_000 });
    expect(withFlag.stdout).toMatch(/--peer-ca FILE --peer-cert FILE --peer-key FILE \| --secret S \| --insecure/);
  });
});
