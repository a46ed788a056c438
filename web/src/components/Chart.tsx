// A time chart drawn by uPlot (loaded on first use, so it is not part of the first page load).
import { useEffect, useRef } from 'preact/hooks';
import type uPlot from 'uplot';
import { chartTicks, time } from '../format.js';

export interface ChartSeries {
  label: string;
  colour: string;
  values: (number | null)[];
  fill?: string;
  dash?: number[];
  /** Join the line across empty buckets (samples sparser than the buckets). */
  spanGaps?: boolean;
  /** Draw each point (for series with few points). */
  points?: boolean;
}

export interface ChartProps {
  /** Seconds since the epoch. */
  xs: number[];
  series: ChartSeries[];
  yLabel: string;
  height?: number;
  /** Text alternative for screen readers. */
  summary: string;
  /** x is a time in seconds (default) or a plain number such as a training step. */
  xTime?: boolean;
}

export function Chart({ xs, series, yLabel, height = 320, summary, xTime = true }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    let disposed = false;
    let ro: ResizeObserver | null = null;
    void (async () => {
      const [{ default: UPlot }] = await Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]);
      const el = box.current;
      if (disposed || !el) return;
      const opts: uPlot.Options = {
        width: Math.max(280, el.clientWidth),
        height,
        scales: { x: { time: xTime }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        // Times as the rest of the dashboard writes them (format.ts), not uPlot's own format;
        // the ticks drawn on the canvas are also left in data-x-ticks, for tests and tools.
        axes: [
          xTime
            ? {
                stroke: '#445',
                values: (_u, splits) => {
                  const out = chartTicks(splits.map((s) => s * 1000));
                  el.dataset.xTicks = JSON.stringify(out);
                  return out;
                },
              }
            : { stroke: '#445' },
          { label: yLabel, stroke: '#445', grid: { stroke: '#e3e6ee' } },
        ],
        legend: { live: true },
        series: [xTime ? { label: 'Time', value: (_u, v) => (v === null ? '—' : time(v * 1000)) } : {}, ...series.map((s) => ({ label: s.label, stroke: s.colour, width: 2, fill: s.fill, dash: s.dash, spanGaps: s.spanGaps ?? false, points: { show: s.points ?? false, size: 4 } }))],
      };
      plot.current = new UPlot(opts, [xs, ...series.map((s) => s.values)], el);
      ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(280, el.clientWidth), height }));
      ro.observe(el);
    })();
    return () => {
      disposed = true;
      ro?.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // The plot is rebuilt when the set of series changes; data updates go through setData below.
  }, [series.map((s) => s.label).join('|'), yLabel, height]);

  useEffect(() => {
    plot.current?.setData([xs, ...series.map((s) => s.values)]);
  }, [xs, series]);

  return (
    <figure class="chart">
      <div ref={box} role="img" aria-label={summary} />
      <figcaption class="sr-only">{summary}</figcaption>
    </figure>
  );
}
