import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatSummary, summarizeProfile } from '../../bench/lib/profile-summary.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A small call tree: (root) -> fastify handler -> our server code -> a native socket write; plus idle and GC. */
function writeProfile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'raftlock-prof-'));
  dirs.push(dir);
  const frame = (functionName: string, url: string) => ({ functionName, url, scriptId: '0', lineNumber: 0, columnNumber: 0 });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 5, 6] },
      { id: 2, callFrame: frame('handleRequest', 'file:///x/node_modules/fastify/lib/handle-request.js'), children: [3] },
      { id: 3, callFrame: frame('onAcquire', 'file:///x/dist/src/server/http-server.js'), children: [4] },
      { id: 4, callFrame: frame('writev', ''), children: [] },
      { id: 5, callFrame: frame('(idle)', ''), children: [] },
      { id: 6, callFrame: frame('(garbage collector)', ''), children: [] },
    ],
    startTime: 0,
    endTime: 100_000,
    // µs per sample: handler 10 ms self, server 20 ms, writev 30 ms, idle 35 ms, GC 5 ms.
    samples: [2, 3, 4, 5, 6],
    timeDeltas: [10_000, 20_000, 30_000, 35_000, 5_000],
  };
  const path = join(dir, 'CPU.1.cpuprofile');
  writeFileSync(path, JSON.stringify(profile));
  return path;
}

describe('profile summary', () => {
  it('groups samples by package, src folder and native frame, with self and inclusive time', () => {
    const s = summarizeProfile(writeProfile());
    expect(s.totalMs).toBe(100);
    expect(s.idleMs).toBe(35);
    const by = Object.fromEntries(s.buckets.map((b) => [b.name, b]));
    expect(by['native:writev']).toEqual({ name: 'native:writev', selfMs: 30, inclusiveMs: 30 });
    expect(by['src/server']).toEqual({ name: 'src/server', selfMs: 20, inclusiveMs: 50 });
    expect(by['npm:fastify']).toEqual({ name: 'npm:fastify', selfMs: 10, inclusiveMs: 60 });
    expect(by['(garbage collector)']!.selfMs).toBe(5);
    expect(by['(idle)']).toBeUndefined();
    expect(s.buckets.map((b) => b.name)).toEqual(['native:writev', 'src/server', 'npm:fastify', '(garbage collector)']);
    const text = formatSummary('leader n1', s);
    expect(text).toContain('65 ms busy');
    expect(text.split('\n')[2]).toMatch(/^\s+30\s+30\s+46\.2\s+native:writev$/);
  });
});
