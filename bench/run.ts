// `npm run bench`: every issue-2 performance target in one table. Each module measures the real
// code path (HTTP server, SQLite file, agent, supervisor, scheduler) and can also run alone.
// The machine is shared and noisy: read the numbers against their targets, not as exact times.
import { benchLatency } from './latency.js';
import { benchSamples } from './samples.js';
import { benchScheduler } from './scheduler.js';
import { benchServer, type BenchRow } from './server.js';
import { benchStore } from './store.js';
import { benchCycle } from './cycle.js';

const rows: BenchRow[] = [];
const section = async (name: string, f: () => Promise<BenchRow[]>): Promise<void> => {
  process.stderr.write(`bench: ${name}…\n`);
  rows.push(...(await f()));
};

await section('server (submit throughput, RSS with 100,000 tasks)', () => benchServer());
await section('submit → process start', () => benchLatency());
await section('store (SQLite file: inserts, start-up load, memory)', async () =>
  Object.entries(await benchStore()).map(([metric, value]) => ({ name: `store: ${metric}`, value, unit: '', target: '' })),
);
await section('scheduler cycle (pure schedule())', () => benchScheduler());
await section('server cycle (compute, apply, commit) on a mixed pool', () => benchCycle());
await section('utilisation samples (1,000 GPUs, 24 h raw, 7 d minute and 400 d hour rollups)', () => benchSamples());

const w = Math.max(...rows.map((r) => r.name.length));
console.log(`${'metric'.padEnd(w)}  ${'value'.padStart(10)}  ${'unit'.padEnd(8)}  target`);
console.log(`${'-'.repeat(w)}  ${'-'.repeat(10)}  ${'-'.repeat(8)}  ------`);
for (const r of rows) console.log(`${r.name.padEnd(w)}  ${String(r.value).padStart(10)}  ${r.unit.padEnd(8)}  ${r.target}`);
