// The pool page shows nodes coming and going (issue 12), on a real pool: `startServer` with
// `--autoscale local:max=1`, whose provider starts real agent processes. A task that no node can
// take brings a node: the page lists it (provider, shape, state, times) as it joins, runs the
// task, and is given back when idle, with why.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAutoscaleSpec } from '../../src/server/providers/config.js';
import { startServer, type RunningServer } from '../../src/server/main.js';
import { requireBuild } from '../e2e/harness.js';
import { ARTIFACTS, launchBrowser, type TestBrowser } from './browser.js';

const TIMEOUT_MS = 90_000;
let dir: string;
let server: RunningServer;
let browser: TestBrowser;
let page: Page;

const api = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${server.adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
};

beforeAll(async () => {
  requireBuild(); // the local provider's agents run bin/fastgpu
  dir = mkdtempSync(join(tmpdir(), 'fastgpu-browser-lent-'));
  server = await startServer({
    dataDir: join(dir, 'data'),
    port: 0,
    tickMs: 50,
    log: () => {},
    autoscale: {
      spec: parseAutoscaleSpec('local:max=1,gpus=1xA100-80GB,cpus=2,memory=4GiB'),
      policy: { idleTimeoutMs: 3_000, pendingThresholdMs: 500, cooldownMs: 500, joinTimeoutMs: 60_000 },
    },
  });
  browser = await launchBrowser();
  page = await browser.context.newPage();
  await page.goto(server.loginUrl);
  await page.getByRole('heading', { name: 'Pool' }).waitFor({ timeout: 30_000 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('pool page: nodes coming and going', () => {
  it('lists a lent node as it joins, runs a task and is given back, with its provider, shape, state and times', async () => {
    // No node yet: nothing was ever lent, so the section is not there.
    expect(await page.getByRole('heading', { name: 'Nodes coming and going' }).count()).toBe(0);

    const { tasks } = await api<{ tasks: { id: string }[] }>('POST', '/v1/tasks', { name: 'needs-a-node', command: ['sh', '-c', 'sleep 1'], resources: { gpu: 'A100-80GB:1' } });
    const table = page.getByRole('table', { name: 'Lent nodes' });
    const row = table.locator('tbody tr').first();
    await row.waitFor({ timeout: TIMEOUT_MS });
    const node = await row.getAttribute('data-node');
    expect(node).toMatch(/^local-[0-9a-f]{6}$/);
    const cell = (label: string) => row.locator(`td[data-label="${label}"]`);
    expect(await cell('Provider').textContent()).toMatch(/^local \d+$/);
    expect(await cell('Shape').textContent()).toBe('1xA100-80GB');
    expect(await cell('Asked for').textContent()).not.toBe('—');

    // It joins: state up, with the time it joined; the task runs there.
    await expect.poll(() => row.getAttribute('data-state'), { timeout: TIMEOUT_MS }).toMatch(/^(up|draining|released)$/);
    expect(await cell('Joined').textContent()).not.toBe('—');
    const task = await api<{ state: string; placement: { node: string } | null }>('GET', `/v1/tasks/${tasks[0]!.id}`);
    expect(task.placement?.node).toBe(node);

    // Idle past the timeout: drained, then given back; the page says when and why.
    await expect.poll(() => row.getAttribute('data-state'), { timeout: TIMEOUT_MS }).toBe('released');
    expect(await cell('Draining').textContent()).not.toBe('—');
    expect(await cell('Released').textContent()).toContain('drained and empty');
    expect(await row.locator('.badge').textContent()).toBe('released');
    await expect.poll(() => page.locator('section.lent p.muted').first().textContent()).toMatch(/0 joining, 0 up, 0 draining, 1 released/);
    // Its card says RELEASED, as `fastgpu nodes` does: given back on purpose, not LOST.
    await expect.poll(() => page.getByRole('article', { name: `Node ${node}` }).locator('.badge').textContent(), { timeout: TIMEOUT_MS }).toBe('RELEASED');
    await page.screenshot({ path: join(ARTIFACTS, 'pool-lent-nodes.png'), fullPage: true });
  }, TIMEOUT_MS * 3);
});
