/**
 * The timeline picture of a verify run: an HTML page with one inline SVG, one
 * row per client with its operations as bars (ok, definite failure, refused,
 * unknown), the fault windows shaded across all rows, and a mark at every leader
 * change. Hovering a bar shows the operation.
 */
import { describeOp, isMeaningfulFail, type Operation } from '../history.js';
import type { LeaderChange } from './leader-monitor.js';
import type { NemesisRecord } from './nemesis.js';

/** TimelineInput is everything the picture shows. */
export interface TimelineInput {
  readonly title: string;
  readonly summaryLines: readonly string[];
  readonly history: readonly Operation[];
  readonly nemesis: readonly NemesisRecord[];
  readonly leaderChanges: readonly LeaderChange[];
  /** End of the time axis (run clock). */
  readonly endMs: number;
}

const COLORS = {
  ok: '#2e9e44',
  answer: '#e6a23c', // a definite lock_held / not_holder
  refused: '#d9363e', // not applied: no leader, unreachable
  unknown: '#7b4fd0',
} as const;

const FAULT_COLORS: Readonly<Record<string, string>> = {
  partition: '#f0c040',
  kill: '#e05050',
  pause: '#5080e0',
  'client-pause': '#40b0a0',
  member: '#a060c0',
};

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function opColor(op: Operation): string {
  if (op.status === 'ok') return COLORS.ok;
  if (op.status === 'unknown') return COLORS.unknown;
  return isMeaningfulFail(op) ? COLORS.answer : COLORS.refused;
}

/** renderTimelineHtml renders the page. */
export function renderTimelineHtml(input: TimelineInput): string {
  const processes = [...new Set(input.history.map((o) => String(o.process)))].sort((a, b) =>
    a.localeCompare(b, 'en', { numeric: true }),
  );
  const labelW = 110;
  const plotW = 1600;
  const rowH = 14;
  const topH = 60; // axis, fault labels, leader row
  const endMs = Math.max(1, input.endMs);
  const x = (ms: number): number => labelW + (Math.max(0, Math.min(ms, endMs)) / endMs) * plotW;
  const height = topH + processes.length * rowH + 20;
  const width = labelW + plotW + 20;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="10">`);
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`);

  // Fault windows, shaded behind everything.
  for (const r of input.nemesis) {
    if (r.skipped) continue;
    const color = FAULT_COLORS[r.family] ?? '#999';
    const x0 = x(r.startMs);
    const w = Math.max(1, x(r.endMs) - x0);
    parts.push(
      `<rect x="${x0.toFixed(1)}" y="28" width="${w.toFixed(1)}" height="${height - 28}" fill="${color}" fill-opacity="0.18"><title>${esc(
        `#${r.seq} ${r.family} ${r.variant} [${r.startMs.toFixed(0)}, ${r.endMs.toFixed(0)}] ms: ${r.detail}`,
      )}</title></rect>`,
    );
    parts.push(`<text x="${(x0 + 2).toFixed(1)}" y="38" fill="#555">${esc(`${r.family}:${r.variant}`)}</text>`);
  }

  // Time axis.
  const stepMs = endMs > 120_000 ? 20_000 : endMs > 30_000 ? 10_000 : endMs > 10_000 ? 2_000 : 1_000;
  for (let t = 0; t <= endMs; t += stepMs) {
    parts.push(`<line x1="${x(t).toFixed(1)}" y1="14" x2="${x(t).toFixed(1)}" y2="${height}" stroke="#eee"/>`);
    parts.push(`<text x="${(x(t) + 2).toFixed(1)}" y="12" fill="#333">${(t / 1000).toFixed(0)}s</text>`);
  }

  // Leader changes: a marker line and the new leader's name.
  parts.push(`<text x="4" y="50" fill="#333">leader</text>`);
  for (const c of input.leaderChanges) {
    const lx = x(c.atMs).toFixed(1);
    const label = c.leader === null ? 'none' : `${c.leader} t${c.term ?? '?'}`;
    parts.push(`<line x1="${lx}" y1="42" x2="${lx}" y2="${height}" stroke="#000" stroke-dasharray="3,3" stroke-opacity="0.5"><title>${esc(`${c.atMs.toFixed(0)} ms: leader ${label}`)}</title></line>`);
    parts.push(`<text x="${(x(c.atMs) + 2).toFixed(1)}" y="52" fill="${c.leader === null ? '#d9363e' : '#000'}">${esc(label)}</text>`);
  }

  // One row per client.
  processes.forEach((p, i) => {
    const y = topH + i * rowH;
    parts.push(`<text x="4" y="${y + rowH - 4}" fill="#333">${esc(`client ${p}`)}</text>`);
  });
  const rowOf = new Map(processes.map((p, i) => [p, i]));
  for (const op of input.history) {
    const row = rowOf.get(String(op.process))!;
    const y = topH + row * rowH + 2;
    const end = op.completeMs === null || !Number.isFinite(op.completeMs) ? op.invokeMs + 5 : op.completeMs;
    const x0 = x(op.invokeMs);
    const w = Math.max(1, x(end) - x0);
    parts.push(`<rect x="${x0.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 4}" fill="${opColor(op)}"><title>${esc(describeOp(op))}</title></rect>`);
  }
  parts.push('</svg>');

  const legend = [
    ['ok', COLORS.ok],
    ['definite answer (lock_held / not_holder)', COLORS.answer],
    ['refused, not applied (no leader)', COLORS.refused],
    ['unknown outcome', COLORS.unknown],
    ...Object.entries(FAULT_COLORS).map(([k, c]) => [`fault: ${k}`, c] as [string, string]),
  ]
    .map(([label, c]) => `<span style="display:inline-block;width:12px;height:12px;background:${c};margin:0 4px 0 12px"></span>${esc(label!)}`)
    .join('');
  return [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${esc(input.title)}</title>`,
    '<style>body{font-family:sans-serif;margin:12px} pre{background:#f6f6f6;padding:8px} .svg{overflow-x:auto}</style></head><body>',
    `<h2>${esc(input.title)}</h2>`,
    `<pre>${esc(input.summaryLines.join('\n'))}</pre>`,
    `<div>${legend}</div>`,
    `<div class="svg">${parts.join('\n')}</div>`,
    '</body></html>',
    '',
  ].join('\n');
}
