// Utilisation samples live in three tiers: raw samples as the agents sent them, 1-minute and
// 1-hour rollups per GPU. Which tier answers which part of a read is decided here, once, from
// how far each tier reaches; every adapter runs the same plan, so reads cannot drift between
// them. Pure: no SQL, no clock.

/** `raw`: each sample as sent; `minute`, `hour`: per-GPU rollups of one minute or hour. */
export type SampleTier = 'raw' | 'minute' | 'hour';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

/** How much time one stored row of a tier stands for. */
export const TIER_RESOLUTION_MS: Readonly<Record<SampleTier, number>> = { raw: 1, minute: MINUTE_MS, hour: HOUR_MS };

export const floorTo = (t: number, unit: number): number => Math.floor(t / unit) * unit;

/**
 * Buckets at least this long are read from hour rollups. Half an hour, not an hour: 7 days in
 * 240 buckets (42 minutes each) from minute rollups reads 40 times the rows of hour rollups
 * (10 M against 170 k at 1,000 GPUs) for a smoother line only; an hourly row in a bucket
 * of 30 to 60 minutes leaves some buckets empty, which the chart covers with that hour's value.
 */
export const HOUR_TIER_FROM_BUCKET_MS = HOUR_MS / 2;

/**
 * The tier a bucket of this size is read from by preference, the coarsest that still draws it:
 * raw samples for buckets under a minute, minute rollups under half an hour, else hourly.
 * @example preferredTier(15_000) // 'raw' (the last hour in 240 buckets)
 */
export function preferredTier(bucketMs: number): SampleTier {
  if (bucketMs < MINUTE_MS) return 'raw';
  if (bucketMs < HOUR_TIER_FROM_BUCKET_MS) return 'minute';
  return 'hour';
}

/** How far each tier reaches; the adapter reads these in the same transaction as the data. */
export interface TierCoverage {
  /** Every minute that starts before this is rolled up (null: none yet). */
  minuteThrough: number | null;
  /** Every hour that starts before this is rolled up (null: none yet). Never above minuteThrough. */
  hourThrough: number | null;
  /** Raw samples before this may have been pruned (null: none ever was): they are whole from here on. */
  rawPruned: number | null;
  /** Minute rollups before this may have been pruned (null: none ever was). */
  minutePruned: number | null;
}

/**
 * Which rows answer a read: hour rollups that start before `hourBefore`, minute rollups from
 * `hourBefore` up to `rawFrom`, raw samples from `rawFrom` on. Both bounds are whole hours or
 * minutes where a coarser tier meets a finer one, so no moment is counted twice or left out.
 */
export interface SampleReadPlan {
  hourBefore: number;
  rawFrom: number;
}

/**
 * The finest tier that still covers each part of the time line, not finer than `bucketMs`
 * needs. A finer tier is used from where pruning left it whole (pruning deletes whole blocks,
 * and marks where it stopped), so a store that never pruned answers from its finest tier all
 * the way back, and never from a rollup of an hour it holds in minutes or raw samples.
 * Pruning never passes the next tier's rollups, so the coarser tier covers what was pruned.
 * The newest part always comes from raw samples, as the last minutes are not rolled up yet.
 */
export function planSampleRead(bucketMs: number, c: TierCoverage): SampleReadPlan {
  const minuteThrough = c.minuteThrough ?? -Infinity;
  const hourThrough = Math.min(c.hourThrough ?? -Infinity, minuteThrough);
  // Where whole minute rollups begin (hours before it), and whole raw samples.
  const minutesFrom = Math.min(c.minutePruned ?? -Infinity, hourThrough);
  const rawAll = Math.min(c.rawPruned ?? -Infinity, minuteThrough);
  switch (preferredTier(bucketMs)) {
    case 'raw':
      return { hourBefore: minutesFrom, rawFrom: Math.max(minutesFrom, rawAll) };
    case 'minute':
      return { hourBefore: minutesFrom, rawFrom: Math.max(minutesFrom, minuteThrough) };
    case 'hour':
      return { hourBefore: hourThrough, rawFrom: minuteThrough };
  }
}

/** One part of a read's range and the tier that answered it; both ends included. */
export interface SampleSource {
  tier: SampleTier;
  from: number;
  to: number;
}

/** The parts of [from, to] each tier of `plan` answers, oldest first; tiers with no part are left out. */
export function planSources(plan: SampleReadPlan, from: number, to: number): SampleSource[] {
  const parts: SampleSource[] = [
    { tier: 'hour', from, to: Math.min(to, plan.hourBefore - 1) },
    { tier: 'minute', from: Math.max(from, plan.hourBefore), to: Math.min(to, plan.rawFrom - 1) },
    { tier: 'raw', from: Math.max(from, plan.rawFrom), to },
  ];
  return parts.filter((p) => p.from <= p.to);
}

/**
 * Where a compaction step rolls hours up to: every complete hour whose minutes are all rolled
 * up (`minuteThrough`), from `hourThrough` on. While the minutes are still behind (a backlog:
 * `minutesBehind`), hours wait until a whole step of them (`spanMs`) is ready: each roll decodes
 * the minute blocks it reaches whole, and rolling the hour or two that each step of minutes
 * completes decoded every open 6-hour minute block some six times over. -Infinity: none now.
 * @example hourRollEnd(10 * HOUR_MS, 2 * HOUR_MS, HOUR_MS, true, 6 * HOUR_MS) // -Infinity (one hour ready, six wanted)
 */
export function hourRollEnd(upTo: number, minuteThrough: number | null, hourThrough: number | null, minutesBehind: boolean, spanMs: number): number {
  const end = floorTo(Math.min(upTo, minuteThrough ?? -Infinity), HOUR_MS);
  if (minutesBehind && hourThrough !== null && end - hourThrough < spanMs) return -Infinity;
  return end;
}
