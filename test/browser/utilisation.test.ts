// The Utilisation page against a real server whose store holds seeded samples, in Chromium:
// - on data that covers the whole range, the page draws what the previous code drew (its
//   algorithm and its endpoint's answer, kept here as the reference, on the same samples);
// - on a server whose first sample is 6 minutes old, "last hour" draws nothing before that
//   sample: no allocation carried back from a rollup, no line joining an empty bucket to it.
// The page puts the values it draws in a hidden data-series attribute, read here.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_FILE, startServer, type RunningServer } from '../../src/server/main.js';
import { openStore } from '../../src/store/index.js';
import type { Store, UtilisationSample } from '../../src/store/port.js';
import { TIME_FORMAT } from '../../web/src/format.js';
import { seriesFromAllocation, type AllocationPoint } from '../../web/src/model/utilisation.js';
import { ARTIFACTS, launchBrowser, type TestBrowser } from './browser.js';

const BUCKETS = 240;
const MINUTE = 60_000;

interface Drawn {
  xs: number[];
  capacity: (number | null)[];
  allocated: (number | null)[];
  busy: (number | null)[];
}

/** Two nodes, three GPUs, a sample every 5 s in [from, to); values that move. */
function seed(from: number, to: number): UtilisationSample[] {
  const out: UtilisationSample[] = [];
  const gpus = [
    ['n1', 0],
    ['n1', 1],
    ['n2', 0],
  ] as const;
  for (let k = 0, at = from; at < to; k++, at += 5_000) {
    gpus.forEach(([nodeId, gpuIndex], i) =>
      out.push({ at: at + i * 700, nodeId, gpuIndex, utilPercent: (k * 7 + i * 13) % 101, memoryUsedMiB: 1000 + i, allocatedMilli: ((Math.floor(k / 30) + i) % 5) * 250 }),
    );
  }
  return out;
}

/**
 * What the previous endpoint answered with detail=pool over raw samples: per bucket, each GPU's
 * mean, then the GPUs that reported, their mean utilisation and Σ of their rounded allocation.
 */
function oldPoolAnswer(samples: readonly UtilisationSample[], from: number, to: number): AllocationPoint[] {
  const bucketMs = Math.max(1, Math.ceil((to - from + 1) / BUCKETS));
  const per = new Map<number, Map<string, { util: number; alloc: number; n: number }>>();
  for (const x of samples) {
    if (x.at < from || x.at > to) continue;
    const at = from + Math.floor((x.at - from) / bucketMs) * bucketMs;
    const gpus = per.get(at) ?? new Map<string, { util: number; alloc: number; n: number }>();
    per.set(at, gpus);
    const g = gpus.get(`${x.nodeId}/${x.gpuIndex}`) ?? { util: 0, alloc: 0, n: 0 };
    gpus.set(`${x.nodeId}/${x.gpuIndex}`, g);
    g.util += x.utilPercent;
    g.alloc += x.allocatedMilli ?? 0;
    g.n++;
  }
  return [...per.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([at, gpus]) => {
      const gs = [...gpus.values()];
      return { at, capacityMilli: gs.length * 1000, utilPercent: gs.reduce((s, g) => s + g.util / g.n, 0) / gs.length, allocatedMilli: gs.reduce((s, g) => s + Math.round(g.alloc / g.n), 0) };
    });
}

/** The previous page's series from such an answer: allocation carried forward, busy the mean of each bucket's points. */
function oldPageSeries(points: readonly AllocationPoint[], from: number, to: number): Drawn {
  const step = (to - from) / BUCKETS;
  const xs = Array.from({ length: BUCKETS }, (_, i) => (from + (i + 1) * step) / 1000);
  const pts = points.map((p) => ({ ...p, at: Number(p.at) })).sort((a, b) => a.at - b.at);
  const allocated: (number | null)[] = [];
  const capacity: (number | null)[] = [];
  let j = -1;
  for (let i = 0; i < BUCKETS; i++) {
    const at = from + (i + 1) * step;
    while (j + 1 < pts.length && pts[j + 1]!.at <= at) j++;
    const p = j >= 0 ? pts[j]! : null;
    allocated.push(p ? p.allocatedMilli / 1000 : null);
    capacity.push(p ? p.capacityMilli / 1000 : null);
  }
  const sum = new Array<number>(BUCKETS).fill(0);
  const count = new Array<number>(BUCKETS).fill(0);
  for (const p of pts) {
    const b = Math.floor((p.at - from) / step);
    if (b < 0 || b >= BUCKETS) continue;
    sum[b]! += (p.utilPercent! / 100) * (p.capacityMilli / 1000);
    count[b]!++;
  }
  return { xs, capacity, allocated, busy: sum.map((s, i) => (count[i] ? s / count[i]! : null)) };
}

const round = (v: (number | null)[]): (number | null)[] => v.map((x) => (x === null ? null : Math.round(x * 1e9) / 1e9));

describe('seriesFromAllocation', () => {
  it('shows a point over its own bucket, or over the minute or hour of its rollup, and nothing past it', () => {
    const points = [
      { at: 0, allocatedMilli: 1000, capacityMilli: 2000, utilPercent: 50 },
      { at: 20, allocatedMilli: 500, capacityMilli: 1000, utilPercent: 10 },
    ];
    // Raw: each point covers its bucket only; bucket [30, 40] has none.
    expect(seriesFromAllocation(points, [{ tier: 'raw', from: 0, to: 40 }], 10, 0, 40, 4)).toEqual({
      allocated: [1, null, 0.5, null],
      capacity: [2, null, 1, null],
      busy: [1, null, 0.1, null],
    });
    // A minute rollup covers its whole minute, buckets finer than it included.
    const minute = seriesFromAllocation([{ at: 0, allocatedMilli: 250, capacityMilli: 1000 }], [{ tier: 'minute', from: 0, to: 119_999 }], 15_000, 0, 120_000, 8);
    expect(minute.allocated).toEqual([0.25, 0.25, 0.25, 0.25, null, null, null, null]);
    expect(minute.busy.every((b) => b === null)).toBe(true);
  });
});

describe('Utilisation page in Chromium', () => {
  let browser: TestBrowser;
  let server: RunningServer;
  let store: Store;
  let page: Page;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fastgpu-utilisation-'));
    browser = await launchBrowser();
    server = await startServer({ dataDir: join(dir, 'data'), port: 0, tickMs: 50, nodeLostAfterMs: 60_000, log: () => {} });
    // A second connection on the server's file: the samples as agents' heartbeats would have left them.
    store = openStore({ kind: 'sqlite', path: join(dir, 'data', DB_FILE) });
    await store.init();
    page = await browser.context.newPage();
    await page.goto(server.loginUrl);
    await page.getByRole('heading', { name: 'Pool' }).waitFor();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await store?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Opens the page (last hour), returns what it drew and the range it asked for. */
  async function drawn(): Promise<{ series: Drawn; from: number; to: number }> {
    const asked = page.waitForRequest((r) => r.url().includes('/v1/samples?'));
    await page.goto(`${server.url}/#/utilisation`);
    await page.reload();
    const url = new URL((await asked).url());
    await page.locator('.chart canvas').waitFor();
    const attr = await page.locator('[data-testid="utilisation-series"]').getAttribute('data-series');
    return { series: JSON.parse(attr!) as Drawn, from: Date.parse(url.searchParams.get('from')!), to: Date.parse(url.searchParams.get('to')!) };
  }

  it('before the first sample, draws nothing: no allocation carried back, no line across the gap', async () => {
    // A server whose first sample is 6 minutes old, compacted (minute rollups, and the hour
    // rollup of the last hour when the first sample fell in it).
    const first = Date.now() - 6 * MINUTE;
    await store.appendSamples(seed(first, Date.now() + 5 * MINUTE));
    await store.compactSamples(Date.now() - 30_000);
    const { series, from, to } = await drawn();
    await page.screenshot({ path: join(ARTIFACTS, 'utilisation-first-minutes.png') });
    const step = (to - from) / BUCKETS;
    const firstBucket = Math.floor((first - from) / step);
    expect(firstBucket).toBeGreaterThan(200);
    for (const name of ['allocated', 'capacity', 'busy'] as const) {
      expect(series[name].slice(0, firstBucket).every((v) => v === null), `${name} before the first sample`).toBe(true);
      expect(series[name].slice(firstBucket + 1).every((v) => v !== null), `${name} from the first sample on`).toBe(true);
    }
  });

  it('writes the chart’s times as the rest of the dashboard does: no ISO, no milliseconds', async () => {
    await drawn();
    // The same instant as the dashboard's time() writes it, and the shape of any such time
    // (digits and words aside: a tick of the last hour may be before noon or in last month):
    // "Dec 7, 09:41:05", "7 Dec, 09:41:05" in another locale, or "Dec 7, 9:41:05 AM".
    const shape = (s: string): string => s.replace(/\d+/g, '9').replace(/\p{L}+\.?/gu, 'a');
    const [full, clock, dated] = await page.evaluate((f) => {
      const { month: _m, day: _d, second: _s, ...hm } = f;
      const { second: _s2, ...withDate } = f;
      const now = new Date();
      return [now.toLocaleString(undefined, f), now.toLocaleString(undefined, hm), now.toLocaleString(undefined, withDate)];
    }, TIME_FORMAT);
    const noIso = (s: string): void => {
      expect(s).not.toMatch(/\d{4}-\d{2}-\d{2}|T\d{2}:|\.\d{3}|Z$/);
    };

    // The ticks drawn on the x axis: hours and minutes, or, where the last hour spans midnight,
    // the date with them (formatted here as the dashboard does, without seconds: "Dec 7, 11:15 PM").
    const ticks = JSON.parse((await page.locator('.chart [data-x-ticks]').getAttribute('data-x-ticks'))!) as string[];
    expect(ticks.length).toBeGreaterThan(2);
    for (const t of ticks) {
      noIso(t);
      expect([shape(clock), shape(dated)], t).toContain(shape(t));
    }

    // The legend under the pointer: the time in the dashboard's full format.
    const box = (await page.locator('.chart .u-over').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2);
    const legend = page.locator('.chart .u-legend .u-series').first().locator('.u-value');
    await expect.poll(async () => (await legend.textContent()) ?? '').not.toBe('—');
    const shown = (await legend.textContent())!;
    noIso(shown);
    expect(shape(shown)).toBe(shape(full));
    await page.screenshot({ path: join(ARTIFACTS, 'utilisation-times.png') });
  });

  it('on samples covering the whole range, draws the series the previous code drew from its endpoint', async () => {
    const now = Date.now();
    const samples = seed(now - 70 * MINUTE, now + 5 * MINUTE);
    // Replaces the first test's samples: the new ones cover them (same GPUs and times differ).
    await store.appendSamples(samples.filter((x) => x.at < now - 6 * MINUTE - 5_000));
    const { series, from, to } = await drawn();
    await page.screenshot({ path: join(ARTIFACTS, 'utilisation-same-as-before.png') });
    // The previous endpoint's answer on the very samples the store holds, drawn the previous way.
    const old = oldPageSeries(oldPoolAnswer(await store.listSamples(from, to), from, to), from, to);
    expect(series.xs).toEqual(old.xs);
    for (const name of ['capacity', 'allocated', 'busy'] as const) expect(round(series[name]), name).toEqual(round(old[name]));
    expect(series.busy.every((v) => v !== null)).toBe(true);
  });
});
