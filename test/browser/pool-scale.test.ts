// The pool page at 100 nodes × 8 GPUs with ~1,600 slices: every node and GPU is drawn, and live
// updates (slice add/remove through events, every GPU's utilisation through heartbeats) reach
// the page. How fast they render is measured by `npm run bench:web`, not asserted here: shared
// CI machines are too noisy for timing assertions. The measurements are still logged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { gpus } from '../../web/src/format.js';
import type { PageDocument } from './page-globals.js';
import { ARTIFACTS, launchBrowser, type TestBrowser } from './browser.js';
import { startTestPool, type TestPool } from './harness.js';
import { driveLiveUpdates, fillPool, stateAtInteractive, stats, type ScalePool } from './scale.js';

// Browser globals, for callbacks that run in the page.
declare const document: PageDocument;

const NODES = 100;
const GPUS = 8;

let pool: TestPool;
let browser: TestBrowser;
let page: Page;
let scale: ScalePool | undefined;

const allocatedMilli = async (): Promise<number> =>
  (await pool.api<{ gpus: { allocatedMilli: number }[] }>('GET', '/v1/gpus')).gpus.reduce((a, g) => a + g.allocatedMilli, 0);

beforeAll(async () => {
  browser = await launchBrowser();
  // The heartbeats pause while the slices change (utilisation must stay put): on a loaded box
  // that outlasted a 60 s lease, and every node went LOST (the page rightly showed 0 / 0 GPUs).
  pool = await startTestPool({ agent: false, nodeLostAfterMs: 30 * 60_000 });
  scale = await fillPool(pool, { nodes: NODES, gpusPerNode: GPUS });
  page = await browser.context.newPage();
  await page.goto(pool.loginUrl);
  await page.getByRole('heading', { name: 'Pool' }).waitFor({ timeout: 30_000 });
}, 180_000);

afterAll(async () => {
  scale?.stopBeating();
  await browser?.close();
  await pool?.close();
});

describe('pool page at 100 nodes × 8 GPUs', () => {
  it('renders every node and GPU, and applies slice and utilisation updates live', async () => {
    await page.waitForFunction((n) => document.querySelectorAll('article.node').length === n, NODES, { timeout: 30_000 });
    expect(await page.locator('li.gpu').count()).toBe(NODES * GPUS);

    // Few changes, each awaited: on a loaded 2-core box one render of 800 GPUs took seconds, and
    // 30 + 5 of them outran the test's time once. The bench (npm run bench:web) drives more.
    const live = await driveLiveUpdates(page, pool, scale!, { sliceChanges: 10, utilRefreshes: 3, timing: false });
    // Each slice change and each utilisation round produced a render of the page.
    expect(live.slices.render.length).toBeGreaterThanOrEqual(10);
    expect(live.utilisation.render.length).toBeGreaterThanOrEqual(3);
    // The cluster totals show the allocation after the slice changes…
    const allocated = page.getByRole('group', { name: 'Cluster totals' }).locator('.stat').first().locator('.stat-value');
    await expect.poll(() => allocated.textContent(), { timeout: 15_000 }).toBe(`${gpus(await allocatedMilli())} / ${NODES * GPUS}`);
    // …and the GPUs in view show the utilisation they reported last.
    for (const g of [0, GPUS - 1]) {
      const meter = page.getByRole('article', { name: 'Node node-000' }).getByRole('meter', { name: `GPU ${g} measured utilisation` });
      await expect.poll(() => meter.getAttribute('aria-valuenow'), { timeout: 15_000 }).toBe(String(live.lastUtil(0, g)));
    }

    await page.screenshot({ path: join(ARTIFACTS, 'pool-100x8.png') });
    const report = {
      nodes: NODES,
      gpusPerNode: GPUS,
      sliceUpdate: { renderMs: stats(live.slices.render), toNextPaintMs: stats(live.slices.frame) },
      allGpusUtilisationUpdate: { renderMs: stats(live.utilisation.render), toNextPaintMs: stats(live.utilisation.frame) },
    };
    writeFileSync(join(ARTIFACTS, 'pool-perf.json'), JSON.stringify(report, null, 2));
    console.log('pool page per live update (ms; targets are checked by `npm run bench:web`):', JSON.stringify(report));
  }, 300_000);

  it('becomes interactive on a fresh load: when it says so, the pool is on the page', async () => {
    const at = await stateAtInteractive(browser.context, `${pool.url}/#/pool`);
    // Marked in the same frame the pool was drawn: every node card and GPU row is there, no spinner.
    expect(at).toMatchObject({ nodes: NODES, gpus: NODES * GPUS, busy: 0 });
    console.log(`load to interactive, 100 nodes × 8 GPUs: ${at.ms.toFixed(0)} ms (not asserted; see npm run bench:web)`);
    writeFileSync(join(ARTIFACTS, 'load-perf-100x8.json'), JSON.stringify({ interactiveMs: at.ms }, null, 2));
  });
});
