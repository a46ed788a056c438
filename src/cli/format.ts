// Plain-text output: aligned tables and short human forms of amounts and ages.
import { formatMiB } from '../core/quantity.js';
import type { GpuRequest } from '../core/types.js';
import type { PlacementView, TaskView } from '../sdk/types.js';

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** `5s`, `3m`, `2h`, `4d` since `iso` (or `-`). */
export function age(iso: string | number | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return '-';
  const t = typeof iso === 'number' ? iso : Date.parse(iso);
  if (!Number.isFinite(t)) return '-';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/**
 * A moment as the local clock shows it: `14:03:07` today (within 24 hours of `now`), else
 * `2026-01-05 14:03`; `-` when there is none.
 */
export function clock(iso: string | number | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return '-';
  const t = typeof iso === 'number' ? iso : Date.parse(iso);
  if (!Number.isFinite(t)) return '-';
  const d = new Date(t);
  const two = (n: number): string => String(n).padStart(2, '0');
  const hms = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  if (Math.abs(now - t) < 86_400_000) return hms;
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${hms.slice(0, 5)}`;
}

/** Milli-GPU as a GPU count: 500 → `0.5`, 1000 → `1`. */
export const gpuAmount = (milli: number): string => String(Math.round(milli) / 1000);

export const mib = (n: number): string => formatMiB(n);

/** Where a task runs, apart from what it asked: `node-1:gpu0`, `node-1:gpu0,gpu1`, `node-1` (no GPU), or `-`. */
export function placedOn(p: Pick<PlacementView, 'node' | 'gpus'> | null | undefined): string {
  if (!p) return '-';
  return p.gpus.length === 0 ? p.node : `${p.node}:${p.gpus.map((g) => `gpu${g}`).join(',')}`;
}

/** What a task asks for (`0.5`, `2`, `A100:0.5`, `20 GiB`, `vgpu` inside a reservation, `-` for CPU only). */
export function requestColumn(t: Pick<TaskView, 'spec'> & { vgpuId?: string | null }): string {
  if (t.vgpuId) return 'vgpu';
  return requestedGpus(t.spec?.resources?.gpu ?? null);
}

/** Where a placed task runs (`0:0.5`, `0,1`), or what a pending one asks for (`0.5`, `2`, `20GiB`). */
export function gpuColumn(t: Pick<TaskView, 'placement' | 'spec'>): string {
  if (t.placement) return placedGpus(t.placement);
  return requestedGpus(t.spec?.resources?.gpu ?? null);
}

export function placedGpus(p: PlacementView): string {
  if (p.gpus.length === 0) return '-';
  const ids = p.gpus.join(',');
  return p.gpuMilli > 0 && p.gpuMilli < 1000 ? `${ids}:${gpuAmount(p.gpuMilli)}` : ids;
}

export function requestedGpus(g: GpuRequest | null | undefined): string {
  if (!g || typeof g !== 'object') return '-';
  const model = g.model ? `${g.model}:` : '';
  const share = g.share;
  if (!share) return `${model}${g.count ?? '?'}`;
  if (share.kind === 'milli') return g.count > 1 ? `${model}${g.count}` : `${model}${gpuAmount(share.milli)}`;
  if (share.kind === 'memory') return `${model}${mib(share.memoryMiB)}`;
  return `${model}${share.tflops}TF`;
}

export const dash = (v: string | number | null | undefined): string => (v === null || v === undefined || v === '' ? '-' : String(v));
