// Sweeps: the list (`GET /v1/sweeps`), and a sweep's page (`#/sweeps/ID`): its trials with their
// state, slice, cost, best value and parameters, and a chart of the metric over steps for every
// trial, kept live by task events and a short poll (metric points are not pool events).
import { useEffect } from 'preact/hooks';
import { get } from '../api.js';
import { Chart, type ChartSeries } from '../components/Chart.js';
import { useLive } from '../hooks.js';

interface SweepSummary {
  id: string;
  name: string;
  state: string;
  nextTrial: number;
  trials: number;
  tenant: string;
  message: string | null;
}

interface Trial {
  index: number;
  taskId: string;
  params: Record<string, string | number | boolean>;
  state: string;
  slice: { gpuMilli: number; memoryMiB: number; node: string; gpus: number[] } | null;
  cost: number;
  best: { value: number; step: number } | null;
  lastStep: number | null;
}

interface Detail {
  sweep: SweepSummary;
  metric: string;
  goal: string;
  cost: number;
  currency: string;
  costCap: number | null;
  counts: Record<string, number>;
  best: Trial | null;
  trials: Trial[];
}

interface Metrics {
  metric: string;
  series: { index: number; state: string; points: { step: number; values: Record<string, number> }[] }[];
}

const POLL_MS = 2_000;
const num = (v: number): string => (Number.isInteger(v) ? String(v) : Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(4));
const paramsText = (p: Trial['params']): string =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? num(v) : String(v)}`)
    .join(' ');

/** One line per trial over the union of reported steps (null where a trial has no point). */
export function stepSeries(m: Metrics): { xs: number[]; series: ChartSeries[] } {
  const steps = [...new Set(m.series.flatMap((s) => s.points.map((p) => p.step)))].sort((a, b) => a - b);
  const at = new Map(steps.map((s, i) => [s, i]));
  const series = m.series
    .filter((s) => s.points.some((p) => p.values[m.metric] !== undefined))
    .map((s) => {
      const values: (number | null)[] = steps.map(() => null);
      for (const p of s.points) {
        const v = p.values[m.metric];
        if (v !== undefined) values[at.get(p.step)!] = v;
      }
      const hue = (s.index * 137) % 360;
      return { label: `trial ${s.index}`, colour: `hsl(${hue} 60% 45%)`, values, spanGaps: true, points: steps.length <= 30, ...(s.state === 'PRUNED' ? { dash: [4, 4] } : {}) };
    });
  return { xs: steps, series };
}

function SweepList() {
  const live = useLive(async (signal) => (await get<{ sweeps: SweepSummary[] }>('/v1/sweeps', signal)).sweeps, ['tasks'], []);
  if (live.error) return <p role="alert">{live.error.message}</p>;
  if (!live.data) return <p>Loading…</p>;
  if (live.data.length === 0) return <p>No sweeps yet. Start one with <code>fastgpu sweep sweep.yaml</code> or <code>fastgpu.Sweep(…).start()</code>.</p>;
  return (
    <table>
      <thead>
        <tr><th>Sweep</th><th>Name</th><th>State</th><th>Trials started</th><th>Tenant</th></tr>
      </thead>
      <tbody>
        {live.data.map((s) => (
          <tr key={s.id}>
            <td><a href={`#/sweeps/${s.id}`}>{s.id}</a></td>
            <td>{s.name}</td>
            <td>{s.state}</td>
            <td>{s.nextTrial}/{s.trials}</td>
            <td>{s.tenant}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SweepDetail({ id }: { id: string }) {
  const live = useLive(
    async (signal) => {
      const [d, m] = await Promise.all([get<Detail>(`/v1/sweeps/${encodeURIComponent(id)}`, signal), get<Metrics>(`/v1/sweeps/${encodeURIComponent(id)}/metrics`, signal)]);
      return { d, m };
    },
    ['tasks'],
    [id],
  );
  const running = live.data?.d.sweep.state === 'RUNNING';
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => live.reload(), POLL_MS);
    return () => clearInterval(t);
  }, [running, id]);
  if (live.error) return <p role="alert">{live.error.message}</p>;
  if (!live.data) return <p>Loading…</p>;
  const { d, m } = live.data;
  const chart = stepSeries(m);
  const counts = Object.entries(d.counts).map(([k, n]) => `${n} ${k.toLowerCase()}`).join(', ');
  return (
    <section aria-label={`Sweep ${d.sweep.id}`}>
      <h2>
        Sweep {d.sweep.name} <small>{d.sweep.id}</small>
      </h2>
      <p data-testid="sweep-summary">
        {d.sweep.state}: {d.sweep.nextTrial}/{d.sweep.trials} trials started ({counts}); {d.goal} {d.metric}; cost {d.cost.toFixed(2)} {d.currency}
        {d.costCap !== null ? ` of ${d.costCap.toFixed(2)}` : ''}
      </p>
      {d.best?.best ? (
        <p data-testid="sweep-best">
          Best: trial {d.best.index}, {d.metric} {num(d.best.best.value)} at step {d.best.best.step} ({paramsText(d.best.params)})
        </p>
      ) : null}
      {chart.series.length > 0 ? (
        <div data-series-count={chart.series.length}>
          <Chart xs={chart.xs} series={chart.series} yLabel={d.metric} xTime={false} height={280} summary={`${d.metric} by step for ${chart.series.length} trials`} />
        </div>
      ) : (
        <p>No metrics reported yet.</p>
      )}
      <table aria-label="Trials">
        <thead>
          <tr><th>Trial</th><th>State</th><th>Slice</th><th>Cost</th><th>Best {d.metric}</th><th>Step</th><th>Parameters</th></tr>
        </thead>
        <tbody>
          {d.trials.map((t) => (
            <tr key={t.index} data-state={t.state}>
              <td><a href={`#/tasks/${t.taskId}`}>{t.index}</a></td>
              <td>{t.state}</td>
              <td>{t.slice ? `${t.slice.gpuMilli / 1000} GPU, ${Math.round(t.slice.memoryMiB / 1024)} GiB on ${t.slice.node}` : '-'}</td>
              <td>{t.cost.toFixed(4)}</td>
              <td>{t.best ? num(t.best.value) : '-'}</td>
              <td>{t.lastStep ?? '-'}</td>
              <td>{paramsText(t.params)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function SweepsPage({ id }: { id?: string | undefined }) {
  return id ? <SweepDetail key={id} id={id} /> : <SweepList />;
}
