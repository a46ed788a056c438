// The dashboard details of issue 22 in real Chromium: cancel asks first, a task's log is above
// the fold at 1280×800, and CPU-only and vGPU tasks say where they run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { join } from 'node:path';
import { ARTIFACTS, launchBrowser, type TestBrowser } from './browser.js';
import { startTestPool, type TestPool } from './harness.js';

interface TaskView {
  id: string;
  state: string;
}

let pool: TestPool;
let browser: TestBrowser;
let page: Page;
const pageErrors: string[] = [];

async function until(cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const submit = async (spec: Record<string, unknown>): Promise<TaskView> => (await pool.api<{ tasks: TaskView[] }>('POST', '/v1/tasks', spec)).tasks[0]!;

beforeAll(async () => {
  browser = await launchBrowser();
  pool = await startTestPool({ gpus: '1xH100', nodeName: 'box' });
  page = await browser.context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(pool.loginUrl);
  await page.getByRole('heading', { name: 'Pool' }).waitFor();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await pool?.close();
});

describe('dashboard, first hour', () => {
  it('asks before cancelling: "Keep it" leaves the task running, "Yes, cancel it" cancels', async () => {
    const t = await submit({ name: 'ask-first', command: 'sleep 300', resources: { gpu: 0.25 } });
    await page.goto(`${pool.url}/#/tasks/${t.id}`);
    await page.locator('[data-testid="task-state"]', { hasText: 'RUNNING' }).waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Cancel task' }).click();
    const confirm = page.getByTestId('cancel-confirm');
    await confirm.waitFor();
    expect(await confirm.textContent()).toMatch(/Stop this running task\? Its process is killed\./);
    await page.getByRole('button', { name: 'Keep it' }).click();
    // The question is gone and the button is back: only now could a cancel have been sent.
    await page.getByRole('button', { name: 'Cancel task' }).waitFor();
    expect(await confirm.count()).toBe(0);
    expect((await pool.api<TaskView>('GET', `/v1/tasks/${t.id}`)).state).toBe('RUNNING');
    await page.getByRole('button', { name: 'Cancel task' }).click();
    await page.getByRole('button', { name: 'Yes, cancel it' }).click();
    await page.locator('[data-testid="task-state"]', { hasText: 'CANCELLED' }).waitFor({ timeout: 30_000 });
  });

  it('shows the log above the fold at 1280×800, and a CPU-only task with no empty GPU list', async () => {
    const t = await submit({ name: 'cpu-only', command: ['sh', '-c', 'echo hello from the cpu'] });
    await page.goto(`${pool.url}/#/tasks/${t.id}`);
    await page.locator('[data-testid="task-state"]', { hasText: 'SUCCEEDED' }).waitFor({ timeout: 20_000 });
    const logs = await page.locator('#logs').boundingBox();
    expect(logs).not.toBeNull();
    expect(logs!.y).toBeLessThan(800 - 100); // its heading and first lines show without scrolling
    expect(await page.getByTestId('placement').textContent()).toMatch(/none \(CPU only\)/);
    await page.goto(`${pool.url}/#/tasks`);
    const row = page.locator('tr', { hasText: t.id.slice(0, 8) }).first();
    await row.waitFor();
    expect(await row.textContent()).not.toMatch(/\[\]/);
    expect(pageErrors).toEqual([]);
  });

  it('on a phone (390×844) the queue, attempts and usage tables are cards with every column on screen', async () => {
    const phone = await browser.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    try {
      const busy = await submit({ name: 'fills-the-gpu', command: 'sleep 300', resources: { gpu: 1 } });
      const waiting = await submit({ name: 'waits-on-phone', command: 'true', resources: { gpu: 1 } });
      await until(async () => (await pool.api<TaskView & { reason: string | null }>('GET', `/v1/tasks/${waiting.id}`)).reason !== null);
      /** Every cell of the first row of `table` lies within the 390 px screen, and the page does not scroll sideways. */
      const onScreen = async (table: string): Promise<void> => {
        const row = phone.locator(`${table} tbody tr`).first();
        await row.waitFor();
        const boxes = await row.locator('td:visible').evaluateAll((tds) => tds.map((td) => { const r = (td as unknown as { getBoundingClientRect(): { left: number; right: number } }).getBoundingClientRect(); return { left: r.left, right: r.right, label: (td as unknown as { dataset: { label?: string } }).dataset.label ?? '' }; }));
        expect(boxes.length).toBeGreaterThan(2);
        for (const b of boxes) {
          expect(b.left, b.label).toBeGreaterThanOrEqual(0);
          expect(b.right, b.label).toBeLessThanOrEqual(390);
        }
        expect(await phone.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      };
      await phone.goto(`${pool.url}/#/queue`);
      await phone.getByRole('link', { name: 'waits-on-phone' }).waitFor();
      await onScreen('table.cards-sm');
      // The why column spans the card instead of a narrow column 12 lines tall.
      const why = await phone.locator('td[data-label="Why"]').first().boundingBox();
      expect(why!.width).toBeGreaterThan(300);

      await pool.api('POST', `/v1/tasks/${busy.id}/cancel`);
      await phone.goto(`${pool.url}/#/tasks/${busy.id}`);
      await phone.locator('[data-testid="task-state"]', { hasText: 'CANCELLED' }).waitFor({ timeout: 30_000 });
      await onScreen('table.cards-sm');
      expect(await phone.locator('td[data-label="Outcome"]').first().isVisible()).toBe(true);

      await phone.goto(`${pool.url}/#/usage`);
      await onScreen('table.cards-sm');
      await phone.screenshot({ path: join(ARTIFACTS, 'phone-usage.png') });
    } finally {
      await phone.close();
    }
  });

  it('pages the tasks list, 50 rows a page, with the page in the address', async () => {
    for (let i = 0; i < 55; i++) await submit({ name: `many-${i}`, command: 'true' });
    const total = (await pool.api<{ tasks: TaskView[] }>('GET', '/v1/tasks')).tasks.length;
    expect(total).toBeGreaterThan(50);
    await page.goto(`${pool.url}/#/tasks`);
    const pager = page.getByTestId('pager');
    await pager.filter({ hasText: `1–50 of ${total} tasks` }).waitFor();
    expect(await page.locator('table.list tbody tr').count()).toBe(50);
    await page.getByRole('button', { name: 'Older' }).click();
    await pager.filter({ hasText: `51–${total} of ${total} tasks` }).waitFor();
    expect(await page.locator('table.list tbody tr').count()).toBe(total - 50);
    expect(page.url()).toContain('page=2');
    expect(await page.getByRole('button', { name: 'Older' }).isDisabled()).toBe(true);
  });
});
