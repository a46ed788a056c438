// Tails each attempt's $FASTGPU_METRICS file (`metrics.jsonl` in its attempt folder), one JSON
// object a line, and ships the new complete lines to the server as metric points. A line's
// number is its identity (the server keeps (task, attempt, line) once), so a restarted agent
// reads the file again from the start and loses or doubles nothing. Bad lines are skipped and
// said once per attempt in the agent's log; a file is read up to MAX_POINTS_PER_TASK lines.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_METRIC_LINE_BYTES, MAX_POINTS_PER_TASK, parseMetricLine } from '../core/sweep/metrics.js';
import type { ShippedMetric } from '../protocol/metrics.js';

export type { ShippedMetric } from '../protocol/metrics.js';

export const METRICS_FILE = 'metrics.jsonl';
export const metricsFileOf = (attemptDir: string): string => join(attemptDir, METRICS_FILE);

interface Tail {
  taskId: string;
  attempt: number;
  file: string;
  /** Bytes read and shipped (always at a line's end). */
  offset: number;
  /** Lines read so far: the next line's index. */
  lines: number;
  warned: boolean;
  /** The read under way: reads of one file run one at a time (a pump and a finish may overlap). */
  busy: Promise<void>;
}

export interface MetricsShipperOptions {
  send(points: ShippedMetric[]): Promise<void>;
  now(): number;
  log(line: string): void;
  /** Bytes read per attempt per pump. Default 256 KiB. */
  readBytes?: number;
}

export class MetricsShipper {
  private readonly tails = new Map<string, Tail>();

  constructor(private readonly o: MetricsShipperOptions) {}

  track(taskId: string, attempt: number, attemptDir: string): void {
    const key = `${taskId}#${attempt}`;
    if (!this.tails.has(key)) this.tails.set(key, { taskId, attempt, file: metricsFileOf(attemptDir), offset: 0, lines: 0, warned: false, busy: Promise.resolve() });
  }

  untrack(taskId: string, attempt: number): void {
    this.tails.delete(`${taskId}#${attempt}`);
  }

  /** Reads and ships what every tracked file gained. */
  async pump(): Promise<void> {
    for (const t of [...this.tails.values()]) await this.pumpOne(t);
  }

  /** A last pump of one attempt (its process has ended), then stops tailing it. */
  async finish(taskId: string, attempt: number): Promise<void> {
    const t = this.tails.get(`${taskId}#${attempt}`);
    if (!t) return;
    await this.pumpOne(t);
    this.untrack(taskId, attempt);
  }

  /**
   * One read of the tail, after any read of it still under way: two reads at once would both
   * start at the same offset, and the later one would number the same lines again after the first
   * had counted them (the server would keep them twice).
   */
  private pumpOne(t: Tail): Promise<void> {
    const next = t.busy.then(() => this.readOnce(t));
    t.busy = next.catch(() => undefined); // the caller gets the error; the chain only orders
    return next;
  }

  private async readOnce(t: Tail): Promise<void> {
    if (t.lines >= MAX_POINTS_PER_TASK) return;
    let fh;
    try {
      fh = await open(t.file, 'r');
    } catch {
      return; // not written (yet): nothing to ship
    }
    let buf: Buffer;
    try {
      const want = this.o.readBytes ?? 256 * 1024;
      buf = Buffer.alloc(want);
      const { bytesRead } = await fh.read(buf, 0, want, t.offset);
      buf = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
    let consumed = 0;
    let lines = t.lines;
    const points: ShippedMetric[] = [];
    const errors: string[] = [];
    for (;;) {
      const nl = buf.indexOf(0x0a, consumed);
      if (nl < 0) {
        // An unfinished line longer than any allowed one will never parse: skip it whole.
        if (buf.length - consumed > MAX_METRIC_LINE_BYTES && consumed === 0) {
          errors.push(`line ${lines + 1}: longer than ${MAX_METRIC_LINE_BYTES} bytes`);
          consumed = buf.length;
        }
        break;
      }
      const text = buf.subarray(consumed, nl).toString('utf8').trim();
      consumed = nl + 1;
      if (text === '') continue;
      const r = parseMetricLine(text, lines);
      if (r.ok) points.push({ taskId: t.taskId, attempt: t.attempt, index: lines, at: this.o.now(), step: r.point.step, values: { ...r.point.values } });
      else errors.push(r.error);
      lines++;
      if (lines >= MAX_POINTS_PER_TASK) break;
    }
    if (points.length > 0) await this.o.send(points);
    t.offset += consumed;
    t.lines = lines;
    if (errors.length > 0 && !t.warned) {
      t.warned = true;
      this.o.log(`${t.taskId}#${t.attempt}: skipping bad metric lines in $FASTGPU_METRICS (${errors[0]}${errors.length > 1 ? `, and ${errors.length - 1} more` : ''})`);
    }
  }
}
