// Utilisation over time: allocated vs capacity, and measured utilisation, over a chosen range.
// Measured utilisation comes from the samples the server stores (`GET /v1/samples`); allocation
// from the server's history when it gives one, else from the tasks' placements and times.
// Without stored samples the page charts what it has seen itself since it was opened. Nothing
// is drawn where nothing was measured: no line joins a bucket to the next sample across a gap.
import { useState } from 'preact/hooks';
import { api, getOptional } from '../api.js';
import {
  allocatedFromTasks,
  bucketPoints,
  busyFromSamples,
  seriesFromAllocation,
  type AllocationPoint,
  type Sample,
  type SampleSource,
  type Series,
} from '../model/utilisation.js';
import { Chart, type ChartSeries } from '../components/Chart.js';
import { gpus } from '../format.js';
import { seen, recordGpus } from '../history.js';
import { useLive } from '../hooks.js';
import { markInteractive } from '../perf.js';

const RANGES = [
  { id: '15m', label: '15 minutes', ms: 15 * 60_000 },
  { id: '1h', label: '1 hour', ms: 3600_000 },
  { id: '6h', label: '6 hours', ms: 6 * 3600_000 },
  { id: '24h', label: '24 hours', ms: 24 * 3600_000 },
  { id: '7d', label: '7 days', ms: 7 * 24 * 3600_000 },
] as const;
const BUCKETS = 240;

export function UtilisationPage() {
  const [range, setRange] = useState<(typeof RANGES)[number]['id']>('1h');
  const span = RANGES.find((r) => r.id === range)!.ms;
  const live = useLive<Series>(
    async (signal) => {
      const to = Date.now();
      const from = to - span;
      const step = span / BUCKETS;
      const xs = Array.from({ length: BUCKETS }, (_, i) => (from + (i + 1) * step) / 1000);
      const [stored, g] = await Promise.all([
        // Totals per bucket only (detail=pool): the page draws the pool, and per-GPU points would
        // be one per GPU and bucket (240,000 at 1,000 GPUs). The page buckets them the same way.
        getOptional<{ samples?: Sample[]; allocation?: AllocationPoint[]; bucketMs?: number; sources?: SampleSource[] }>(
          `/v1/samples?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&buckets=${BUCKETS}&detail=pool`,
          signal,
        ),
        api.gpus(signal),
      ]);
      recordGpus(g.gpus);
      const capacityNow = g.gpus.filter((x) => x.nodeState === 'READY').length;
      if (stored?.allocation && stored.allocation.length > 0) {
        // The server's totals per bucket, each shown only where it was measured.
        const s = seriesFromAllocation(stored.allocation, stored.sources ?? [], stored.bucketMs ?? step, from, to, BUCKETS);
        const measured = stored.allocation.some((p) => p.utilPercent !== undefined);
        return { xs, ...s, busy: measured ? s.busy : busyFromSamples(stored.samples ?? [], from, to, BUCKETS), source: 'server', allocationFrom: 'server' };
      }
      // Measured: the server's per-GPU samples (a server that sends only those), else what this
      // page has seen, bucketed the same way.
      const busy = stored
        ? busyFromSamples(stored.samples ?? [], from, to, BUCKETS)
        : bucketPoints(seen.filter((p) => p.busyMilli !== null).map((p) => ({ at: p.at, v: p.busyMilli! / 1000 })), from, to, BUCKETS);
      const tasks = await api.tasks('?all=true&limit=5000', signal);
      return {
        xs,
        capacity: xs.map(() => capacityNow),
        allocated: allocatedFromTasks(tasks.tasks, from, to, BUCKETS),
        busy,
        source: stored ? 'server' : 'page',
        allocationFrom: 'tasks',
      };
    },
    ['pool'],
    [range],
  );
  const d = live.data;
  if (d) markInteractive();
  const series: ChartSeries[] = d
    ? [
        { label: 'Capacity (GPUs)', colour: '#5b6170', values: d.capacity, dash: [6, 4] },
        { label: 'Allocated (GPUs)', colour: '#1f5fbf', values: d.allocated, fill: 'rgba(31,95,191,0.12)' },
        // Only this page's own observations are joined across buckets (it refreshes every few
        // seconds); the server's buckets show gaps where nothing was measured.
        { label: 'Measured busy (GPUs)', colour: '#b5421b', values: d.busy, spanGaps: d.source === 'page', points: d.source === 'page' },
      ]
    : [];
  const lastOf = (v: (number | null)[]): string => {
    for (let i = v.length - 1; i >= 0; i--) if (v[i] !== null && v[i] !== undefined) return gpus(Math.round(v[i]! * 1000));
    return '—';
  };

  return (
    <section aria-labelledby="util-h">
      <h1 id="util-h">Utilisation over time</h1>
      <div class="filters">
        <label>
          <span>Range</span>
          <select value={range} onChange={(e) => setRange((e.currentTarget as HTMLSelectElement).value as typeof range)}>
            {RANGES.map((r) => (
              <option key={r.id} value={r.id}>
                Last {r.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {live.error && <p role="alert" class="error">Could not load utilisation: {live.error.message}</p>}
      {!d ? (
        <p aria-busy="true">Loading…</p>
      ) : (
        <>
          {d.source === 'page' && (
            <p class="note" data-testid="samples-note">
              This server does not serve stored utilisation samples yet, so measured utilisation is what this page has seen since it was opened (refreshed
              every few seconds). Allocation is worked out from the tasks’ placements and times.
            </p>
          )}
          {d.source === 'server' && d.allocationFrom === 'tasks' && <p class="muted">Allocation is worked out from the tasks’ placements and times; capacity is today’s.</p>}
          {/* The drawn values, for tests that compare them. */}
          <div hidden data-testid="utilisation-series" data-series={JSON.stringify({ xs: d.xs, capacity: d.capacity, allocated: d.allocated, busy: d.busy })} />
          <Chart
            xs={d.xs}
            series={series}
            yLabel="GPUs"
            summary={`Over the last ${RANGES.find((r) => r.id === range)!.label}: capacity ${lastOf(d.capacity)} GPUs, allocated ${lastOf(d.allocated)}, measured busy ${lastOf(d.busy)} at the end.`}
          />
        </>
      )}
    </section>
  );
}
