// Upkeep of the utilisation samples: every minute, compaction rolls complete minutes and hours
// up and seals the blocks whose time is over (store.compactSamples); every ten minutes, pruning
// deletes the blocks that ended before each tier's retention window (store.pruneSamples), and, when log retention is on (`--logs-retention`),
// the logs of tasks that finished longer ago than it (store.pruneLogs). Both go in short bounded steps with the event loop free
// between them, so heartbeats and requests never wait long behind a big backlog; both cost one
// indexed lookup when there is nothing to do. Failures are logged and the next pass tries again.
import { invalid } from '../core/errors.js';
import { formatDuration } from '../core/quantity.js';
import type { Clock } from '../core/types.js';
import type { Store } from '../store/port.js';
import { systemClock, type Timer } from '../util/clock.js';
import type { SampleTier } from '../store/sample-tiers.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** How long each tier of samples is kept, in ms. */
export interface SampleRetention {
  rawMs: number;
  minuteMs: number;
  hourMs: number;
}

export const DEFAULT_SAMPLE_RETENTION: Readonly<SampleRetention> = { rawMs: DAY_MS, minuteMs: 7 * DAY_MS, hourMs: 400 * DAY_MS };

/** The longest window accepted for any tier: ten years. */
export const MAX_SAMPLE_RETENTION_MS = 3650 * DAY_MS;

/**
 * Fills in the defaults and checks the windows: positive, and each tier kept at least as long as
 * the finer one (reads go to the coarser tier for what the finer no longer holds). Errors name
 * the field as `fields` spell it: the CLI passes its flag names.
 * @example compileSampleRetention({ rawMs: 2 * 86_400_000 }) // raw 2 d, minutes 7 d, hours 400 d
 */
export function compileSampleRetention(
  given: Partial<SampleRetention>,
  fields: Readonly<Record<keyof SampleRetention, string>> = { rawMs: 'rawMs', minuteMs: 'minuteMs', hourMs: 'hourMs' },
): SampleRetention {
  const r: SampleRetention = { ...DEFAULT_SAMPLE_RETENTION, ...given };
  for (const k of ['rawMs', 'minuteMs', 'hourMs'] as const) {
    if (!Number.isFinite(r[k]) || r[k] <= 0) throw invalid(fields[k], 'must be a positive duration');
  }
  const f = formatDuration;
  if (r.minuteMs < r.rawMs) {
    throw invalid(fields.minuteMs, `${f(r.minuteMs)} is shorter than raw samples are kept (${fields.rawMs} ${f(r.rawMs)}); minute rollups must be kept at least as long`);
  }
  if (r.hourMs < r.minuteMs) {
    throw invalid(fields.hourMs, `${f(r.hourMs)} is shorter than minute rollups are kept (${fields.minuteMs} ${f(r.minuteMs)}); hour rollups must be kept at least as long`);
  }
  return r;
}

export interface SampleMaintenanceOptions {
  store: Pick<Store, 'compactSamples' | 'pruneSamples' | 'pruneLogs'>;
  clock: Clock;
  retention: SampleRetention;
  /** Delete the logs of tasks finished longer ago than this; undefined: keep logs forever (default). */
  logsRetentionMs?: number;
  log: (line: string) => void;
  /** Default 60 s. */
  compactEveryMs?: number;
  /** Default 10 minutes. */
  pruneEveryMs?: number;
  /**
   * Minutes that ended less than this long ago are left for the next pass: a heartbeat's samples
   * are stamped before they are committed, and one committed after its minute was rolled up
   * would stay raw only. Default 30 s.
   */
  settleMs?: number;
  /** Sample blocks (or log chunks) one prune step deletes at most (one short write lock each). Default 10,000. */
  pruneBatch?: number;
}

/** What one compaction pass wrote. */
export interface CompactionPass {
  minutes: number;
  hours: number;
  steps: number;
}

/** Blocks one prune pass deleted, per tier, and log chunks. */
export type PrunePass = Record<SampleTier | 'logs', number>;

/** Lets the event loop run (heartbeats, requests) between two steps of a pass. */
const breathe = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class SampleMaintenance {
  private readonly compactEveryMs: number;
  private readonly pruneEveryMs: number;
  private readonly settleMs: number;
  private readonly pruneBatch: number;
  private timers: Timer[] = [];
  /** Passes run one at a time (both write); each new one waits for this. */
  private tail: Promise<unknown> = Promise.resolve();
  private pending = new Set<'compaction' | 'pruning'>();
  private closed = false;

  constructor(private readonly opts: SampleMaintenanceOptions) {
    this.compactEveryMs = opts.compactEveryMs ?? 60_000;
    this.pruneEveryMs = opts.pruneEveryMs ?? 600_000;
    this.settleMs = opts.settleMs ?? 30_000;
    this.pruneBatch = opts.pruneBatch ?? 10_000;
  }

  /** Starts the timers (unref'd: they never keep a process alive; Node's, through the clock port). */
  start(): void {
    if (this.closed || this.timers.length > 0) return;
    this.timers.push(
      systemClock.interval(() => this.onTimer('compaction', () => this.compact()), this.compactEveryMs).unref(),
      systemClock.interval(() => this.onTimer('pruning', () => this.prune()), this.pruneEveryMs).unref(),
    );
  }

  /** One compaction pass: every complete minute and hour up to now − settleMs, step by step. */
  compact(): Promise<CompactionPass> {
    return this.serially(async () => {
      const upTo = this.opts.clock.now() - this.settleMs;
      const pass: CompactionPass = { minutes: 0, hours: 0, steps: 0 };
      for (;;) {
        const step = await this.opts.store.compactSamples(upTo);
        pass.minutes += step.minutes;
        pass.hours += step.hours;
        pass.steps++;
        if (!step.more || this.closed) return pass;
        await breathe();
      }
    });
  }

  /** One prune pass: each tier down to its retention window, a batch at a time. */
  prune(): Promise<PrunePass> {
    return this.serially(async () => {
      const now = this.opts.clock.now();
      const r = this.opts.retention;
      const pass: PrunePass = { raw: 0, minute: 0, hour: 0, logs: 0 };
      const windows: [SampleTier, number][] = [['raw', r.rawMs], ['minute', r.minuteMs], ['hour', r.hourMs]];
      for (const [tier, keepMs] of windows) {
        for (;;) {
          if (this.closed) return pass;
          const n = await this.opts.store.pruneSamples(tier, now - keepMs, this.pruneBatch);
          pass[tier] += n;
          if (n < this.pruneBatch) break;
          await breathe();
        }
      }
      const keepLogs = this.opts.logsRetentionMs;
      if (keepLogs !== undefined) {
        for (;;) {
          if (this.closed) return pass;
          const step = await this.opts.store.pruneLogs(now - keepLogs, now, this.pruneBatch);
          pass.logs += step.chunks;
          if (!step.more) break;
          await breathe();
        }
      }
      return pass;
    });
  }

  /** Stops the timers and waits for a pass in flight, which stops at its next step. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) t.clear();
    this.timers = [];
    await this.tail;
  }

  private serially<T>(f: () => Promise<T>): Promise<T> {
    const run = this.tail.then(f);
    this.tail = run.catch(() => {});
    return run;
  }

  /** A timer's pass: skipped while the last one of its kind is still waiting or running. */
  private onTimer(kind: 'compaction' | 'pruning', pass: () => Promise<unknown>): void {
    if (this.closed || this.pending.has(kind)) return;
    this.pending.add(kind);
    void pass()
      .catch((e: unknown) => this.opts.log(`warn: sample ${kind} failed (next pass retries): ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => this.pending.delete(kind));
  }
}
