// Numbers in pending reasons, written for people: `0.3 GPU`, `2 GPUs`, `16 CPUs`, `24 GiB`.
import { formatDuration, formatMiB } from '../quantity.js';

const trim = (n: number): string => String(Math.round(n * 100) / 100);

/** Milli-GPU as GPUs: 300 → `0.3 GPU`, 2500 → `2.5 GPUs`. */
export function gpus(milli: number): string {
  const n = Math.max(0, milli) / 1000;
  return `${trim(n)} GPU${n > 1 ? 's' : ''}`;
}

/** A plain count with its noun: `1 GPU`, `3 GPUs`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** Milli-cores as CPUs: 16000 → `16 CPUs`, 500 → `0.5 CPU`. */
export function cpus(milli: number): string {
  const n = Math.max(0, milli) / 1000;
  return `${trim(n)} CPU${n > 1 ? 's' : ''}`;
}

export function mib(n: number): string {
  return formatMiB(Math.max(0, n));
}

/** An instant relative to now: `2025-01-01T10:00:00.000Z (in 1h30m)`. */
export function when(at: number, now: number): string {
  return at <= now ? 'now' : `${new Date(at).toISOString()} (in ${formatDuration(at - now)})`;
}
