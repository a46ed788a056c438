// A worker thread of runPublishedParallel (run.ts): runs its share of a published run's seeds,
// each exactly as runPublishedSeed runs it in the caller's thread, and posts their results back.
// workerData: runPublishedSeed's options without `seed` and `now`, and `seeds`, the seeds to run.
// Plain JavaScript so that both the compiled package and the TypeScript sources can start it:
// the simulator is published.js beside it once compiled; in the sources it is published.ts,
// loaded through tsx (a dev dependency), registered here because Node 20 does not hand the
// parent's module hooks to a worker.
import { existsSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';

const compiled = new URL('./published.js', import.meta.url);
const isCompiled = existsSync(compiled);
if (!isCompiled) (await import('tsx/esm/api')).register();
const { runPublishedSeed } = await import(isCompiled ? compiled.href : new URL('./published.ts', import.meta.url).href);

const { seeds, ...options } = workerData;
const now = () => performance.now();
parentPort.postMessage(seeds.map((seed) => runPublishedSeed({ ...options, seed, now })));
