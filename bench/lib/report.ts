import type { SystemName } from './load-target.js';
import { median } from './percentile.js';
import type { LockRunResult, RunResult, SessionRunResult } from './workloads.js';

/** RunRecord is one run of one system on one workload, with the servers' memory read after it. */
export interface RunRecord {
  readonly system: SystemName;
  readonly workload: string;
  readonly run: number;
  readonly result: RunResult;
  /** Sum over the server processes of VmHWM (peak RSS), in MiB. */
  readonly peakRssMiB: number;
  readonly peakRssMiBPerProcess: readonly number[];
}

/** LockRow is the median over runs of one system on one lock workload. */
export interface LockRow {
  readonly kind: 'locks';
  readonly system: SystemName;
  readonly workload: string;
  readonly runs: number;
  readonly cyclesPerSec: number;
  readonly acquireP50Ms: number;
  readonly acquireP99Ms: number;
  readonly acquireP999Ms: number;
  readonly acquireMaxMs: number;
  readonly cycleP50Ms: number;
  readonly serverCpuSec: number;
  /** Server CPU (all processes) per acquire+release cycle of the window, in µs. */
  readonly cpuUsPerCycle: number;
  /** The same per server process, busiest first (for raftlock: the leader first), medians over runs. */
  readonly cpuUsPerCyclePerProcess: readonly number[];
  readonly loadCpuSec: number;
  readonly peakRssMiB: number;
  readonly errors: number;
  readonly violations: number;
  readonly overtakePct: number;
  readonly retriesPerAcquire: number;
  /** This system's value divided by raftlock's on the same workload (NaN when raftlock did not run). */
  readonly cyclesRatio: number;
  readonly p99Ratio: number;
}

/** SessionRow is the median over runs of one system on the sessions workload. */
export interface SessionRow {
  readonly kind: 'sessions';
  readonly system: SystemName;
  readonly workload: string;
  readonly runs: number;
  readonly sessions: number;
  readonly setupSec: number;
  readonly keepalivesPerSec: number;
  readonly keepaliveP50Ms: number;
  readonly keepaliveP99Ms: number;
  /** Server CPU per second of wall time (1.0 = one core busy). */
  readonly serverCores: number;
  readonly serverCpuSec: number;
  /** Server CPU (all processes) per keepalive of the window, in µs. */
  readonly cpuUsPerKeepalive: number;
  /** The same per server process, busiest first. */
  readonly cpuUsPerKeepalivePerProcess: readonly number[];
  readonly loadCpuSec: number;
  readonly peakRssMiB: number;
  readonly lost: number;
  readonly errors: number;
  readonly keepalivesRatio: number;
  readonly cpuRatio: number;
}

export type Row = LockRow | SessionRow;

/** aggregate reduces runs to medians per (system, workload), in first-seen order, with ratios to raftlock. */
export function aggregate(records: readonly RunRecord[]): Row[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const key = `${r.workload}\u0000${r.system}`;
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  const rows: Row[] = [];
  for (const list of groups.values()) {
    const first = list[0]!;
    const m = (f: (r: RunRecord) => number): number => median(list.map(f));
    const sum = (f: (r: RunRecord) => number): number => list.reduce((a, r) => a + f(r), 0);
    if (first.result.kind === 'locks') {
      const L = (r: RunRecord): LockRunResult => r.result as LockRunResult;
      rows.push({
        kind: 'locks',
        system: first.system,
        workload: first.workload,
        runs: list.length,
        cyclesPerSec: m((r) => L(r).cyclesPerSec),
        acquireP50Ms: m((r) => L(r).acquire.p50Ms),
        acquireP99Ms: m((r) => L(r).acquire.p99Ms),
        acquireP999Ms: m((r) => L(r).acquire.p999Ms),
        acquireMaxMs: m((r) => L(r).acquire.maxMs),
        cycleP50Ms: m((r) => L(r).cycle.p50Ms),
        serverCpuSec: m((r) => L(r).serverCpuSec),
        cpuUsPerCycle: m((r) => perEvent(L(r).serverCpuSec, L(r).cycles)),
        cpuUsPerCyclePerProcess: perProcessMedians(list.map((r) => busiestFirst(L(r).serverCpuSecPerProcess).map((sec) => perEvent(sec, L(r).cycles)))),
        loadCpuSec: m((r) => L(r).loadCpuSec),
        peakRssMiB: m((r) => r.peakRssMiB),
        errors: sum((r) => L(r).errors),
        violations: sum((r) => L(r).violations),
        overtakePct: m((r) => (L(r).grants === 0 ? 0 : (100 * L(r).overtakes) / L(r).grants)),
        retriesPerAcquire: m((r) => L(r).retriesPerAcquire),
        cyclesRatio: Number.NaN,
        p99Ratio: Number.NaN,
      });
    } else {
      const S = (r: RunRecord): SessionRunResult => r.result as SessionRunResult;
      rows.push({
        kind: 'sessions',
        system: first.system,
        workload: first.workload,
        runs: list.length,
        sessions: m((r) => S(r).sessions),
        setupSec: m((r) => S(r).setupSec),
        keepalivesPerSec: m((r) => S(r).keepalivesPerSec),
        keepaliveP50Ms: m((r) => S(r).keepalive.p50Ms),
        keepaliveP99Ms: m((r) => S(r).keepalive.p99Ms),
        serverCores: m((r) => S(r).serverCpuSec / S(r).windowSec),
        serverCpuSec: m((r) => S(r).serverCpuSec),
        cpuUsPerKeepalive: m((r) => perEvent(S(r).serverCpuSec, S(r).keepalives)),
        cpuUsPerKeepalivePerProcess: perProcessMedians(list.map((r) => busiestFirst(S(r).serverCpuSecPerProcess).map((sec) => perEvent(sec, S(r).keepalives)))),
        loadCpuSec: m((r) => S(r).loadCpuSec),
        peakRssMiB: m((r) => r.peakRssMiB),
        lost: sum((r) => S(r).lost),
        errors: sum((r) => S(r).errors),
        keepalivesRatio: Number.NaN,
        cpuRatio: Number.NaN,
      });
    }
  }
  return rows.map((row) => {
    const base = rows.find((r) => r.workload === row.workload && r.system === 'raftlock');
    if (base === undefined) return row;
    if (row.kind === 'locks' && base.kind === 'locks') return { ...row, cyclesRatio: row.cyclesPerSec / base.cyclesPerSec, p99Ratio: row.acquireP99Ms / base.acquireP99Ms };
    if (row.kind === 'sessions' && base.kind === 'sessions') return { ...row, keepalivesRatio: row.keepalivesPerSec / base.keepalivesPerSec, cpuRatio: row.serverCores / base.serverCores };
    return row;
  });
}

/** perEvent is CPU seconds per event in µs (NaN without events). */
const perEvent = (cpuSec: number, events: number): number => (events > 0 ? (cpuSec * 1e6) / events : Number.NaN);

/** busiestFirst sorts per-process CPU figures in decreasing order (a run's leader is not always the same PID index). */
const busiestFirst = (values: readonly number[] | undefined): number[] => [...(values ?? [])].sort((a, b) => b - a);

/** perProcessMedians is the median of each position over runs (runs with fewer processes leave that position out). */
function perProcessMedians(perRun: readonly (readonly number[])[]): number[] {
  const n = Math.max(0, ...perRun.map((r) => r.length));
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(median(perRun.flatMap((r) => (r[i] === undefined ? [] : [r[i]!]))));
  return out;
}

/** perProcessText renders per-process figures as "a/b/c" (µs, no decimals). */
const perProcessText = (values: readonly number[]): string => (values.length <= 1 ? '-' : values.map((v) => (Number.isFinite(v) ? Math.round(v).toString() : '-')).join('/'));

const fmt = (v: number, digits = 2): string => {
  if (!Number.isFinite(v)) return '-';
  if (Math.abs(v) >= 1000) return Math.round(v).toString();
  if (Math.abs(v) >= 100) return v.toFixed(Math.min(digits, 1));
  return v.toFixed(digits);
};
const ratio = (v: number): string => (Number.isFinite(v) ? `${v >= 10 ? v.toFixed(1) : v.toFixed(2)}x` : '-');

/** table renders rows as a fixed-width text table. */
export function table(headers: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** lockTable is the main result table: cycles/s and acquire latency per system and workload, ratios to raftlock. */
export function lockTable(rows: readonly Row[]): string {
  const locks = rows.filter((r): r is LockRow => r.kind === 'locks');
  return table(
    ['workload', 'system', 'cycles/s', 'x rl', 'acq p50 ms', 'p99 ms', 'p999 ms', 'max ms', 'p99 x rl', 'cyc p50 ms', 'cpu µs/cyc', 'per node µs', 'srv CPU s', 'srv RSS MiB', 'load CPU s', 'overtake%', 'retry/acq', 'err', 'viol'],
    locks.map((r) => [
      r.workload, r.system, fmt(r.cyclesPerSec, 0), ratio(r.cyclesRatio), fmt(r.acquireP50Ms), fmt(r.acquireP99Ms), fmt(r.acquireP999Ms), fmt(r.acquireMaxMs),
      ratio(r.p99Ratio), fmt(r.cycleP50Ms), fmt(r.cpuUsPerCycle, 0), perProcessText(r.cpuUsPerCyclePerProcess), fmt(r.serverCpuSec), fmt(r.peakRssMiB, 0), fmt(r.loadCpuSec), r.workload.startsWith('hot') ? fmt(r.overtakePct, 1) : '-',
      r.workload.startsWith('hot') ? fmt(r.retriesPerAcquire, 1) : '-', String(r.errors), String(r.violations),
    ]),
  );
}

/** sessionTable is the keepalive load of the sessions workload. */
export function sessionTable(rows: readonly Row[]): string {
  const sessions = rows.filter((r): r is SessionRow => r.kind === 'sessions');
  if (sessions.length === 0) return '';
  return table(
    ['workload', 'system', 'sessions', 'setup s', 'keepalive/s', 'x rl', 'p50 ms', 'p99 ms', 'srv cores', 'cores x rl', 'cpu µs/ka', 'per node µs', 'srv RSS MiB', 'load CPU s', 'lost', 'err'],
    sessions.map((r) => [
      r.workload, r.system, String(r.sessions), fmt(r.setupSec, 1), fmt(r.keepalivesPerSec, 0), ratio(r.keepalivesRatio), fmt(r.keepaliveP50Ms), fmt(r.keepaliveP99Ms),
      fmt(r.serverCores), ratio(r.cpuRatio), fmt(r.cpuUsPerKeepalive, 0), perProcessText(r.cpuUsPerKeepalivePerProcess), fmt(r.peakRssMiB, 0), fmt(r.loadCpuSec), String(r.lost), String(r.errors),
    ]),
  );
}

const COLORS: Readonly<Record<SystemName, string>> = { raftlock: '#d95f02', 'raftlock-lib': '#fc8d62', etcd: '#1b9e77', 'redis-aof': '#7570b3', 'redis-nopersist': '#a6a6d8' };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** svgChart draws cycles/s per workload per system as grouped bars on a log scale (hand-written SVG). */
export function svgChart(rows: readonly Row[], title: string): string {
  const locks = rows.filter((r): r is LockRow => r.kind === 'locks' && Number.isFinite(r.cyclesPerSec) && r.cyclesPerSec > 0);
  const workloads = [...new Set(locks.map((r) => r.workload))];
  const systems = [...new Set(locks.map((r) => r.system))];
  const width = 900;
  const height = 460;
  const left = 70;
  const right = 20;
  const top = 50;
  const bottom = 90;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const maxV = Math.max(10, ...locks.map((r) => r.cyclesPerSec));
  const minExp = 0;
  const maxExp = Math.ceil(Math.log10(maxV));
  const y = (v: number): number => top + plotH - ((Math.log10(Math.max(v, 1)) - minExp) / (maxExp - minExp)) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${esc(title)}</text>`);
  for (let e = minExp; e <= maxExp; e++) {
    const yy = y(10 ** e);
    out.push(`<line x1="${left}" x2="${width - right}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${yy + 4}" text-anchor="end">${10 ** e >= 1000 ? `${10 ** (e - 3)}k` : 10 ** e}</text>`);
  }
  out.push(`<text x="16" y="${top + plotH / 2}" transform="rotate(-90 16 ${top + plotH / 2})" text-anchor="middle">cycles/s (log scale)</text>`);
  const groupW = plotW / Math.max(1, workloads.length);
  const barW = Math.min(28, (groupW * 0.8) / Math.max(1, systems.length));
  workloads.forEach((w, gi) => {
    const gx = left + gi * groupW + (groupW - barW * systems.length) / 2;
    systems.forEach((s, si) => {
      const row = locks.find((r) => r.workload === w && r.system === s);
      if (row === undefined) return;
      const yy = y(row.cyclesPerSec);
      const x = gx + si * barW;
      out.push(`<rect x="${x.toFixed(1)}" y="${yy.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - yy).toFixed(1)}" fill="${COLORS[s]}"><title>${esc(`${s} ${w}: ${Math.round(row.cyclesPerSec)} cycles/s, p99 ${row.acquireP99Ms.toFixed(2)} ms`)}</title></rect>`);
      out.push(`<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${(yy - 3).toFixed(1)}" text-anchor="middle" font-size="9">${Math.round(row.cyclesPerSec)}</text>`);
    });
    out.push(`<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${esc(w)}</text>`);
  });
  out.push(`<line x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  systems.forEach((s, i) => {
    const x = left + i * 170;
    out.push(`<rect x="${x}" y="${height - 40}" width="14" height="14" fill="${COLORS[s]}"/><text x="${x + 20}" y="${height - 29}">${esc(s)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
