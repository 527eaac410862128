import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureClusterCertificates } from '../../src/certs/cert-store.js';
import { ENV_BY_FLAG, buildNodeConfig } from '../../src/node/node-config.js';
import { MAIN } from '../support/process-cluster.js';

/**
 * The README's three-machine deployment guide gives a working configuration:
 * its environment file, with the certificates the guide makes (here in a
 * temporary directory instead of /etc/raftlock/certs), is one `raftlock
 * serve` accepts, and its systemd unit runs the built CLI's `serve`.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'raftlock-deploy-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** guide is the README's "Deploy on three machines" section. */
function guide(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('### Deploy on three machines');
  expect(start).toBeGreaterThan(0);
  return readme.slice(start, readme.indexOf('\n### ', start + 1));
}

/** codeBlockAfter is the fenced block that follows `marker` in `text`. */
function codeBlockAfter(text: string, marker: string): string {
  const at = text.indexOf(marker);
  expect(at).toBeGreaterThan(0);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(text.slice(at));
  expect(m).not.toBeNull();
  return m![1]!.replace(/^ {3}/gm, '');
}

describe('the deployment guide', () => {
  it("its environment file is one raftlock serve accepts, with the guide's certificates", async () => {
    const lines = codeBlockAfter(guide(), '/etc/raftlock/raftlock.env').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    const env = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const known = new Set(Object.values(ENV_BY_FLAG));
    expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
    const certs = join(dir, 'certs');
    await ensureClusterCertificates(certs, env['RAFTLOCK_CLUSTER_ID']!, ['n1', 'n2', 'n3']);
    const local = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace('/etc/raftlock/certs', certs).replace('/var/lib/raftlock', join(dir, 'data'))]));
    const config = buildNodeConfig({}, local);
    expect(config.id).toBe('n1');
    expect(Object.keys(config.peers).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(config.initialClusterState).toBe('new');
    expect(config.clusterId).toBe(env['RAFTLOCK_CLUSTER_ID']);
    expect(config.peerHttp['n2']).toBe('http://10.0.0.2:4001');
    expect(config.http).toEqual({ host: '10.0.0.1', port: 4001 });
  });

  it('its systemd unit runs the built CLI with serve and the environment file', () => {
    const unit = codeBlockAfter(guide(), 'raftlock.service');
    expect(unit).toMatch(/^EnvironmentFile=\/etc\/raftlock\/raftlock\.env$/m);
    const exec = /^ExecStart=\S+ \/opt\/raftlock\/(\S+) serve$/m.exec(unit);
    expect(exec).not.toBeNull();
    expect(resolve(ROOT, exec![1]!)).toBe(MAIN);
  });
});
