// runPublishedParallel: seeds spread over worker threads give the very summary of the same seeds
// run one after another. Workers cannot load TypeScript through Vitest's transform, so the
// parallel run happens in a child process under tsx (as `npm run bench:placement` runs it); the
// sequential one here.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runPublished, runPublishedParallel, type PublishedSummary } from './run.js';
import { loadNodes, loadPods } from './trace.js';

const fixture = (f: string) => fileURLToPath(new URL(`./fixtures/${f}`, import.meta.url));
const run = fileURLToPath(new URL('./run.ts', import.meta.url));
const trace = fileURLToPath(new URL('./trace.ts', import.meta.url));
const seeds = [42, 43, 44, 45, 46];

/** What must not depend on how the seeds were run (not the wall time or the decision rates). */
const outcome = (s: PublishedSummary) => ({ allocation: s.allocation, fragmentation: s.fragmentation, curve: s.curve, pods: s.pods, placed: s.placed, failed: s.failed, seeds: s.seeds });

describe('runPublishedParallel', () => {
  it('gives the summary of the seeds run one by one, from worker threads', () => {
    const nodes = loadNodes(fixture('nodes-small.csv'));
    const pods = loadPods(fixture('pods-full.csv'));
    const one = runPublished({ workload: 'f', nodes, pods, policy: 'default', seeds, tune: 1.3, now: () => 0 });
    // Three threads for five seeds: uneven shares, results put back in seed order.
    const script = `
      const { runPublishedParallel } = await import(${JSON.stringify(run)});
      const { loadNodes, loadPods } = await import(${JSON.stringify(trace)});
      let workers = 0;
      process.on('worker', () => workers++);
      const s = await runPublishedParallel({ workload: 'f', nodes: loadNodes(${JSON.stringify(fixture('nodes-small.csv'))}), pods: loadPods(${JSON.stringify(fixture('pods-full.csv'))}), policy: 'default', seeds: ${JSON.stringify(seeds)}, tune: 1.3, now: () => 0 }, 3);
      process.stdout.write(JSON.stringify({ s, workers }));`;
    const dir = mkdtempSync(join(tmpdir(), 'fastgpu-sim-parallel-'));
    let out: string;
    try {
      writeFileSync(join(dir, 'run.mjs'), script);
      out = execFileSync(process.execPath, ['--import', 'tsx', join(dir, 'run.mjs')], { encoding: 'utf8', timeout: 120_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const { s, workers } = JSON.parse(out) as { s: PublishedSummary; workers: number };
    expect(workers).toBe(3);
    expect(outcome(s)).toEqual(outcome(one));
    expect(s.placed).toBeGreaterThan(0);
  });

  it('runs in this thread where no worker can load the simulator (here: Vitest), with the same answer', async () => {
    const nodes = loadNodes(fixture('nodes-small.csv'));
    const pods = loadPods(fixture('pods-full.csv'));
    const one = runPublished({ workload: 'f', nodes, pods, policy: 'fgd', seeds: [42, 43], tune: 1.3, now: () => 0 });
    const par = await runPublishedParallel({ workload: 'f', nodes, pods, policy: 'fgd', seeds: [42, 43], tune: 1.3, now: () => 0 }, 2);
    expect(outcome(par)).toEqual(outcome(one));
  });
});
