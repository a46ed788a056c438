// The solver thread: the same answers as HiGHS in this thread, and a hard limit that holds even
// when the solver does not stop (a thread that answers only when the test opens a gate stands in
// for a HiGHS overrun).
import { afterEach, describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HighsThreadSolver, loadHighsSolver, startHighsThreadSolver } from './highs.js';
import { knapsack } from './highs-solve.mjs';
import { tempDir, waitFor } from '../agent/fixtures/helpers.js';

const solvers: HighsThreadSolver[] = [];
afterEach(async () => {
  for (const s of solvers.splice(0)) await s.close();
});

describe('HighsThreadSolver', () => {
  it('answers as HiGHS in this thread does, solve after solve', async () => {
    const thread = await startHighsThreadSolver();
    solvers.push(thread);
    const inline = await loadHighsSolver();
    for (const n of [8, 16, 24]) {
      const a = thread.solve(knapsack(n), 10_000);
      const b = inline.solve(knapsack(n), 10_000);
      expect(a.status).toBe('optimal');
      expect(a.status).toBe(b.status);
      expect([...a.x!]).toEqual([...b.x!]);
    }
    expect(thread.stats).toEqual({ solves: 3, overran: 0, refused: 0, restarts: 0 });
  });

  it('gives a solve up at its limit, refuses solves while the thread is on it, and uses the thread again once it is done', async () => {
    // A thread that answers only while the gate file exists: closed, a solve overruns for ever.
    const dir = tempDir();
    const file = join(dir.dir, 'gated-worker.mjs');
    const gate = join(dir.dir, 'gate');
    writeFileSync(
      file,
      `import { existsSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
const { flags, port } = workerData;
const nap = new Int32Array(new SharedArrayBuffer(4));
Atomics.store(flags, 1, 1);
parentPort.postMessage({ ready: true });
port.on('message', ({ id }) => {
  while (!existsSync(${JSON.stringify(gate)})) Atomics.wait(nap, 0, 0, 10);
  port.postMessage({ id, out: { status: 'optimal', x: Float64Array.of(id), solveMs: 0 } });
  Atomics.store(flags, 0, id);
  Atomics.notify(flags, 0);
});
`,
    );
    // The limit is on the injected clock, which each look at it moves on 50 ms.
    let t = 0;
    const s = new HighsThreadSolver(() => (t += 50), pathToFileURL(file));
    solvers.push(s);
    await s.ready();
    const given = s.solve(knapsack(8), 200);
    expect(given).toMatchObject({ status: 'limit', x: null, message: expect.stringMatching(/no answer within its 200 ms limit/) });
    expect(s.solve(knapsack(8), 200)).toMatchObject({ status: 'error', x: null, message: expect.stringMatching(/still on a solve that ran over its limit/) });
    // The solve finishes late: its answer is dropped, and the next solve gets its own.
    writeFileSync(gate, '');
    const next = await waitFor(() => {
      const out = s.solve(knapsack(8), 5_000);
      return out.status === 'error' ? undefined : out;
    }, 10_000, 'the thread free again');
    expect(next.status).toBe('optimal');
    expect(next.x![0]).toBeGreaterThan(1); // its own id, not the late answer to solve 1
    expect(s.stats).toMatchObject({ overran: 1, restarts: 0 });
    expect(s.stats.refused).toBe(s.stats.solves - 2);

    // One that runs on far past its limit: its thread is ended, and a fresh one started.
    rmSync(gate);
    expect(s.solve(knapsack(8), 200)).toMatchObject({ status: 'limit', x: null });
    t += 200 * 10;
    expect(s.solve(knapsack(8), 200)).toMatchObject({ status: 'error', x: null, message: expect.stringMatching(/last one ran far over its limit and was ended/) });
    expect(s.stats).toMatchObject({ overran: 2, restarts: 1 });
    await s.ready();
    writeFileSync(gate, '');
    expect(s.solve(knapsack(8), 5_000)).toMatchObject({ status: 'optimal' });
    dir.cleanup();
  });

  it('says why when HiGHS cannot load', async () => {
    const dir = tempDir();
    const file = join(dir.dir, 'broken-worker.mjs');
    writeFileSync(file, `import { parentPort } from 'node:worker_threads';\nparentPort.postMessage({ loadError: 'no WebAssembly here' });\n`);
    const s = new HighsThreadSolver(undefined, pathToFileURL(file));
    solvers.push(s);
    await expect(s.ready()).rejects.toThrow(/could not load HiGHS: no WebAssembly here/);
    expect(s.solve(knapsack(8), 200)).toMatchObject({ status: 'error', x: null });
    dir.cleanup();
  });
});
