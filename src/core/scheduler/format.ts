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

/**
 * An instant relative to now, to the second at most: `2025-01-01T10:00:00Z (in 1h30m)`. An
 * estimate is not known to the millisecond; past an hour, the minute is as much as it knows.
 */
export function when(at: number, now: number): string {
  if (at <= now) return 'now';
  const unit = at - now >= 3_600_000 ? 60_000 : 1000;
  const inMs = Math.max(unit, Math.round((at - now) / unit) * unit);
  return `${new Date(Math.round(at / 1000) * 1000).toISOString().replace('.000Z', 'Z')} (in ${formatDuration(inMs)})`;
}
