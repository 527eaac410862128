/**
 * profile-summary: where a node's CPU time went, from a V8 `.cpuprofile`
 * (`node --cpu-prof`). Samples are grouped by what they ran in: an npm
 * package, a folder of src/, a Node.js core module, or a native frame
 * (socket writes show up as `native:writeBuffer` / `native:writev`).
 *
 * Caveat, measured on this 2-core machine: a profile samples wall time, so a
 * syscall that wakes another process (a socket write to a peer or a client)
 * also counts the time the kernel ran that process instead; such native
 * frames overstate their CPU. /proc CPU figures are the ground truth.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Bucket is one group's sampled time in ms: `selfMs` in its own frames, `inclusiveMs` with everything it called. */
export interface Bucket {
  readonly name: string;
  readonly selfMs: number;
  readonly inclusiveMs: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idleMs: number;
  /** Busiest first. */
  readonly buckets: readonly Bucket[];
}

function bucketOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : `native:${functionName}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg !== null) return `npm:${pkg[1]}`;
  const src = /dist\/src\/([^/]+)\//.exec(url);
  if (src !== null) return `src/${src[1]}`;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  return `other:${url.split('/').pop()}`;
}

/** summarizeProfile reads one `.cpuprofile` file and groups its samples. */
export function summarizeProfile(path: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dtUs = profile.timeDeltas[i] ?? 0;
    totalUs += dtUs;
    let node = byId.get(profile.samples[i]!);
    if (node === undefined) continue;
    const leaf = bucketOf(node.callFrame);
    self.set(leaf, (self.get(leaf) ?? 0) + dtUs);
    const seen = new Set<string>();
    // Bounded by the profile's call-tree depth (each step moves to a parent).
    for (let depth = 0; node !== undefined && depth < 10_000; depth++) {
      const name = bucketOf(node.callFrame);
      if (!seen.has(name)) {
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + dtUs);
      }
      const parent = parentOf.get(node.id);
      node = parent === undefined ? undefined : byId.get(parent);
    }
  }
  const buckets = [...self.entries()]
    .filter(([name]) => name !== '(idle)')
    .map(([name, us]) => ({ name, selfMs: us / 1000, inclusiveMs: (inclusive.get(name) ?? us) / 1000 }))
    .sort((a, b) => b.selfMs - a.selfMs);
  return { totalMs: totalUs / 1000, idleMs: (self.get('(idle)') ?? 0) / 1000, buckets };
}

/** formatSummary renders the top `limit` buckets as text lines. */
export function formatSummary(title: string, summary: ProfileSummary, limit = 14): string {
  const busyMs = summary.totalMs - summary.idleMs;
  const lines = [`${title}: ${summary.totalMs.toFixed(0)} ms sampled, ${busyMs.toFixed(0)} ms busy (startup included)`];
  lines.push('    self ms  incl ms  busy%  in');
  for (const b of summary.buckets.slice(0, limit)) {
    lines.push(`  ${b.selfMs.toFixed(0).padStart(9)} ${b.inclusiveMs.toFixed(0).padStart(8)} ${((100 * b.selfMs) / Math.max(1, busyMs)).toFixed(1).padStart(6)}  ${b.name}`);
  }
  return lines.join('\n');
}
