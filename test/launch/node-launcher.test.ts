import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeWrap, wrapInvocation, type CommandWrap } from '../../src/launch/command-wrap.js';
import { apiSecurityArgs, securityArgs, securityEnv } from '../../src/launch/launch-security.js';
import { loopbackMembers } from '../../src/launch/loopback-port.js';
import { NodeLauncher, type NodeExit } from '../../src/launch/node-launcher.js';
import { serveArgs, type ServeMember } from '../../src/launch/serve-args.js';
import { MAIN, httpJson } from '../support/process-cluster.js';

describe('serveArgs', () => {
  const members: ServeMember[] = [
    { id: 'n1', host: '127.0.0.1', httpPort: 4001, peerPort: 5001, dataDir: '/d/n1' },
    { id: 'n2', host: '127.0.0.1', httpPort: 4002, peerPort: 5002, dataDir: '/d/n2' },
  ];

  it('names every member, listens on its own ports, dials through peerAddress, and puts extra flags last', () => {
    const args = serveArgs(members[1]!, members, {
      peerAddress: (from, to) => `proxy:${from}->${to.id}`,
      peerHttpUrl: (from, to) => `http://fwd/${from}/${to.id}`,
      logLevel: 'warn',
      extraArgs: ['--log-level', 'debug'],
    });
    expect(args).toEqual([
      '--id', 'n2', '--data-dir', '/d/n2', '--http', '127.0.0.1:4002', '--peer', '127.0.0.1:5002',
      '--peers', 'n1=proxy:n2->n1,n2=proxy:n2->n2', '--peer-http', 'n1=http://fwd/n2/n1,n2=http://fwd/n2/n2',
      '--log-level', 'warn', '--log-level', 'debug',
    ]);
  });

  it('puts the member\'s security flags before the extra flags, so a test can still override them', () => {
    const args = serveArgs(members[0]!, members, {
      peerAddress: (_from, to) => `127.0.0.1:${to.peerPort}`,
      peerHttpUrl: (_from, to) => `http://127.0.0.1:${to.httpPort}`,
      logLevel: 'info',
      securityArgs: securityArgs('n1', { mode: 'tls', certDir: '/c' }),
      extraArgs: ['--insecure'],
    });
    expect(args.slice(-7)).toEqual(['--peer-ca', '/c/ca.crt', '--peer-cert', '/c/n1.crt', '--peer-key', '/c/n1.key', '--insecure']);
  });

  it('puts the bootstrap flags of a first start before the extra flags', () => {
    const args = serveArgs(members[0]!, members, { peerAddress: () => 'p', peerHttpUrl: () => 'u', logLevel: 'info', bootstrapClusterId: 'c-1', extraArgs: ['--tick-ms', '20'] });
    expect(args.slice(-6)).toEqual(['--initial-cluster-state', 'new', '--cluster-id', 'c-1', '--tick-ms', '20']);
  });

  it('refuses a member that is not in the list', () => {
    const stranger = { ...members[0]!, id: 'x' };
    expect(() => serveArgs(stranger, members, { peerAddress: () => '', peerHttpUrl: () => '', logLevel: 'info', extraArgs: [] })).toThrow(/not one of the members/);
  });
});

describe('NodeLauncher.rejoinOnNextStart', () => {
  it('makes the next start of a stopped member join with existing and the cluster id; other restarts carry no bootstrap flag', async () => {
    const base = mkdtempSync(join(tmpdir(), 'raftlock-rejoin-'));
    try {
      const members = await loopbackMembers(3, (id) => ({ dataDir: join(base, id) }));
      const launcher = new NodeLauncher({ mainPath: MAIN, members, bootstrap: { clusterId: 'c-9' } });
      const flags = (id: string): string[] => {
        const line = launcher.commandLine(id);
        const i = line.indexOf('--initial-cluster-state');
        return i < 0 ? [] : line.slice(i, i + 4);
      };
      expect(flags('n2')).toEqual(['--initial-cluster-state', 'new', '--cluster-id', 'c-9']);
      for (const n of launcher.nodes) n.starts = 1; // as after the first starts
      expect(flags('n2')).toEqual([]);
      launcher.rejoinOnNextStart('n2');
      expect(flags('n2')).toEqual(['--initial-cluster-state', 'existing', '--cluster-id', 'c-9']);
      expect(flags('n1')).toEqual([]);
      expect(launcher.commandLine('n2').join(' ')).toMatch(/--peers n1=\S+,n2=\S+,n3=\S+/);
      expect(() => new NodeLauncher({ mainPath: MAIN, members }).rejoinOnNextStart('n1')).toThrow(/knows no cluster id/);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('launch security', () => {
  it('gives a secret in the environment only, never on the command line', () => {
    expect(securityArgs('n1', { mode: 'secret', secret: 's'.repeat(32) })).toEqual([]);
    expect(securityEnv({ PATH: '/bin' }, { mode: 'secret', secret: 's'.repeat(32) })).toEqual({ PATH: '/bin', RAFTLOCK_SECRET: 's'.repeat(32) });
    expect(securityArgs('n1', { mode: 'insecure' })).toEqual(['--insecure']);
  });

  it('clears the launching process\'s peer-security variables, so they cannot mix with the launcher\'s mode', () => {
    const parent = { PATH: '/bin', RAFTLOCK_SECRET: 'from-the-shell-0123', RAFTLOCK_PEER_CA: '/x', RAFTLOCK_PEER_CERT: '/y', RAFTLOCK_PEER_KEY: '/z', RAFTLOCK_INSECURE: '1' };
    expect(securityEnv(parent, { mode: 'tls', certDir: '/c' })).toEqual({ PATH: '/bin' });
    expect(parent.RAFTLOCK_SECRET).toBe('from-the-shell-0123');
  });

  it('gives each member HTTPS under its own certificate, the CA for relays, and the auth file; and clears the shell\'s API variables then', () => {
    expect(apiSecurityArgs('n2', { certDir: '/c', authFile: '/a/auth.json' })).toEqual([
      '--http-cert', '/c/n2.crt', '--http-key', '/c/n2.key', '--http-ca', '/c/ca.crt', '--auth-file', '/a/auth.json',
    ]);
    expect(apiSecurityArgs('n1', { authFile: '/a.json' })).toEqual(['--auth-file', '/a.json']);
    const parent = { PATH: '/bin', RAFTLOCK_AUTH: '{}', RAFTLOCK_AUTH_FILE: '/x', RAFTLOCK_HTTP_CERT: '/y', RAFTLOCK_HTTP_KEY: '/z', RAFTLOCK_HTTP_CA: '/w' };
    expect(securityEnv(parent, { mode: 'insecure' }, { authFile: '/a.json' })).toEqual({ PATH: '/bin' });
    expect(securityEnv(parent, { mode: 'insecure' })).toEqual(parent);
  });

  it('draws a fresh secret per launcher by default', async () => {
    const members = await loopbackMembers(1, (id) => ({ dataDir: join(tmpdir(), `raftlock-launch-unused-${process.pid}`, id) }));
    const one = new NodeLauncher({ mainPath: MAIN, members });
    const two = new NodeLauncher({ mainPath: MAIN, members });
    expect(one.security.mode).toBe('secret');
    expect(one.serveEnv()['RAFTLOCK_SECRET']).toMatch(/^[0-9a-f]{64}$/);
    expect(one.serveEnv()['RAFTLOCK_SECRET']).not.toBe(two.serveEnv()['RAFTLOCK_SECRET']);
    rmSync(join(tmpdir(), `raftlock-launch-unused-${process.pid}`), { recursive: true, force: true });
  });
});

describe('wrapInvocation', () => {
  const inner = { command: '/usr/bin/node', args: ['main.js', 'serve', '--id', 'n1'], env: { A: '1', FAKETIME_DONT_FAKE_MONOTONIC: '0' } };

  it('leaves the command alone without a wrap', () => {
    expect(wrapInvocation(inner, undefined)).toBe(inner);
  });

  it('puts the wrapper and its arguments first and lays its environment over the node\'s', () => {
    const wrap: CommandWrap = { command: 'faketime', args: ['-f', '+4s'], env: { FAKETIME_DONT_FAKE_MONOTONIC: '1' } };
    expect(wrapInvocation(inner, wrap)).toEqual({
      command: 'faketime',
      args: ['-f', '+4s', '/usr/bin/node', 'main.js', 'serve', '--id', 'n1'],
      env: { A: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' },
    });
    expect(describeWrap(wrap)).toBe('faketime -f +4s (FAKETIME_DONT_FAKE_MONOTONIC=1)');
  });
});

/** Live (not zombie) processes of process group `pgid`, from /proc. */
function liveInGroup(pgid: number): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') pids.push(Number(pid));
  }
  return pids;
}

/**
 * A wrapper that behaves like Debian's faketime: it forks the node's command
 * and waits for it (so the node is not the PID the launcher spawned), and it
 * prints its own argument and an environment variable to the node's log.
 */
function forkingWrap(offset: string): CommandWrap {
  return {
    command: 'sh',
    args: ['-c', 'echo "wrapper offset=$1 mark=$WRAP_MARK"; shift; "$@"; exit $?', 'sh', offset],
    env: { WRAP_MARK: `mark${offset}` },
  };
}

describe('NodeLauncher with real processes', () => {
  let launcher: NodeLauncher | null = null;
  let baseDir = '';
  afterEach(async () => {
    await launcher?.stopAll();
    launcher = null;
    if (baseDir !== '') rmSync(baseDir, { recursive: true, force: true });
  });

  it('runs a node under a forking wrapper per start, signals its whole process group, and stops everything', async () => {
    baseDir = mkdtempSync(join(tmpdir(), 'raftlock-launch-'));
    const members = await loopbackMembers(1, (id) => ({ dataDir: join(baseDir, id), logFile: join(baseDir, `${id}.log`) }));
    const exits: NodeExit[] = [];
    launcher = new NodeLauncher({ mainPath: MAIN, members, bootstrap: { clusterId: 'launch-test' }, wrap: () => forkingWrap('+1s'), onExit: (_node, exit) => exits.push(exit) });
    expect(launcher.commandLine('n1')).toEqual(expect.arrayContaining(['--initial-cluster-state', 'new', '--cluster-id', 'launch-test']));
    const node = launcher.start('n1')!;
    await launcher.waitReady('n1', 'ready', 30_000);
    const pgid = node.child!.pid!;
    // The wrapper and the node it forked.
    expect(liveInGroup(pgid).length).toBeGreaterThanOrEqual(2);

    launcher.pause('n1');
    expect(launcher.isUp('n1')).toBe(false);
    await expect(httpJson(`${node.httpUrl}/v1/status`, 'GET', undefined, 500)).rejects.toThrow();
    launcher.resume('n1');
    expect((await httpJson(`${node.httpUrl}/v1/status`)).status).toBe(200);

    await launcher.kill('n1', 'SIGKILL');
    expect(node.child).toBeNull();
    expect(liveInGroup(pgid)).toEqual([]);
    expect(exits).toHaveLength(1);
    expect(exits[0]!.expected).toBe(true);

    // A restart with another wrap (faketime's offset changes across restarts), on the same ports and data; it
    // finds its store, so it carries no bootstrap flags.
    expect(launcher.commandLine('n1')).not.toContain('--initial-cluster-state');
    launcher.start('n1', { wrap: forkingWrap('+7s') });
    await launcher.waitReady('n1', 'listening', 30_000);
    const second = node.child!.pid!;
    await launcher.stopAll();
    expect(liveInGroup(second)).toEqual([]);
    expect(launcher.start('n1')).toBeNull();

    const log = readFileSync(node.logFile!, 'utf8');
    expect(log).toContain('--- launcher: start #1 of n1 under sh -c');
    expect(log).toContain('wrapper offset=+1s mark=mark+1s');
    expect(log).toContain('wrapper offset=+7s mark=mark+7s');
    expect(log.indexOf('offset=+1s')).toBeLessThan(log.indexOf('offset=+7s'));
  });

  it('reports an exit it did not cause as unexpected, and a wrapper that cannot start as an exit', async () => {
    baseDir = mkdtempSync(join(tmpdir(), 'raftlock-launch-'));
    const members = await loopbackMembers(1, (id) => ({ dataDir: join(baseDir, id), logFile: join(baseDir, `${id}.log`) }));
    const exits: NodeExit[] = [];
    launcher = new NodeLauncher({ mainPath: MAIN, members, bootstrap: { clusterId: 'launch-test' }, onExit: (_node, exit) => exits.push(exit) });
    const node = launcher.start('n1')!;
    await launcher.waitReady('n1', 'listening', 30_000);
    process.kill(node.child!.pid!, 'SIGKILL');
    await node.exit;
    expect(exits).toEqual([{ code: null, signal: 'SIGKILL', expected: false }]);

    launcher.start('n1', { wrap: { command: join(baseDir, 'no-such-wrapper'), args: [] } });
    expect(await node.exit).toMatchObject({ code: null, expected: false });
    expect(node.child).toBeNull();
    await expect(launcher.waitReady('n1', 'listening', 1_000)).rejects.toThrow(/not running/);
  });
});
