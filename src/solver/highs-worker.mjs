// The solver thread of HighsThreadSolver (highs.ts): it loads HiGHS, warms it up, and then
// answers one solve at a time. The server's thread waits for an answer only up to its budget and
// stops this thread when it runs over, which HiGHS's own time limit cannot promise.
//
// workerData: `flags` (an Int32Array on shared memory: [0] the id of the last solve answered,
// [1] 1 once ready) and `port`, where solves come in and answers go out:
// { id, problem, timeLimitMs } → { id, out } (out: a MilpOutcome). To its parent it says
// { ready: true } once warmed up, or { loadError } when HiGHS could not load (and then ends).
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { loadHighs, solveMilp, warmUp } from './highs-solve.mjs';

const { flags, port } = workerData;
const now = () => performance.now();
let highs;
try {
  highs = await loadHighs();
  warmUp(highs, now);
  // Ready only once this thread's event loop is free: right after the first solves it stays busy
  // for a while (about 2 s here; WebAssembly work V8 queued), and a solve posted then would wait.
  await new Promise((resolve) => setTimeout(resolve, 0));
  Atomics.store(flags, 1, 1);
  parentPort.postMessage({ ready: true });
} catch (e) {
  highs = undefined;
  parentPort.postMessage({ loadError: e instanceof Error ? e.message : String(e) });
  port.close();
}
if (highs !== undefined) {
  port.on('message', ({ id, problem, timeLimitMs }) => {
    const out = solveMilp(highs, problem, timeLimitMs, now);
    // A copy of the solution in a buffer of its own (moved, not cloned: the original may view
    // HiGHS's memory). The answer first, then the flag the waiting thread wakes on: once it
    // wakes, the answer is there.
    const x = out.x ? out.x.slice() : null;
    port.postMessage({ id, out: { ...out, x } }, x ? [x.buffer] : []);
    Atomics.store(flags, 0, id);
    Atomics.notify(flags, 0);
  });
}
