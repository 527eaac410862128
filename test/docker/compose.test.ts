import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * There is no Docker engine here, so check what can be checked: compose files
 * validate with docker-compose (Debian's package; .ci/run installs it), and the
 * Dockerfile keeps its promises (multi-stage, non-root, data in a volume).
 */
const root = resolve(import.meta.dirname, '../..');
const hasCompose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
// In CI the tool is installed by .ci/run, so a missing one is a failure there, not a skip.
const runCompose = hasCompose || process.env.CI === 'true';

describe.runIf(runCompose)('compose files', () => {
  for (const nodes of [3, 5]) {
    it(`docker/compose-${nodes}.yml validates and configures ${nodes} members through the environment`, () => {
      const file = resolve(root, `docker/compose-${nodes}.yml`);
      const secret = { RAFTLOCK_SECRET: 'test-secret-0123456789' };
      const bootstrapEnv = { RAFTLOCK_INITIAL_CLUSTER_STATE: 'new', RAFTLOCK_CLUSTER_ID: 'c0ffee00-1234' };
      const config = execFileSync('docker-compose', ['-f', file, 'config'], { encoding: 'utf8', env: { ...process.env, ...secret, ...bootstrapEnv } });
      // A later start passes neither variable: the members find their stores.
      const restart = execFileSync('docker-compose', ['-f', file, 'config'], {
        encoding: 'utf8',
        env: { ...process.env, ...secret, RAFTLOCK_INITIAL_CLUSTER_STATE: '', RAFTLOCK_CLUSTER_ID: '' },
      });
      const services = execFileSync('docker-compose', ['-f', file, 'config', '--services'], { encoding: 'utf8', env: { ...process.env, ...secret } })
        .trim()
        .split('\n')
        .sort();
      expect(services).toEqual(Array.from({ length: nodes }, (_, i) => `n${i + 1}`));
      for (let i = 1; i <= nodes; i++) {
        expect(config).toMatch(new RegExp(`RAFTLOCK_ID: n${i}\\b`));
        expect(config).toContain(`n${i}-data`);
      }
      const peers = Array.from({ length: nodes }, (_, i) => `n${i + 1}=n${i + 1}:5001`).join(',');
      expect(config).toContain(`RAFTLOCK_PEERS: ${peers}`);
      expect(config).toContain('RAFTLOCK_SECRET: test-secret-0123456789');
      expect(config.match(/RAFTLOCK_INITIAL_CLUSTER_STATE: new/g)).toHaveLength(nodes);
      expect(config.match(/RAFTLOCK_CLUSTER_ID: c0ffee00-1234/g)).toHaveLength(nodes);
      // Empty, which serve takes as unset.
      expect(restart.match(/RAFTLOCK_INITIAL_CLUSTER_STATE: ''/g)).toHaveLength(nodes);
      expect(restart.match(/RAFTLOCK_CLUSTER_ID: ''/g)).toHaveLength(nodes);
    });

    it(`docker/compose-${nodes}.yml has no default peer secret: without RAFTLOCK_SECRET it refuses to configure`, () => {
      const file = resolve(root, `docker/compose-${nodes}.yml`);
      const env = { ...process.env };
      delete env['RAFTLOCK_SECRET'];
      const r = spawnSync('docker-compose', ['-f', file, 'config'], { encoding: 'utf8', env });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/set RAFTLOCK_SECRET to a shared secret of at least 16 characters/);
      expect(readFileSync(file, 'utf8')).not.toMatch(/change-me/);
    });
  }
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(resolve(root, 'docker/Dockerfile'), 'utf8');
  it('is multi-stage, runs as a non-root user, and keeps data in a volume', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^USER raftlock$/m);
    expect(dockerfile).toMatch(/^VOLUME \["\/var\/lib\/raftlock"\]$/m);
    expect(dockerfile).toMatch(/RAFTLOCK_DATA_DIR=\/var\/lib\/raftlock/);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "dist\/src\/cli\/main.js"\]$/m);
  });
});
