// When a promotion applies, by the clock: its window [from, to) and its daily hours. Everything
// here is integer ms arithmetic; a fixed UTC offset (no DST) keeps it pure and reproducible.
import type { DailyHours, Promotion } from './types.js';

export const MS_PER_MINUTE = 60_000;
export const MS_PER_DAY = 86_400_000;

const mod = (a: number, n: number): number => ((a % n) + n) % n;

/** Whether instant `t` falls inside the daily hours (start inclusive, end exclusive). */
export function inDailyHours(hours: DailyHours, t: number): boolean {
  const minuteMs = mod(t + hours.offsetMinutes * MS_PER_MINUTE, MS_PER_DAY);
  const s = hours.startMinute * MS_PER_MINUTE;
  const e = hours.endMinute * MS_PER_MINUTE;
  return s < e ? minuteMs >= s && minuteMs < e : minuteMs >= s || minuteMs < e;
}

/** The first instant strictly after `t` at which the daily hours start or end. */
export function nextDailyEdge(hours: DailyHours, t: number): number {
  const off = hours.offsetMinutes * MS_PER_MINUTE;
  const local = t + off;
  const dayStart = local - mod(local, MS_PER_DAY);
  let best = Infinity;
  for (const minute of [hours.startMinute, hours.endMinute]) {
    for (const day of [0, 1]) {
      const edge = dayStart + day * MS_PER_DAY + minute * MS_PER_MINUTE;
      if (edge > local && edge < best) best = edge;
    }
  }
  return best - off;
}

/** Whether a promotion's clock (window and daily hours) covers instant `t`. */
export function promoClockActive(p: Promotion, t: number): boolean {
  return t >= p.from && t < p.to && (p.hours === undefined || inDailyHours(p.hours, t));
}

/**
 * The first instant strictly after `t` at which the promotion's clock may change (a window edge
 * or a daily-hours edge); Infinity when it never will.
 */
export function nextClockBoundary(p: Promotion, t: number): number {
  if (t >= p.to) return Infinity;
  if (t < p.from) return p.from;
  const edge = p.hours === undefined ? Infinity : nextDailyEdge(p.hours, t);
  return Math.min(edge, p.to);
}

/**
 * When the promotion's clock next stops covering time, from an instant `t` it covers; the
 * instant itself when it does not cover `t`. Daily hours that span the whole day never stop
 * before the window's end.
 */
export function clockEndsAt(p: Promotion, t: number): number {
  let at = t;
  while (promoClockActive(p, at)) at = nextClockBoundary(p, at);
  return at;
}
