// The dashboard in real headless Chromium against a real server and agent (simulated GPUs):
// log in with the printed link, watch tasks appear, start and finish without reloads, see
// fractional slices, cancel from a task's page, search 20,000 lines of logs. Screenshots of
// every page go to test-artifacts/browser/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { PageDocument, PageWindow } from './page-globals.js';
import { ARTIFACTS, launchBrowser, type TestBrowser } from './browser.js';
import { startTestPool, type TestPool } from './harness.js';
import { stateAtInteractive } from './scale.js';

// Browser globals, for callbacks that run in the page.
declare const window: unknown;
declare const document: PageDocument;
declare function requestAnimationFrame(f: () => void): number;

interface TaskView {
  id: string;
  name: string;
  state: string;
  reason: string | null;
}

let pool: TestPool;
let browser: TestBrowser;
let page: Page;
/** Uncaught errors and CSP violations in the page: there must be none. */
const pageErrors: string[] = [];

const submit = async (spec: Record<string, unknown>): Promise<TaskView> => (await pool.api<{ tasks: TaskView[] }>('POST', '/v1/tasks', spec)).tasks[0]!;
const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });

beforeAll(async () => {
  browser = await launchBrowser();
  pool = await startTestPool({ gpus: '2xH100', nodeName: 'box' });
  page = await browser.context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await pool?.close();
});

describe('dashboard in Chromium', () => {
  it('the server itself serves the page at /', async () => {
    const res = await fetch(pool.apiUrl + '/');
    expect(res.status, 'GET / on the server: register src/dashboard in src/server (see the dashboard report)').toBe(200);
    expect(pool.wired).toBe(true);
  });

  it('logs in with the printed token, which leaves the address bar, and keeps the session in an HttpOnly cookie', async () => {
    await page.goto(pool.loginUrl);
    await page.getByRole('heading', { name: 'Pool' }).waitFor();
    expect(page.url()).not.toContain('token=');
    const cookies = await browser.context.cookies(pool.url);
    const session = cookies.find((c) => c.name === 'fastgpu_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(await page.evaluate(() => document.cookie)).not.toContain('fastgpu_session');
    await page.getByText('Live', { exact: true }).waitFor();
    await page.getByRole('heading', { name: 'box' }).waitFor();
    await shot('pool-empty');
  });

  it('shows submitted tasks appear, start and finish without reloading', async () => {
    await page.getByRole('link', { name: 'Tasks', exact: true }).click();
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    await page.evaluate(() => ((window as PageWindow).__noReload = true));
    const a = await submit({ name: 'live-a', command: 'sleep 3; echo finished-a', resources: { gpu: 0.5 } });
    const b = await submit({ name: 'live-b', command: 'sleep 3; echo finished-b', resources: { gpu: 0.25 } });
    const row = (id: string, state?: string) => page.locator(`tr[data-task-id="${id}"]${state ? `[data-state="${state}"]` : ''}`);
    await row(a.id).waitFor();
    await row(b.id).waitFor();
    await row(a.id, 'RUNNING').waitFor({ timeout: 20_000 });
    await row(b.id, 'RUNNING').waitFor({ timeout: 20_000 });
    await row(a.id, 'SUCCEEDED').waitFor({ timeout: 20_000 });
    await row(b.id, 'SUCCEEDED').waitFor({ timeout: 20_000 });
    expect(await page.evaluate(() => (window as PageWindow).__noReload)).toBe(true);
    await shot('tasks');
  });

  it('draws fractional slices to scale on the pool page', async () => {
    const half = await submit({ name: 'train-llm', command: 'sleep 60', resources: { gpu: 0.5 } });
    const quarter = await submit({ name: 'eval', command: 'sleep 60', resources: { gpu: 0.25 } });
    const others = [
      await submit({ name: 'notebook', command: 'sleep 60', resources: { gpu: { memory: '20GiB' } } }),
      await submit({ name: 'finetune', command: 'sleep 60', resources: { gpu: 0.5 } }),
    ];
    await page.getByRole('link', { name: 'Pool', exact: true }).click();
    const halfSlice = page.locator(`a.slice[href="#/tasks/${half.id}"]`);
    const quarterSlice = page.locator(`a.slice[href="#/tasks/${quarter.id}"]`);
    await halfSlice.waitFor({ timeout: 20_000 });
    await quarterSlice.waitFor({ timeout: 20_000 });
    expect(await halfSlice.getAttribute('data-milli')).toBe('500');
    expect(await quarterSlice.textContent()).toContain('eval');
    const bar = await halfSlice.evaluate((el) => el.parentElement!.getBoundingClientRect().width);
    const w = (await halfSlice.boundingBox())!.width;
    expect(w / bar).toBeGreaterThan(0.45);
    expect(w / bar).toBeLessThan(0.55);
    // Measured utilisation arrives with the agent's heartbeats.
    await page.locator('.util').first().waitFor({ timeout: 20_000 });
    await shot('pool');
    for (const t of [half, quarter, ...others]) await pool.api('POST', `/v1/tasks/${t.id}/cancel`);
  });

  it('shows waiting tasks with their reason in the queue', async () => {
    const big = await submit({ name: 'needs-both', command: 'sleep 30', resources: { gpu: 2 }, priority: 90 });
    const blocker = await submit({ name: 'blocker', command: 'sleep 30', resources: { gpu: 1 } });
    void blocker;
    await page.getByRole('link', { name: 'Queue', exact: true }).click();
    await page.getByRole('heading', { name: 'Queue' }).waitFor();
    // One of them waits (which one depends on timing); the page explains why in words.
    await page.locator('td.reason').first().waitFor({ timeout: 20_000 });
    await shot('queue');
    // Cleanup: one of them may have finished already (409), which is as good as cancelled.
    for (const t of [big, blocker]) await pool.api('POST', `/v1/tasks/${t.id}/cancel`).catch(() => {});
  });

  it('cancels a task from its page', async () => {
    const t = await submit({ name: 'to-cancel', command: 'sleep 300', resources: { gpu: 0.5 } });
    await page.goto(`${pool.url}/#/tasks/${t.id}`);
    await page.getByRole('heading', { name: 'to-cancel' }).waitFor();
    await page.locator('[data-testid="task-state"]', { hasText: 'RUNNING' }).waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Cancel task' }).click();
    await page.getByRole('button', { name: 'Yes, cancel it' }).click(); // the confirmation (test/browser/first-hour.test.ts)
    await page.locator('[data-testid="task-state"]', { hasText: 'CANCELLED' }).waitFor({ timeout: 30_000 });
    expect(await page.getByRole('button', { name: 'Cancel task' }).isDisabled()).toBe(true);
    await shot('task-cancelled');
  });

  it('loads the full log (100,000 lines) and finds a line printed 5,000 lines before the end', async () => {
    const t = await submit({
      name: 'chatty',
      command: `awk 'BEGIN { for (i = 1; i <= 100000; i++) { if (i == 95000) print "needle-" i " is here"; else print "line " i " of the log" } }'`,
      resources: { gpu: 0.25 },
    });
    await page.goto(`${pool.url}/#/tasks/${t.id}`);
    await page.locator('[data-testid="task-state"]', { hasText: 'SUCCEEDED' }).waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="log-hits"]', { hasText: '100,000 lines' }).waitFor({ timeout: 60_000 });
    // Virtualised: far fewer rows in the DOM than lines in the log.
    expect(await page.locator('.log-box .ln').count()).toBeLessThan(200);
    // The very first line is there too (full scrollback, not a tail).
    const box = page.locator('.log-box');
    await box.evaluate((el) => (el.scrollTop = 0));
    await page.locator('.ln[data-line="1"]', { hasText: 'line 1 of the log' }).waitFor();
    // Each jump re-renders only the rows in view (timed by `npm run bench:web`; logged here).
    const jumps = await box.evaluate(async (el) => {
      const times: number[] = [];
      for (let i = 1; i <= 20; i++) {
        const t0 = performance.now();
        el.scrollTop = (el.scrollHeight * i) / 21;
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        times.push(performance.now() - t0);
      }
      return times.sort((a, b) => a - b);
    });
    console.log(`log scroll, 100k lines: median ${jumps[10]!.toFixed(1)} ms per jump to next paint, max ${jumps[19]!.toFixed(1)} ms`);
    await page.getByRole('searchbox', { name: 'Search the log' }).fill('needle-95000');
    await page.locator('[data-testid="log-hits"]', { hasText: '1 of 1' }).waitFor();
    const mark = page.locator('.log-box mark.current');
    await mark.waitFor();
    expect(await mark.textContent()).toBe('needle-95000');
    expect(await page.locator('.ln.hit').getAttribute('data-line')).toBe('95000');
    await page.locator('#logs').evaluate((el) => el.scrollIntoView());
    await shot('task-logs');
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download' }).click();
    expect((await download).suggestedFilename()).toBe(`chatty-${t.id}.log`);
  });

  it('follows a running task’s log live', async () => {
    const t = await submit({ name: 'ticker', command: 'for i in 1 2 3 4 5 6; do echo tick-$i; sleep 0.5; done', resources: { gpu: 0.25 } });
    await page.goto(`${pool.url}/#/tasks/${t.id}`);
    await page.locator('.log-box', { hasText: 'tick-1' }).waitFor({ timeout: 20_000 });
    await page.locator('.log-box', { hasText: 'tick-6' }).waitFor({ timeout: 20_000 });
    await page.locator('[data-testid="task-state"]', { hasText: 'SUCCEEDED' }).waitFor({ timeout: 20_000 });
  });

  it('tells the whole story of tasks that ended before their page was opened', async () => {
    const timelineOf = async (id: string): Promise<{ event: string | null; text: string }[]> => {
      // A fresh document: nothing of the task's life reaches it live, only what is stored.
      await page.goto('about:blank');
      const history = page.waitForResponse((r) => r.url().includes(`/v1/tasks/${id}/events`) && r.status() === 200);
      await page.goto(`${pool.url}/#/tasks/${id}`);
      await history;
      const items = page.locator('[data-testid="timeline"] li');
      await page.locator('[data-testid="timeline"] li[data-event="task.submitted"]').waitFor({ timeout: 10_000 });
      return items.evaluateAll((els) => els.map((el) => ({ event: el.getAttribute('data-event'), text: (el.textContent ?? '').trim() })));
    };

    // One that ran: placed, started, ended and finished, each from the stored history.
    const ran = await submit({ name: 'ran-before', command: 'echo done', resources: { gpu: 0.25 } });
    expect((await pool.api<TaskView>('GET', `/v1/tasks/${ran.id}/wait?timeoutMs=30000`)).state).toBe('SUCCEEDED');
    const story = await timelineOf(ran.id);
    expect(story.map((x) => x.event)).toEqual(['task.submitted', 'task.scheduled', 'task.started', null, 'task.finished']);
    expect(story.map((x) => x.text)).toEqual([
      expect.stringContaining('Submitted by tenant default, priority 50'),
      expect.stringMatching(/Attempt 1 placed on box GPU \d \(0\.25 each\)$/),
      expect.stringMatching(/Attempt 1 started$/),
      expect.stringMatching(/Attempt 1 ended: SUCCEEDED, exit code 0$/),
      expect.stringMatching(/Finished: SUCCEEDED \(exit code 0\)$/),
    ]);
    await page.locator('[data-testid="timeline"]').evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await shot('task-timeline');

    // One cancelled while it waited: the cancel is only in the history, never in the task record.
    const blocker = await submit({ name: 'blocker', command: 'sleep 60', resources: { gpu: 2 } });
    await expect.poll(async () => (await pool.api<TaskView>('GET', `/v1/tasks/${blocker.id}`)).state, { timeout: 60_000 }).toBe('RUNNING');
    const waiter = await submit({ name: 'waiter', command: 'true', resources: { gpu: 1 } });
    await expect.poll(async () => (await pool.api<TaskView>('GET', `/v1/tasks/${waiter.id}`)).reason, { timeout: 60_000 }).toBe('Resources');
    await pool.api('POST', `/v1/tasks/${waiter.id}/cancel`);
    await pool.api('POST', `/v1/tasks/${blocker.id}/cancel`);
    const cancelled = await timelineOf(waiter.id);
    expect(cancelled.map((x) => x.event)).toEqual(['task.submitted', 'task.pending', 'task.cancelled', null]);
    expect(cancelled[1]!.text).toMatch(/Waiting: /);
    expect(cancelled[2]!.text).toMatch(/Cancelled before it was placed$/);
    expect(cancelled[3]!.text).toMatch(/Finished: CANCELLED$/);
  });

  it('shows usage and utilisation, and fits a phone screen', async () => {
    await page.getByRole('link', { name: 'Usage', exact: true }).click();
    await page.getByRole('heading', { name: 'Usage and cost' }).waitFor();
    await page.locator('table.list tbody tr').first().waitFor({ timeout: 10_000 });
    await shot('usage');
    await page.getByRole('link', { name: 'Utilisation', exact: true }).click();
    await page.getByRole('heading', { name: 'Utilisation over time' }).waitFor();
    await page.locator('.chart canvas').waitFor({ timeout: 10_000 });
    await shot('utilisation');
    await page.setViewportSize({ width: 390, height: 844 });
    for (const p of ['pool', 'queue', 'tasks', 'usage']) {
      await page.goto(`${pool.url}/#/${p}`);
      await page.locator('main h1').waitFor();
      await page.waitForTimeout(300);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `${p} scrolls sideways on a phone`).toBeLessThanOrEqual(0);
      await shot(`phone-${p}`);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('shows amounts and promotions once the server has /v1/usage, and stored samples once it has /v1/samples', async () => {
    // Stand-ins for the endpoints of the pricing and samples work, in the shapes they will have.
    const now = Date.now();
    const money = (n: number) => ({ amount: n, micros: String(Math.round(n * 1e6)) });
    const iso = (t: number) => new Date(t).toISOString();
    const row = (tenant: string, taskId: string, gpuModel: string, gpuSeconds: number, list: number, discount: number, promotions: string[]) => ({
      tenant, taskId, gpuModel, gpuSeconds, promotions,
      listAmount: money(list).amount, discountAmount: money(discount).amount, chargedAmount: money(list - discount).amount,
      listMicros: money(list).micros, discountMicros: money(discount).micros, chargedMicros: money(list - discount).micros,
    });
    const report = {
      from: new Date(now - 7 * 86400_000).toISOString(), to: new Date(now).toISOString(), currency: 'USD',
      rows: [row('research', 't_1', 'H100-80GB', 7200, 6, 1.5, ['night-25']), row('research', 't_2', 'H100-80GB', 3600, 3, 0, []), row('prod', 't_3', 'A100-80GB', 36000, 20, 0, [])],
      totals: { gpuSeconds: 46800, promotions: ['night-25'], listAmount: 29, discountAmount: 1.5, chargedAmount: 27.5, listMicros: '29000000', discountMicros: '1500000', chargedMicros: '27500000' },
      // Issue 14: usage per array, map and sweep.
      groups: [{ ...row('research', 't_1', 'H100-80GB', 7200, 4.5, 0, []), taskId: undefined, gpuModel: undefined, kind: 'sweep', id: 'sw_lr', name: 'lr-search', createdAt: iso(now - 3600_000), size: 8, counts: { SUCCEEDED: 6, PRUNED: 2 }, tasks: 8 }],
    };
    await page.route('**/v1/usage?*', (r) => r.fulfill({ json: report }));
    await page.route('**/v1/prices', (r) => r.fulfill({ json: { currency: 'USD', default: '0', prices: { 'H100-80GB': '3.00', 'A100-80GB': '2.00' } } }));
    await page.route('**/v1/promotions', (r) =>
      r.fulfill({
        json: {
          promotions: [
            { name: 'night-25', discount: '25%', from: iso(now - 86400_000), to: iso(now + 86400_000), priority: 0, hours: '22:00-06:00', status: 'active', spent: '1.50', budget: '100.00' },
            { name: 'spring', discount: '10%', from: iso(now - 30 * 86400_000), to: iso(now - 86400_000), priority: 0, status: 'ended', spent: '0.00' },
          ],
        },
      }),
    );
    const samples = Array.from({ length: 120 }, (_, i) => ({ at: now - 3600_000 + i * 30_000, nodeId: 'n1', gpuIndex: i % 2, utilPercent: 40 + (i % 20), memoryUsedMiB: 1000 }));
    const allocation = Array.from({ length: 60 }, (_, i) => ({ at: now - 3600_000 + i * 60_000, allocatedMilli: 500 + (i % 4) * 250, capacityMilli: 2000 }));
    await page.route('**/v1/samples?*', (r) => r.fulfill({ json: { samples, allocation } }));
    try {
      await page.goto(`${pool.url}/#/usage`);
      await page.reload();
      await page.getByRole('heading', { name: 'Usage and cost' }).waitFor();
      await page.getByRole('cell', { name: 'night-25' }).waitFor();
      expect(await page.locator('[data-testid="pricing-note"]').count()).toBe(0);
      await page.getByText('25% off · hours 22:00-06:00', { exact: false }).waitFor();
      expect(await page.getByText('spring').count()).toBe(0);
      await page.getByText('27.50 USD').first().waitFor();
      const groups = page.locator('[data-testid="usage-groups"]');
      await groups.getByRole('link', { name: 'lr-search' }).waitFor();
      expect(await groups.getByRole('link', { name: 'lr-search' }).getAttribute('href')).toBe('#/sweeps/sw_lr');
      await groups.getByText('6 SUCCEEDED · 2 PRUNED').waitFor();
      await groups.getByText('4.50 USD').waitFor();
      await shot('usage-priced');
      await page.goto(`${pool.url}/#/utilisation`);
      await page.locator('.chart canvas').waitFor();
      expect(await page.locator('[data-testid="samples-note"]').count()).toBe(0);
      await shot('utilisation-stored');
    } finally {
      await page.unrouteAll();
    }
  });

  it('becomes interactive on a fresh load: when it says so, the pool is on the page', async () => {
    const at = await stateAtInteractive(browser.context, `${pool.url}/#/pool`);
    // Marked in the same frame the pool was drawn: every node card and GPU row is there, no spinner.
    expect(at).toMatchObject({ nodes: 1, gpus: 2, busy: 0 });
    console.log(`load to interactive: ${at.ms.toFixed(0)} ms (not asserted; see npm run bench:web)`);
  });

  it('lists are keyboard navigable', async () => {
    await page.goto(`${pool.url}/#/tasks`);
    await page.locator('a[data-row-link]').first().waitFor();
    await page.locator('a[data-row-link]').first().focus();
    await page.keyboard.press('ArrowDown');
    const second = await page.locator('a[data-row-link]').nth(1).evaluate((el) => el === document.activeElement);
    expect(second).toBe(true);
    await page.keyboard.press('Enter');
    await page.locator('[data-testid="task-state"]').waitFor();
  });

  it('logs out, refuses a wrong token, and logs in with a pasted one', async () => {
    await page.goto(`${pool.url}/#/pool`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('API token').waitFor();
    expect((await browser.context.cookies(pool.url)).find((c) => c.name === 'fastgpu_session')).toBeUndefined();
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'unknown or revoked token' }).waitFor();
    await shot('login');
    await page.getByLabel('API token').fill(pool.adminToken);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Pool' }).waitFor();
  });

  it('raised no uncaught errors or Content-Security-Policy violations', () => {
    expect(pageErrors).toEqual([]);
  });
});
