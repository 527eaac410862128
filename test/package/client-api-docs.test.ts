import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Application, LogLevel, type DeclarationReflection } from 'typedoc';
import { afterAll, describe, expect, it } from 'vitest';
import * as client from '../../src/client/index.js';

/**
 * The client API reference (`npm run docs:client`, TypeDoc over
 * src/client/index.ts) builds without a warning, covers every export of the
 * client, and each export has its doc comment.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const out = mkdtempSync(join(tmpdir(), 'raftlock-client-docs-'));

afterAll(() => rmSync(out, { recursive: true, force: true }));

/** hasComment says whether a reflection, or one of its call or construct signatures, has a doc comment. */
function hasComment(r: DeclarationReflection): boolean {
  return r.comment !== undefined || (r.signatures ?? []).some((s) => s.comment !== undefined);
}

describe('the client API reference', () => {
  it('builds from the client sources with no warning, and documents every export', async () => {
    const app = await Application.bootstrap({
      entryPoints: [join(ROOT, 'src/client/index.ts')],
      tsconfig: join(ROOT, 'tsconfig.json'),
      excludePrivate: true,
      excludeInternal: true,
      disableSources: true,
      readme: 'none',
      name: 'raftlock client',
      logLevel: LogLevel.Warn,
      validation: { notExported: true, invalidLink: true, notDocumented: false },
    });
    const project = await app.convert();
    expect(project).toBeDefined();
    app.validate(project!);
    expect(app.logger.hasErrors()).toBe(false);
    expect(app.logger.hasWarnings()).toBe(false);
    const documented = new Map((project!.children ?? []).map((c) => [c.name, c]));
    const runtime = Object.keys(client);
    expect(runtime.length).toBeGreaterThan(10);
    expect(runtime.filter((name) => !documented.has(name))).toEqual([]);
    expect([...documented.values()].filter((r) => !hasComment(r)).map((r) => r.name)).toEqual([]);
    await app.generateDocs(project!, out);
    expect(existsSync(join(out, 'classes', 'RaftLockClient.html'))).toBe(true);
    // TypeDoc type-checks the whole program: a minute on a loaded 2-core machine.
  }, 300_000);
});
