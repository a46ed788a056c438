// A big pool for the pool page, shared by test/browser/pool-scale.test.ts (does it work at this
// size) and bench/web.ts (how fast): N nodes × G simulated GPUs joined through the agent
// protocol (registration, heartbeats with utilisation), about two vGPU slices per GPU, and the
// two kinds of live update the page follows: slice add/remove (events) and every GPU's
// utilisation changing (heartbeats, picked up by the page's pool refresh).
import { NODE_CREDENTIAL_HEADER } from '../../src/protocol/agent.js';
import type { BrowserContext, Page } from 'playwright-core';
import { simulatedGpus } from '../../src/agent/discovery.js';
import type { TestPool } from './harness.js';
import type { PageDocument, PageWindow, PerfLog } from './page-globals.js';

declare const document: PageDocument;

// Browser globals, for callbacks that run in the page.
declare const window: unknown;

/** Utilisation (0–100) a heartbeat reports for GPU `gpu` of node number `node`. */
export type UtilOf = (node: number, gpu: number) => number;

export interface ScalePool {
  nodes: number;
  gpusPerNode: number;
  /** Node names, `node-000` …, in registration order. */
  names: string[];
  nodeIds: string[];
  /** One heartbeat from every node; random utilisation unless `util` says otherwise. */
  heartbeat(util?: UtilOf): Promise<void>;
  /** Keeps the nodes alive (a heartbeat every 5 s) until `stopBeating`. */
  startBeating(): void;
  stopBeating(): void;
}

/** Runs `f` over `items`, `width` at a time. */
export async function inParallel<T>(items: readonly T[], width: number, f: (x: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (i < items.length) await f(items[i++]!);
    }),
  );
}

/** Registers the nodes, reports utilisation once, and reserves about two slices (halves and quarters) per GPU. */
export async function fillPool(pool: TestPool, opts: { nodes: number; gpusPerNode: number }): Promise<ScalePool> {
  const names: string[] = [];
  const nodeIds: string[] = [];
  /** Each node's credential, sent with its heartbeats as a real agent does. */
  const credentials: string[] = [];
  for (let n = 0; n < opts.nodes; n++) {
    const name = `node-${String(n).padStart(3, '0')}`;
    const r = await pool.api<{ nodeId: string; credential?: string }>('POST', '/v1/agent/register', {
      name,
      cpuMilli: 128_000,
      memoryMiB: 1_024_000,
      labels: {},
      gpus: simulatedGpus(`${opts.gpusPerNode}xH100`, name),
      simulated: true,
      agentVersion: 'test',
      tasks: [],
    });
    names.push(name);
    nodeIds.push(r.nodeId);
    credentials.push(r.credential ?? '');
  }
  const heartbeat = (util: UtilOf = () => Math.round(Math.random() * 100)) =>
    inParallel(
      nodeIds.map((id, n) => [id, n] as const),
      8,
      ([nodeId, n]) =>
        pool.api(
          'POST',
          '/v1/agent/heartbeat',
          {
            nodeId,
            tasks: [],
            samples: Array.from({ length: opts.gpusPerNode }, (_, gpuIndex) => ({ gpuIndex, utilPercent: util(n, gpuIndex), memoryUsedMiB: 1024 })),
          },
          { [NODE_CREDENTIAL_HEADER]: credentials[n] ?? '' },
        ),
    ).catch(() => {}); // a beat lost while the pool closes after the test: the next beat (or none) is fine
  // One round at a time, 5 s after the last one ended: on a loaded box a round of 100 beats can
  // outlast 5 s, and overlapping rounds (an interval) piled up until the nodes' leases ran out
  // and the page rightly counted them LOST.
  let beat: ReturnType<typeof setTimeout> | null = null;
  let beating = false;
  const stopBeating = () => {
    beating = false;
    if (beat) clearTimeout(beat);
    beat = null;
  };
  const next = (): void => {
    beat = setTimeout(() => {
      void heartbeat().then(() => {
        if (beating) next();
      });
    }, 5_000);
  };
  const startBeating = () => {
    stopBeating();
    beating = true;
    next();
  };
  await heartbeat();
  startBeating();
  const sizes = Array.from({ length: opts.nodes * opts.gpusPerNode * 2 }, (_, i) => (i % 3 === 0 ? 0.25 : 0.5));
  await inParallel(sizes, 8, (gpu) => pool.api('POST', '/v1/vgpus', { gpu }));
  return { nodes: opts.nodes, gpusPerNode: opts.gpusPerNode, names, nodeIds, heartbeat, startBeating, stopBeating };
}

/** What the page recorded for a batch of live updates (ms, one entry per pool render). */
export interface UpdateTimes {
  /** Data in hand → DOM committed. */
  render: number[];
  /** Data in hand → next frame painted. */
  frame: number[];
}

export interface LiveUpdates {
  slices: UpdateTimes;
  utilisation: UpdateTimes;
  /** The utilisation every GPU reported last (so a caller can check the page shows it). */
  lastUtil: UtilOf;
}

const perfOf = (page: Page): Promise<PerfLog> => page.evaluate(() => (window as PageWindow).__fastgpuPerf);
const resetPerf = (page: Page): Promise<void> =>
  page.evaluate(() => {
    const p = (window as PageWindow).__fastgpuPerf;
    p.poolRender.length = 0;
    p.poolFrame.length = 0;
  });
const nextRender = (page: Page, before: number): Promise<unknown> =>
  // A wait for the event, not a bound on its time: one render of 800 GPUs took seconds under load.
  page.waitForFunction((b) => (window as PageWindow).__fastgpuPerf.poolRender.length > b, before, { timeout: 60_000 });

/**
 * Drives live updates into a pool page that is open on `page`: `sliceChanges` slice
 * removals/additions (heartbeats paused so utilisation stays put), then `utilRefreshes` rounds in
 * which every GPU reports a new utilisation. Each step waits for the page's next render. Leaves
 * the heartbeats paused.
 */
export async function driveLiveUpdates(page: Page, pool: TestPool, scale: ScalePool, opts: { sliceChanges: number; utilRefreshes: number; timing?: boolean }): Promise<LiveUpdates> {
  // Timing (the bench): waits for the page's last utilisation refresh (every 5 s) to go through
  // before the slice changes, and for the last frame after each phase, so that each phase's
  // timings are its own. A test counts renders (at least one per change, extra ones allowed)
  // and passes timing: false: it never sleeps.
  const timing = opts.timing ?? true;
  scale.stopBeating();
  if (timing) await page.waitForTimeout(6_000);
  await resetPerf(page);
  const vgpus = (await pool.api<{ vgpus: { id: string; state: string }[] }>('GET', '/v1/vgpus')).vgpus.filter((v) => v.state === 'ACTIVE');
  for (let i = 0; i < opts.sliceChanges; i++) {
    const before = (await perfOf(page)).poolRender.length;
    if (i % 2 === 0) await pool.api('DELETE', `/v1/vgpus/${vgpus[i]!.id}`);
    else await pool.api('POST', '/v1/vgpus', { gpu: 0.25 });
    await nextRender(page, before);
  }
  if (timing) await page.waitForTimeout(300);
  let perf = await perfOf(page);
  const slices = { render: [...perf.poolRender], frame: [...perf.poolFrame] };

  await resetPerf(page);
  let lastUtil: UtilOf = () => 0;
  for (let round = 1; round <= opts.utilRefreshes; round++) {
    const before = (await perfOf(page)).poolRender.length;
    lastUtil = (n, g) => (round * 37 + n * 7 + g * 3) % 101;
    await scale.heartbeat(lastUtil);
    await nextRender(page, before);
  }
  if (timing) await page.waitForTimeout(300);
  perf = await perfOf(page);
  return { slices, utilisation: { render: [...perf.poolRender], frame: [...perf.poolFrame] }, lastUtil };
}

/** Opens `url` in a fresh page of `context` and answers the page's own navigation → interactive time (ms). */
export async function loadToInteractive(context: BrowserContext, url: string): Promise<number> {
  const fresh = await context.newPage();
  try {
    await fresh.goto(url);
    await fresh.waitForFunction(() => (window as Partial<PageWindow>).__fastgpuPerf?.interactive != null, undefined, { timeout: 30_000 });
    return await fresh.evaluate(() => (window as PageWindow).__fastgpuPerf.interactive!);
  } finally {
    await fresh.close();
  }
}

/**
 * Loads `url` in a fresh page and answers what the page showed when it marked itself interactive:
 * the node cards and GPU rows on the page (so "interactive" cannot mean "a spinner").
 */
export async function stateAtInteractive(context: BrowserContext, url: string): Promise<{ ms: number; nodes: number; gpus: number; busy: number }> {
  const fresh = await context.newPage();
  try {
    await fresh.goto(url);
    const h = await fresh.waitForFunction(
      () => {
        const p = (window as Partial<PageWindow>).__fastgpuPerf;
        if (p?.interactive == null) return null;
        return {
          ms: p.interactive,
          nodes: document.querySelectorAll('article.node').length,
          gpus: document.querySelectorAll('li.gpu').length,
          busy: document.querySelectorAll('[aria-busy="true"]').length,
        };
      },
      undefined,
      // Seen at 23 s on a loaded box (a CPU hog per core beside the suite): a wait, not a bound.
      { timeout: 90_000, polling: 'raf' },
    );
    return (await h.jsonValue())!;
  } finally {
    await fresh.close();
  }
}

/** Median, p95 and max of a sample (ms, two decimals). */
export function stats(xs: readonly number[]): { n: number; median: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { n: s.length, median: +at(0.5).toFixed(2), p95: +at(0.95).toFixed(2), max: +(s[s.length - 1] ?? NaN).toFixed(2) };
}
