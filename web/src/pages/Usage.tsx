// Usage and cost per tenant and GPU model. With a price book on the server (`GET /v1/usage`,
// the JSON of `fastgpu usage`), amounts, discounts and the promotions that applied are shown,
// with the promotions active now (`GET /v1/promotions`). Without one, GPU-hours are worked out
// here from the tasks' placements and times, and the page says that pricing is not configured.
import { useState } from 'preact/hooks';
import { api, getOptional, type UsageReportJson } from '../api.js';
import { usageFromReport, usageFromTasks, type UsageLine } from '../model/usage.js';
import { listKeys } from '../components/keys.js';
import { moneyDecimals, shownAmounts, tenantColour, time } from '../format.js';
import { useLive } from '../hooks.js';
import { markInteractive } from '../perf.js';
import type { UsageGroup } from '../../../src/protocol/arrays.js';
import { UsageGroups } from './UsageGroups.js';

const RANGES = [
  { id: '24h', label: 'Last 24 hours', ms: 24 * 3600_000 },
  { id: '7d', label: 'Last 7 days', ms: 7 * 24 * 3600_000 },
  { id: '30d', label: 'Last 30 days', ms: 30 * 24 * 3600_000 },
] as const;

/** GET /v1/promotions entries (the server's PromotionView). */
interface Promotion {
  name: string;
  /** "30%" or a fixed price such as "1.50/h". */
  discount?: string;
  from?: string;
  to?: string;
  models?: string[];
  tenants?: string[];
  hours?: string;
  budget?: string;
  spent?: string;
  status?: 'scheduled' | 'active' | 'off-hours' | 'exhausted' | 'ended';
}

/** GET /v1/prices. */
interface PriceBook {
  currency: string;
  default: string;
  prices: Record<string, string>;
}

interface UsageData {
  /** The server meters usage (GET /v1/usage); otherwise GPU-hours are worked out here. */
  metered: boolean;
  /** Prices are set: amounts mean something. */
  priced: boolean;
  currency: string | null;
  lines: UsageLine[];
  promotionsNow: Promotion[];
  /** Per array, map and sweep (issue 14); none without a metering server. */
  groups: UsageGroup[];
}

/** Prices are configured when any model (or the default) costs something. */
export function isPriced(book: PriceBook | null, report: UsageReportJson): boolean {
  if (!book) return report.totals.listAmount > 0;
  return Number(book.default) > 0 || Object.values(book.prices).some((p) => Number(p) > 0);
}

function activeNow(list: readonly Promotion[], now: number): Promotion[] {
  return list.filter((p) => (p.status !== undefined ? p.status === 'active' : (p.from === undefined || Date.parse(p.from) <= now) && (p.to === undefined || now < Date.parse(p.to))));
}

const hours = (s: number): string => (s / 3600).toFixed(s < 36 ? 3 : 2);

export function UsagePage() {
  const [range, setRange] = useState<(typeof RANGES)[number]['id']>('7d');
  const span = RANGES.find((r) => r.id === range)!.ms;
  const live = useLive<UsageData>(
    async (signal) => {
      const to = Date.now();
      const from = to - span;
      const report = await getOptional<UsageReportJson>(`/v1/usage?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`, signal);
      if (report) {
        const [book, promos] = await Promise.all([getOptional<PriceBook>('/v1/prices', signal), getOptional<{ promotions: Promotion[] }>('/v1/promotions', signal)]);
        return { metered: true, priced: isPriced(book, report), currency: report.currency, lines: usageFromReport(report), promotionsNow: activeNow(promos?.promotions ?? [], to), groups: (report as { groups?: UsageGroup[] }).groups ?? [] };
      }
      const [tasks, gpus] = await Promise.all([api.tasks('?all=true&limit=5000', signal), api.gpus(signal)]);
      return { metered: false, priced: false, currency: null, lines: usageFromTasks(tasks.tasks, gpus.gpus, from, to), promotionsNow: [], groups: [] };
    },
    ['tasks'],
    [range],
  );
  const d = live.data;
  if (d) markInteractive();
  // One precision for the page, fine enough for its smallest amount; a row's discount is shown
  // as list − charged and the totals as sums of what the rows show, so every figure adds up.
  const decimals = moneyDecimals((d?.lines ?? []).flatMap((l) => [l.list ?? 0, l.charged ?? 0]));
  const money = (v: number | undefined): string => (v === undefined ? '—' : `${v.toFixed(decimals)}${d?.currency ? ` ${d.currency}` : ''}`);
  const shown = (l: { list?: number; charged?: number; discount?: number }) =>
    l.list !== undefined && l.charged !== undefined ? shownAmounts(l.list, l.charged, decimals) : { list: l.list, discount: l.discount, charged: l.charged };
  const total = d?.lines.reduce((a, l) => a + l.gpuSeconds, 0) ?? 0;
  const totalCharged = d?.lines.reduce((a, l) => a + (shown(l).charged ?? 0), 0) ?? 0;
  const totalDiscount = d?.lines.reduce((a, l) => a + (shown(l).discount ?? 0), 0) ?? 0;

  return (
    <section aria-labelledby="usage-h">
      <h1 id="usage-h">Usage and cost</h1>
      <div class="filters">
        <label>
          <span>Period</span>
          <select value={range} onChange={(e) => setRange((e.currentTarget as HTMLSelectElement).value as typeof range)}>
            {RANGES.map((r) => (
              <option key={r.id} value={r.id}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {live.error && <p role="alert" class="error">Could not load usage: {live.error.message}</p>}
      {!d ? (
        <p aria-busy="true">Loading usage…</p>
      ) : (
        <>
          {!d.priced && (
            <p class="note" data-testid="pricing-note">
              Pricing is not configured on this server, so there are no amounts (an admin sets prices with <code>fastgpu admin price set MODEL PRICE</code>).{' '}
              {d.metered
                ? 'GPU-hours below are metered by the server.'
                : 'GPU-hours below are worked out from the tasks’ placements and run times; every task belongs to the default tenant until tenants are set up.'}
            </p>
          )}
          <div class="totals">
            <div class="stat">
              <div class="stat-label">GPU-hours</div>
              <div class="stat-value">{hours(total)}</div>
            </div>
            {d.priced && (
              <>
                <div class="stat">
                  <div class="stat-label">Charged</div>
                  <div class="stat-value">{money(totalCharged)}</div>
                </div>
                <div class="stat">
                  <div class="stat-label">Saved by promotions</div>
                  <div class="stat-value">{money(totalDiscount)}</div>
                </div>
              </>
            )}
          </div>
          {d.priced && (
            <div class="card">
              <h2>Promotions active now</h2>
              {d.promotionsNow.length === 0 ? (
                <p class="muted">None.</p>
              ) : (
                <ul>
                  {d.promotionsNow.map((p) => (
                    <li key={p.name}>
                      <strong>{p.name}</strong>
                      {p.discount ? ` — ${p.discount.endsWith('%') ? `${p.discount} off` : `at ${p.discount}`}` : ''}
                      {p.models?.length ? ` · models ${p.models.join(', ')}` : ''}
                      {p.tenants?.length ? ` · tenants ${p.tenants.join(', ')}` : ''}
                      {p.hours ? ` · hours ${p.hours}` : ''}
                      {p.to !== undefined ? ` · until ${time(p.to)}` : ''}
                      {p.budget ? ` · ${p.spent ?? '0'} of ${p.budget} budget used` : ''}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
          {d.lines.length === 0 ? (
            <p class="empty">No GPU time used in this period.</p>
          ) : (
            <div class="table-wrap">
              <table class="list cards-sm" onKeyDown={listKeys}>
                <caption class="sr-only">Usage per tenant and GPU model</caption>
                <thead>
                  <tr>
                    <th scope="col">Tenant</th>
                    <th scope="col">GPU model</th>
                    <th scope="col" class="num">Tasks</th>
                    <th scope="col" class="num">GPU-hours</th>
                    {d.priced && (
                      <>
                        <th scope="col" class="num">List</th>
                        <th scope="col" class="num">Discount</th>
                        <th scope="col" class="num">Charged</th>
                        <th scope="col">Promotions applied</th>
                      </>
                    )}
                  </tr>
                </thead>
                <tbody>
                  {d.lines.map((l) => (
                    <tr key={`${l.tenant}/${l.gpuModel}`}>
                      <td data-label="Tenant">
                        <a data-row-link href={`#/tasks?q=${encodeURIComponent(l.tenant)}&all=1`}>
                          <span class="swatch" style={{ background: tenantColour(l.tenant) }} aria-hidden="true" /> {l.tenant}
                        </a>
                      </td>
                      <td data-label="GPU model">{l.gpuModel}</td>
                      <td class="num" data-label="Tasks">{l.tasks}</td>
                      <td class="num" data-label="GPU-hours">{hours(l.gpuSeconds)}</td>
                      {d.priced && (
                        <>
                          <td class="num" data-label="List">{money(shown(l).list)}</td>
                          <td class="num" data-label="Discount">{money(shown(l).discount)}</td>
                          <td class="num" data-label="Charged">{money(shown(l).charged)}</td>
                          <td data-label="Promotions">{l.promotions.length ? l.promotions.join(', ') : '—'}</td>
                        </>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <UsageGroups groups={d.groups} priced={d.priced} money={money} />
        </>
      )}
    </section>
  );
}
