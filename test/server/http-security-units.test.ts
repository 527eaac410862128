import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, buildNodeConfig } from '../../src/node/node-config.js';
import { AuthFileError, TokenStore, hashToken } from '../../src/server/auth-tokens.js';
import { ForwardSigner, bodyMatches } from '../../src/server/forward-signature.js';
import { loadHttpSecurity } from '../../src/server/http-security.js';

/** The pieces of the HTTP API's security on their own: the auth file, relay signatures, serve flags and start checks. */

const dir = mkdtempSync(join(tmpdir(), 'raftlock-secunits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const entry = (principal: string, roles: string[]) => ({ principal, roles });

describe('auth file', () => {
  const parse = (json: unknown) => TokenStore.parse(JSON.stringify(json), 'auth.json');

  it('authenticates a token by its hash, and nothing else', () => {
    const store = parse({ tokens: { [hashToken('s3cret-token-value')]: entry('app', ['locker']) } });
    expect(store.authenticate('s3cret-token-value')).toEqual({ principal: 'app', roles: ['locker'] });
    expect(store.authenticate('s3cret-token-valuf')).toBeNull();
    expect(store.authenticate(hashToken('s3cret-token-value'))).toBeNull();
    expect(store.authenticate('')).toBeNull();
  });

  it.each([
    [{ tokens: { 's3cret-token-value': entry('app', ['locker']) } }, /the hash, never the token/],
    [{ tokens: { [hashToken('t')]: entry('a/b', ['locker']) } }, /principal/],
    [{ tokens: { [hashToken('t')]: entry('a~b', ['locker']) } }, /principal/],
    [{ tokens: { [hashToken('t')]: entry('app', []) } }, /roles/],
    [{ tokens: { [hashToken('t')]: entry('app', ['root']) } }, /roles/],
    [{ tokens: {} }, /empty/],
    [{ tokens: { [hashToken('t')]: entry('app', ['reader']) }, extra: 1 }, /unknown field/],
    [{ tokens: { [hashToken('t')]: entry('app', ['reader']) }, clusterSecret: 'short' }, /clusterSecret/],
  ])('refuses %j', (json, message) => {
    expect(() => parse(json)).toThrow(AuthFileError);
    expect(() => parse(json)).toThrow(message);
  });
});

describe('relay signatures', () => {
  const signer = new ForwardSigner('cluster-secret-1', 'raftlock', 'n1');
  const alice = { principal: 'alice', roles: ['locker' as const] };

  it('verify gives back the identity a member signed, for that method, path and body', () => {
    const headers = signer.headers(alice, 'POST', '/v1/locks/a/acquire', '{"owner":"x"}', 1_000_000);
    const v = new ForwardSigner('cluster-secret-1', 'raftlock', 'n2').verify(headers, 'POST', '/v1/locks/a/acquire', 1_000_500);
    expect(v).toMatchObject({ caller: { kind: 'client', identity: alice, member: 'n1' } });
    if ('refused' in v) throw new Error(v.refused);
    expect(bodyMatches(v, { owner: 'x' })).toBe(true);
    expect(bodyMatches(v, { owner: 'y' })).toBe(false);
  });

  it.each([
    ['another path', (h: Record<string, string>) => signer.verify(h, 'POST', '/v1/locks/b/acquire', 1_000_000)],
    ['another method', (h: Record<string, string>) => signer.verify(h, 'DELETE', '/v1/locks/a/acquire', 1_000_000)],
    ['another cluster secret', (h: Record<string, string>) => new ForwardSigner('cluster-secret-2', 'raftlock', 'n2').verify(h, 'POST', '/v1/locks/a/acquire', 1_000_000)],
    ['another cluster id', (h: Record<string, string>) => new ForwardSigner('cluster-secret-1', 'other', 'n2').verify(h, 'POST', '/v1/locks/a/acquire', 1_000_000)],
    ['a clock 61 s away', (h: Record<string, string>) => signer.verify(h, 'POST', '/v1/locks/a/acquire', 1_061_001)],
    ['roles raised in the claims', (h: Record<string, string>) => {
      const claims = JSON.parse(Buffer.from(h['x-raftlock-identity']!, 'base64url').toString()) as { r: string[] };
      claims.r = ['admin'];
      return signer.verify({ ...h, 'x-raftlock-identity': Buffer.from(JSON.stringify(claims)).toString('base64url') }, 'POST', '/v1/locks/a/acquire', 1_000_000);
    }],
  ])('refuses %s', (_what, check) => {
    const headers = signer.headers(alice, 'POST', '/v1/locks/a/acquire', '', 1_000_000);
    expect(check(headers)).toHaveProperty('refused');
  });
});

describe('serve flags and start checks', () => {
  const members = { id: 'n1', 'data-dir': dir, http: '127.0.0.1:4001', peers: 'n1=127.0.0.1:5001,n2=127.0.0.1:5002' };
  // Peer security is required; --insecure stands for "no cluster secret" where a test is not about it.
  const base = { ...members, insecure: '1' };

  it.each([
    [{ 'http-cert': 'c.pem' }, /go together/],
    [{ 'metrics-auth': 'reader' }, /needs --auth-file/],
    [{ 'metrics-auth': 'everyone' }, /none or reader/],
    [{ 'http-headers-timeout-ms': '5000', 'http-request-timeout-ms': '1000' }, /at least/],
    [{ 'http-max-connections': '3' }, /outside/],
  ])('refuses %j', (flags, message) => {
    expect(() => buildNodeConfig({ ...base, ...flags }, {})).toThrow(ConfigError);
    expect(() => buildNodeConfig({ ...base, ...flags }, {})).toThrow(message);
  });

  it('a node with HTTPS lists itself with an https URL', () => {
    expect(buildNodeConfig({ ...base, 'http-cert': 'c.pem', 'http-key': 'k.pem' }, {}).peerHttp['n1']).toBe('https://127.0.0.1:4001');
  });

  it('authentication in a cluster of several members needs a secret to sign relays with', async () => {
    const file = join(dir, 'auth.json');
    writeFileSync(file, JSON.stringify({ tokens: { [hashToken('t0123456789')]: entry('app', ['locker']) } }));
    const silent = pino({ level: 'silent' });
    await expect(loadHttpSecurity(buildNodeConfig({ ...base, 'auth-file': file }, {}), silent)).rejects.toThrow(/cluster secret/);
    const withSecret = await loadHttpSecurity(buildNodeConfig({ ...members, 'auth-file': file, secret: 'a-cluster-secret' }, {}), silent);
    expect(withSecret.signer).not.toBeNull();
    const fromEnv = await loadHttpSecurity(buildNodeConfig({ ...members, secret: 'a-cluster-secret' }, { RAFTLOCK_AUTH: JSON.stringify({ tokens: { [hashToken('x0123456789')]: entry('b', ['reader']) } }) }), silent);
    expect(fromEnv.tokens?.authenticate('x0123456789')).toEqual({ principal: 'b', roles: ['reader'] });
  });
});
