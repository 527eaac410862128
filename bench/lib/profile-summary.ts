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
  startTime: number;
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

/** readProfile reads one `.cpuprofile` file with its call tree indexed both ways. */
function readProfile(path: string): { profile: CpuProfile; byId: Map<number, ProfileNode>; parentOf: Map<number, number> } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }
  return { profile, byId, parentOf };
}

/** summarizeProfile reads one `.cpuprofile` file and groups its samples. */
export function summarizeProfile(path: string): ProfileSummary {
  const { profile, byId, parentOf } = readProfile(path);
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

/**
 * The areas issue 14 asks the CPU to be split by. A sample goes to the innermost area on its stack (walking from the
 * leaf to the root): a msgpack encode called by the transport is msgpack, a socket write called by a reply is HTTP.
 * Samples whose stack loads or compiles modules are `startup` and left out of the per-cycle figures.
 */
export const AREAS = ['http', 'json', 'msgpack', 'leveldb', 'raft core', 'lease table', 'host (src/node)', 'peer transport', 'gc', 'node (unattributed)'] as const;
export type Area = (typeof AREAS)[number] | 'startup';

function areaOfFrame(frame: ProfileNode['callFrame']): Area | null {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'gc';
    if (functionName === 'parse' || functionName === 'stringify') return 'json';
    if (functionName === 'compileFunction' || functionName === 'readFileUtf8' || functionName === 'internalModuleStat' || functionName === 'compileSourceTextModule') return 'startup';
    return null;
  }
  if (url.includes('node:internal/modules')) return 'startup';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg !== undefined) {
    if (pkg === 'msgpackr') return 'msgpack';
    if (pkg === 'fast-json-stringify' || pkg === 'secure-json-parse') return 'json';
    if (pkg === 'classic-level' || pkg === 'abstract-level' || pkg.startsWith('level-') || pkg === 'module-error' || pkg === 'maybe-combine-errors') return 'leveldb';
    if (pkg === 'prom-client') return 'host (src/node)';
    return 'http'; // fastify and its dependencies (find-my-way, avvio, ajv, light-my-request, pino)
  }
  const src = /dist\/src\/([^/]+)\//.exec(url)?.[1];
  if (src !== undefined) {
    if (src === 'storage') return 'leveldb';
    if (src === 'locks') return 'lease table';
    if (src === 'raft') return 'raft core';
    if (src === 'transport') return 'peer transport';
    if (src === 'server') return 'http';
    if (src === 'node') return 'host (src/node)';
    return null;
  }
  if (url.startsWith('node:_http') || url.startsWith('node:http')) return 'http';
  return null;
}

/** AreaSummary is one profile's busy time by area, in ms, without startup. */
export interface AreaSummary {
  readonly busyMs: number;
  readonly startupMs: number;
  readonly areas: ReadonlyMap<Area, number>;
}

/**
 * ProfileWindow limits a summary to the samples taken between two readings of `process.hrtime` (in µs): V8 stamps
 * samples with the same monotonic clock in every process on Linux, so a bench can cut its load window out of each node's profile.
 */
export interface ProfileWindow {
  readonly fromUs: number;
  readonly toUs: number;
}

/** hrtimeUs is the monotonic clock a profile's timestamps use, in µs. */
export function hrtimeUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** summarizeAreas reads one `.cpuprofile` and splits its busy samples (within `window`, if given) by area (AREAS). */
export function summarizeAreas(path: string, window?: ProfileWindow): AreaSummary {
  const { profile, byId, parentOf } = readProfile(path);
  const areaOfNode = new Map<number, Area>();
  const classify = (start: ProfileNode): Area => {
    const cached = areaOfNode.get(start.id);
    if (cached !== undefined) return cached;
    let found: Area | null = null;
    let startup = false;
    let node: ProfileNode | undefined = start;
    // Bounded by the profile's call-tree depth (each step moves to a parent).
    for (let depth = 0; node !== undefined && depth < 10_000; depth++) {
      const a = areaOfFrame(node.callFrame);
      if (a === 'startup') startup = true;
      else if (a !== null && found === null) found = a;
      const parent = parentOf.get(node.id);
      node = parent === undefined ? undefined : byId.get(parent);
    }
    const area: Area = startup ? 'startup' : (found ?? 'node (unattributed)');
    areaOfNode.set(start.id, area);
    return area;
  };
  const areas = new Map<Area, number>();
  let busyUs = 0;
  let startupUs = 0;
  let atUs = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const dtUs = profile.timeDeltas[i] ?? 0;
    atUs += dtUs;
    if (window !== undefined && (atUs < window.fromUs || atUs > window.toUs)) continue;
    if (node === undefined || node.callFrame.functionName === '(idle)') continue;
    const area = classify(node);
    if (area === 'startup') {
      startupUs += dtUs;
      continue;
    }
    busyUs += dtUs;
    areas.set(area, (areas.get(area) ?? 0) + dtUs);
  }
  const ms = new Map<Area, number>();
  for (const [a, us] of areas) ms.set(a, us / 1000);
  return { busyMs: busyUs / 1000, startupMs: startupUs / 1000, areas: ms };
}

/** formatAreas renders an area summary as µs per cycle (`cycles` completed over the summary's samples). */
export function formatAreas(title: string, summary: AreaSummary, cycles: number): string {
  const per = (ms: number): string => ((ms * 1000) / Math.max(1, cycles)).toFixed(0).padStart(6);
  const lines = [`${title}: ${per(summary.busyMs)} µs/cycle sampled busy (startup left out: ${summary.startupMs.toFixed(0)} ms), ${cycles} cycles`];
  for (const a of AREAS) lines.push(`  ${per(summary.areas.get(a) ?? 0)}  ${a}`);
  return lines.join('\n');
}
