// Words and colours for people: quantities, times, states, pending reasons, tenant colours.
import type { TaskState } from './api.js';

/** 1500 → "1.5", 250 → "0.25": GPUs from milli-GPU. */
export function gpus(milli: number): string {
  const g = milli / 1000;
  return Number.isInteger(g) ? String(g) : g.toFixed(g < 1 ? 3 : 2).replace(/0+$/, '').replace(/\.$/, '');
}

/** 81920 → "80 GiB", 512 → "512 MiB", 64000 GiB → "62.5 TiB". */
export function mib(m: number): string {
  if (m >= 1024 * 1024) {
    const t = m / (1024 * 1024);
    return `${Number.isInteger(t) ? t : t.toFixed(1)} TiB`;
  }
  if (m >= 1024) {
    const g = m / 1024;
    return `${Number.isInteger(g) ? g : g.toFixed(1)} GiB`;
  }
  return `${m} MiB`;
}

/**
 * Decimals that show every amount of a table: 2 for cents, more when some amount is smaller
 * than a cent would show (a minute on a slice costs fractions of a cent).
 * @example moneyDecimals([0.0166, 0.0083]) // 4
 */
export function moneyDecimals(amounts: readonly number[]): number {
  const smallest = Math.min(...amounts.filter((a) => a !== 0 && Number.isFinite(a)).map(Math.abs));
  if (!Number.isFinite(smallest) || smallest >= 1) return 2;
  return Math.min(6, Math.max(2, -Math.floor(Math.log10(smallest)) + 1));
}

/**
 * List, discount and charged as shown: each rounded to `decimals`, the discount the difference of
 * the two others, so that what a row shows adds up (list − discount = charged).
 */
export function shownAmounts(list: number, charged: number, decimals: number): { list: number; discount: number; charged: number } {
  const f = 10 ** decimals;
  const l = Math.round(list * f) / f;
  const c = Math.round(charged * f) / f;
  return { list: l, discount: Math.round((l - c) * f) / f, charged: c };
}

export function pct(part: number, whole: number): string {
  if (whole <= 0) return '0%';
  return `${Math.round((100 * part) / whole)}%`;
}

/** 93_000 → "1m 33s". */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** The one way the dashboard writes a time: "Dec 7, 09:41:05" in the reader's locale and zone; no year, no milliseconds. */
export const TIME_FORMAT: Intl.DateTimeFormatOptions = { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' };

export function time(iso: string | number | null): string {
  if (iso === null || iso === '') return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : d.toLocaleString(undefined, TIME_FORMAT);
}

/**
 * A chart's time ticks in the same format, with what the axis does not need left out: seconds,
 * and the date too while every tick falls on one day.
 * @example chartTicks([t, t + 600_000]) // ['09:40', '09:50']
 */
export function chartTicks(ms: readonly number[]): string[] {
  const day = (t: number): string => new Date(t).toDateString();
  const oneDay = ms.length === 0 || ms.every((t) => day(t) === day(ms[0]!));
  const { second: _s, ...noSeconds } = TIME_FORMAT;
  const { month: _m, day: _d, ...clock } = noSeconds;
  return ms.map((t) => new Date(t).toLocaleString(undefined, oneDay ? clock : noSeconds));
}

export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return '—';
  return `${duration(now - Date.parse(iso))} ago`;
}

export const TERMINAL: readonly TaskState[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT'];
export const ALL_STATES: readonly TaskState[] = ['PENDING', 'SCHEDULED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'PREEMPTED', 'LOST'];

/** The pending reason in plain words (what a person can do about it). */
export function reasonWords(reason: string | null, message: string | null = null): string {
  const base: Record<string, string> = {
    Priority: 'Waiting for higher-priority tasks ahead of it in the queue.',
    Resources: 'No node has enough free GPU, CPU or memory right now; it starts when something finishes.',
    Fragmentation: 'The pool has enough free GPU in total, but no single GPU (or node) has that much free in one piece.',
    Reservation: 'Waiting for its vGPU reservation to be placed or to become free.',
    Quota: 'Its tenant is at its quota; it starts when the tenant’s other tasks finish.',
    Budget: 'Its tenant’s budget is spent.',
    Dependency: 'Waiting for the tasks it depends on.',
    Staging: 'Its node is staging its data inputs before starting it (not billed meanwhile).',
    Uploading: 'Its process exited 0; its node is uploading its outputs as new dataset versions (billed only to the exit).',
  };
  return reason ? (base[reason] ?? reason) : message ? 'Waiting to be placed.' : 'Just submitted: the scheduler has not looked at it yet.';
}

/** The scheduler's own detail for a pending task, as a sentence. */
export function reasonDetail(message: string | null): string | null {
  if (!message) return null;
  const m = message.trim();
  return m.charAt(0).toUpperCase() + m.slice(1) + (/[.!?)]$/.test(m) ? '' : '.');
}

/**
 * A task's Staging phase (issue 16): SCHEDULED with reason Staging while its node stages its data
 * inputs. The server words the progress as `staging inputs: 1.2 GiB of 4.0 GiB (30 %)`; the
 * percentage drives a progress bar, and the words are shown as they are. Null when not staging.
 */
export function stagingProgress(t: { state: string; reason: string | null; reasonMessage: string | null }): { percent: number | null; text: string } | null {
  if (t.state !== 'SCHEDULED' || t.reason !== 'Staging') return null;
  const text = t.reasonMessage ?? 'staging inputs';
  const m = /\((\d{1,3}) %\)/.exec(text);
  return { percent: m ? Math.min(100, Number(m[1])) : null, text };
}

const colours = new Map<string, string>();

/** A stable colour per tenant, darkened until white text on it has a contrast of at least 4.5:1. */
export function tenantColour(tenant: string): string {
  const hit = colours.get(tenant);
  if (hit) return hit;
  let h = 0;
  for (let i = 0; i < tenant.length; i++) h = (Math.imul(h, 31) + tenant.charCodeAt(i)) | 0;
  const hue = ((h >>> 0) * 137.508) % 360;
  let light = 42;
  let rgb = hslToRgb(hue, 0.6, light / 100);
  while (contrastWithWhite(rgb) < 4.5 && light > 10) rgb = hslToRgb(hue, 0.6, --light / 100);
  const c = `rgb(${rgb.map((x) => Math.round(x * 255)).join(' ')})`;
  colours.set(tenant, c);
  return c;
}

function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const k = (n: number): number => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number): number => l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1));
  return [f(0), f(8), f(4)];
}

/** WCAG contrast ratio of white against an sRGB colour (channels 0..1). */
export function contrastWithWhite([r, g, b]: [number, number, number]): number {
  const lin = (c: number): number => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const y = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return 1.05 / (y + 0.05);
}

export function stateClass(s: TaskState): string {
  if (s === 'RUNNING' || s === 'SCHEDULED') return 'st-run';
  if (s === 'SUCCEEDED') return 'st-ok';
  if (s === 'PENDING' || s === 'PREEMPTED' || s === 'LOST') return 'st-wait';
  return 'st-bad';
}

/**
 * Where a task runs: `node-1 · GPU 0,1`, just `node-1` for a CPU-only task (no empty `[]`), the
 * vGPU for a task inside one, `—` when it is not placed.
 */
export function placedOn(p: { node: string; gpus: readonly number[]; vgpuId?: string } | null | undefined): string {
  if (!p) return '—';
  if (p.gpus.length > 0) return `${p.node} · GPU ${p.gpus.join(',')}`;
  return p.vgpuId ? `${p.node} · vGPU ${p.vgpuId}` : p.node;
}

/** A task's GPU: its request, or the vGPU it runs inside (a vGPU task asks for no GPU of its own). */
export function taskGpu(spec: { resources: { gpu: Parameters<typeof gpuRequest>[0] }; vgpuId?: string }): string {
  if (spec.vgpuId && !spec.resources.gpu) return `its vGPU ${spec.vgpuId}`;
  return gpuRequest(spec.resources.gpu);
}

/** The GPU request of a spec in the words users write: "0.5 × H100", "2 GPUs", "20 GiB". */
export function gpuRequest(gpu: { count: number; share: { kind: string; milli?: number; memoryMiB?: number; tflops?: number }; model?: string } | null): string {
  if (!gpu) return 'no GPU';
  const model = gpu.model ? ` ${gpu.model}` : '';
  if (gpu.share.kind === 'milli') {
    const m = gpu.share.milli ?? 1000;
    if (m === 1000) return `${gpu.count} ×${model || ' GPU'}`;
    return `${gpus(m)} ×${model || ' GPU'}`;
  }
  if (gpu.share.kind === 'memory') return `${mib(gpu.share.memoryMiB ?? 0)} of${model || ' a GPU'}`;
  return `${gpu.share.tflops ?? 0} TFLOPS of${model || ' a GPU'}`;
}
