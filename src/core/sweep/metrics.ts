// The metric lines trials write (`fastgpu.report(step=3, loss=0.2)`, or a JSON line appended to
// $FASTGPU_METRICS): `{"step": 3, "loss": 0.2}`. Bounded: a line's size, a point's metrics.
import type { MetricPoint } from './types.js';

export const MAX_METRIC_LINE_BYTES = 4096;
export const MAX_METRICS_PER_POINT = 32;
/** Points a task keeps; later ones are dropped (the store enforces it). */
export const MAX_POINTS_PER_TASK = 10_000;
/** Attempts × points stay apart in one number: seq = (attempt − 1) × MAX_POINTS_PER_TASK + index. */
export const metricSeq = (attempt: number, index: number): number => (attempt - 1) * MAX_POINTS_PER_TASK + index;

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.\-/]{0,63}$/;

/**
 * One metric line → a point, or why it is refused. `index` is the line's number, the step when
 * the line gives none.
 * @example parseMetricLine('{"step": 2, "loss": 0.5}', 7) // {ok: true, point: {step: 2, values: {loss: 0.5}}}
 */
export function parseMetricLine(line: string, index: number): { ok: true; point: MetricPoint } | { ok: false; error: string } {
  if (line.length > MAX_METRIC_LINE_BYTES) return { ok: false, error: `line ${index + 1}: longer than ${MAX_METRIC_LINE_BYTES} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, error: `line ${index + 1}: not JSON (write one object per line, e.g. {"step": 1, "loss": 0.5})` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: `line ${index + 1}: not a JSON object` };
  const values: Record<string, number> = {};
  let step = index;
  let n = 0;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return { ok: false, error: `line ${index + 1}: ${JSON.stringify(k)} is not a finite number` };
    if (k === 'step') {
      if (v < 0) return { ok: false, error: `line ${index + 1}: step ${v} is negative` };
      step = v;
      continue;
    }
    if (!NAME_RE.test(k)) return { ok: false, error: `line ${index + 1}: ${JSON.stringify(k)} is not a metric name (a letter or _, then letters, digits, _ . - /)` };
    if (++n > MAX_METRICS_PER_POINT) return { ok: false, error: `line ${index + 1}: more than ${MAX_METRICS_PER_POINT} metrics` };
    values[k] = v;
  }
  if (n === 0) return { ok: false, error: `line ${index + 1}: no metric (only a step)` };
  return { ok: true, point: { step, values } };
}
