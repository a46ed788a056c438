// The dashboard's sweep page in real headless Chromium against a real server and agent
// (simulated GPUs): 8 trials at 0.25 GPU report a first step, the page shows them running with
// their slices and a chart line each; then they finish (the test releases them through a file
// they wait for) and the page turns to SUCCEEDED with the best trial, without a reload.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, launchBrowser, type TestBrowser } from './browser.js';
import { startTestPool, type TestPool } from './harness.js';

let pool: TestPool;
let browser: TestBrowser;
let page: Page;
let dir: string;
const pageErrors: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fastgpu-sweep-page-'));
  browser = await launchBrowser();
  pool = await startTestPool({ gpus: '2xH100', nodeName: 'box' });
  page = await browser.context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await pool?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sweep page', () => {
  it('shows trials with state, slice and cost, a chart of the metric over steps, live', { timeout: 300_000 }, async () => {
    // The login trades ?token= for a session cookie after the page loads: wait for it, or the
    // next navigation goes out without the cookie and lands on the login form.
    await page.goto(pool.loginUrl);
    await page.getByRole('heading', { name: 'Pool' }).waitFor({ timeout: 30_000 });
    const go = join(dir, 'go');
    const trial = `echo "{\\"step\\": 1, \\"loss\\": {x}}" >> "$FASTGPU_METRICS"; while [ ! -f ${go} ]; do sleep 0.5; done; echo "{\\"step\\": 2, \\"loss\\": $(( {x} / 2 ))}" >> "$FASTGPU_METRICS"`;
    const created = await pool.api<{ sweep: { id: string } }>('POST', '/v1/sweeps', { name: 'watch', command: trial, space: { x: [8, 2, 6, 4, 10, 12, 14, 16] }, gpu: 0.25, memory: '10GiB', metric: 'loss' });
    const id = created.sweep.id;
    await page.goto(`${pool.url}/#/sweeps/${id}`);
    const rows = page.getByRole('table', { name: 'Trials' }).locator('tbody tr');
    // All 8 running at once on 2 GPUs, each with its first point drawn.
    // Generous: on a loaded 2-core CI box eight launches and their first points take a while.
    await page.locator('tbody tr[data-state="RUNNING"]').nth(7).waitFor({ timeout: 90_000 });
    await page.locator('[data-series-count="8"]').waitFor({ timeout: 90_000 });
    expect(await rows.count()).toBe(8);
    expect(await rows.first().textContent()).toContain('0.25 GPU, 10 GiB on box');
    await page.screenshot({ path: join(ARTIFACTS, 'sweep-running.png') });
    writeFileSync(go, '');
    await page.getByTestId('sweep-summary').filter({ hasText: /^SUCCEEDED:/ }).waitFor({ timeout: 90_000 });
    await page.getByTestId('sweep-best').filter({ hasText: 'Best: trial 1, loss 1 at step 2 (x=2)' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('tbody tr[data-state="SUCCEEDED"]').count()).toBe(8);
    await page.screenshot({ path: join(ARTIFACTS, 'sweep-done.png') });
    await page.goto(`${pool.url}/#/sweeps`);
    await page.getByRole('link', { name: id }).waitFor();
    expect(pageErrors).toEqual([]);
  });
});
