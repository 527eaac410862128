/**
 * assemble lays out the client library as its own npm package, `raftlock-client`, from the compiled tree: the
 * client (dist/src/client) and the API contract it imports (dist/src/api), with package.template.json and a
 * README. The client must stay installable without the server (no fastify, LevelDB, pino or prom-client), so the
 * assembly refuses any import in those files other than node built-ins and files of the package itself.
 *
 *   npm run build && node dist/src/client-package/assemble.js [OUT_DIR]   (default dist/client-package)
 *   npm pack ./dist/client-package
 */
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled folders the package holds, relative to dist/src. */
const FOLDERS = ['client', 'api'] as const;
/** What a file of the package may import: a node built-in, or a relative path that stays inside the package. */
const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** assembleClientPackage writes the package into `outDir` and returns the files it holds (relative paths). */
export function assembleClientPackage(distSrc: string, sourceDir: string, outDir: string): string[] {
  rmSync(outDir, { recursive: true, force: true });
  const files: string[] = [];
  for (const folder of FOLDERS) {
    mkdirSync(join(outDir, folder), { recursive: true });
    for (const name of readdirSync(join(distSrc, folder))) {
      if (!name.endsWith('.js') && !name.endsWith('.d.ts')) continue;
      const from = join(distSrc, folder, name);
      if (name.endsWith('.js')) checkImports(from, folder);
      copyFileSync(from, join(outDir, folder, name));
      files.push(`${folder}/${name}`);
    }
  }
  const pkg = JSON.parse(readFileSync(join(sourceDir, 'package.template.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  copyFileSync(join(sourceDir, 'README.md'), join(outDir, 'README.md'));
  return files;
}

function checkImports(file: string, folder: string): void {
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2]!;
    if (spec.startsWith('node:')) continue;
    const inPackage = spec.startsWith('./') || (spec.startsWith('../') && FOLDERS.some((f) => spec.startsWith(`../${f}/`)));
    if (!inPackage) throw new Error(`${file}: imports "${spec}"; the client package may import only node built-ins and ${FOLDERS.map((f) => `src/${f}`).join(', ')} (folder ${folder})`);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const here = dirname(fileURLToPath(import.meta.url)); // dist/src/client-package
  const repo = resolve(here, '../../..');
  const out = resolve(process.argv[2] ?? join(repo, 'dist/client-package'));
  const files = assembleClientPackage(join(repo, 'dist/src'), join(repo, 'src/client-package'), out);
  process.stdout.write(`assembled raftlock-client in ${out}: ${files.length} files\n`);
}
