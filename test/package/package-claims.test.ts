import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

/**
 * What package.json claims holds: the Node versions in `engines` are ones
 * every installed dependency accepts (or, for a dependency known to claim
 * less than it needs, one whose code is shown to load here), the Node
 * running the tests is one of them, and the MIT license it names is in
 * LICENSE.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; license: string };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; optional?: boolean; engines?: { node?: string } | string[] }>;
};

/**
 * Dependencies whose own `engines` is narrower than what they need, each with why our range still works: cookie 2
 * (through fastify's light-my-request) says Node 22, but it is an ES module that light-my-request require()s, which
 * Node 20 does from 20.19 on (our lower bound); the test below loads it the same way.
 */
const NARROWER_THAN_NEEDED: Readonly<Record<string, string>> = { 'node_modules/cookie': 'require(esm), Node >= 20.19' };

describe('package.json', () => {
  it('claims Node versions every installed dependency accepts, and this Node is one of them', () => {
    const ours = pkg.engines.node;
    expect(semver.validRange(ours)).not.toBeNull();
    expect(semver.satisfies(process.versions.node, ours)).toBe(true);
    const refusing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const theirs = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (path === '' || theirs === undefined) continue;
      // Optional packages for other platforms (wasm, other CPUs) are not installed here.
      if (entry.optional === true && !existsSync(join(ROOT, path))) continue;
      if (!semver.subset(ours, theirs) && NARROWER_THAN_NEEDED[path] === undefined) refusing.push(`${path}@${entry.version} wants node ${theirs}`);
    }
    expect(refusing).toEqual([]);
  });

  it('the dependencies that claim less than they need load on this Node as they are used', () => {
    // light-my-request is how cookie is reached: fastify loads it at start.
    const fromFastify = createRequire(createRequire(join(ROOT, 'package.json')).resolve('fastify'));
    const lightMyRequest = createRequire(fromFastify.resolve('light-my-request'));
    const cookie = lightMyRequest('cookie') as { stringifySetCookie: (c: { name: string; value: string }) => string };
    expect(cookie.stringifySetCookie({ name: 'a', value: 'b' })).toBe('a=b');
    expect(Object.keys(NARROWER_THAN_NEEDED)).toEqual(['node_modules/cookie']);
  });

  it('names the MIT license, whose text is in LICENSE', () => {
    expect(pkg.license).toBe('MIT');
    const text = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
    expect(text).toMatch(/^MIT License\n/);
    expect(text).toMatch(/Permission is hereby granted, free of charge/);
  });
});
