import { describe, expect, it } from 'vitest';
import { MAX_METRIC_LINE_BYTES, metricSeq, parseMetricLine } from './metrics.js';

describe('parseMetricLine', () => {
  it('reads a step and metrics', () => {
    expect(parseMetricLine('{"step": 2, "loss": 0.5, "val/acc": 1}', 7)).toEqual({ ok: true, point: { step: 2, values: { loss: 0.5, 'val/acc': 1 } } });
    expect(parseMetricLine('{"loss": 0.5}', 7)).toEqual({ ok: true, point: { step: 7, values: { loss: 0.5 } } });
  });
  it.each([
    ['nope', 'not JSON'],
    ['[1]', 'not a JSON object'],
    ['{"loss": "x"}', 'not a finite number'],
    ['{"step": -1, "loss": 1}', 'negative'],
    ['{"step": 1}', 'no metric'],
    ['{"bad name": 1}', 'not a metric name'],
    [JSON.stringify(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`m${i}`, i]))), 'more than 32'],
    [`{"loss": 1, "pad": "${'x'.repeat(MAX_METRIC_LINE_BYTES)}"}`, 'longer than'],
  ])('refuses %s', (line, why) => {
    const r = parseMetricLine(line, 0);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(why);
  });
  it('numbers attempts apart', () => {
    expect(metricSeq(1, 5)).toBe(5);
    expect(metricSeq(2, 0)).toBe(10_000);
  });
});
