import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assembleClientPackage } from '../../src/client-package/assemble.js';
import { ProcessCluster, waitForLeader } from '../support/process-cluster.js';

/**
 * The client ships as its own package, `raftlock-client` (issue 15): packed with `npm pack`, installed into an
 * empty project, it brings no other package, and it takes and releases a lock on a real member.
 */

const REPO = resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
let cluster: ProcessCluster | null = null;
afterAll(async () => {
  await cluster?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

describe('the raftlock-client package', () => {
  it('refuses to assemble a client file that imports beyond node built-ins and the package', () => {
    const distSrc = tempDir('raftlock-pkg-src-');
    for (const f of ['client', 'api']) execFileSync('mkdir', ['-p', join(distSrc, f)]);
    writeFileSync(join(distSrc, 'api', 'contract.js'), 'export const X = 1;\n');
    writeFileSync(join(distSrc, 'client', 'index.js'), "import { X } from '../api/contract.js';\nimport fastify from 'fastify';\n");
    expect(() => assembleClientPackage(distSrc, join(REPO, 'src/client-package'), tempDir('raftlock-pkg-out-'))).toThrow(/imports "fastify"/);
    writeFileSync(join(distSrc, 'client', 'index.js'), "import { X } from '../api/contract.js';\nconst y = await import('../node/raft-host.js');\n");
    expect(() => assembleClientPackage(distSrc, join(REPO, 'src/client-package'), tempDir('raftlock-pkg-out-'))).toThrow(/imports "..\/node\/raft-host.js"/);
  });

  it('packs, installs into an empty project with no other package, and locks against a real member', async () => {
    const out = tempDir('raftlock-pkg-');
    const files = assembleClientPackage(join(REPO, 'dist/src'), join(REPO, 'src/client-package'), join(out, 'package'));
    expect(files).toContain('client/index.js');
    const tgz = execFileSync('npm', ['pack', join(out, 'package'), '--pack-destination', out, '--silent'], { encoding: 'utf8' }).trim().split('\n').pop()!;
    const project = tempDir('raftlock-consumer-');
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }));
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', join(out, tgz)], { cwd: project, encoding: 'utf8' });
    expect(readdirSync(join(project, 'node_modules')).filter((n) => !n.startsWith('.'))).toEqual(['raftlock-client']);

    cluster = await ProcessCluster.create({ nodes: 1 });
    cluster.startAll();
    await waitForLeader(cluster);
    writeFileSync(
      join(project, 'use.js'),
      `import { RaftLockClient } from 'raftlock-client';
const client = new RaftLockClient({ endpoints: [process.argv[2]] });
const token = await client.withLock('pkg/demo', (lock) => lock.token);
console.log(JSON.stringify({ token }));
`,
    );
    const printed = execFileSync(process.execPath, ['use.js', cluster.endpoints()[0]!], { cwd: project, encoding: 'utf8', timeout: 30_000 });
    expect(JSON.parse(printed.trim()).token).toBeGreaterThan(0);
  });
});
