// Elastic pool benchmark (issue 12): the openb default trace replayed at its own pace on a pool the
// autoscaler grows and shrinks, against a fixed pool sized for the peak (the nodes a replay on the
// whole node list used). One fixed replay, then one elastic replay per setting; prints a table of
// node-hours, waits and tasks that waited. The target: ≥ 40 % fewer node-hours at ≤ 10 % more mean
// wait. `[FIXED_CACHE=file] npm run bench:elastic [-- SETTING …]`, a setting being `key=value,…` over boot, threshold,
// idle, cooldown, spare, nodes (spare whole nodes), forecast, window (seconds, GPUs, factor), e.g. `spare=8,forecast=1`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { compareElastic, elasticSettings, fixedBaseline, type ElasticOptions, type FixedBaseline, type PoolRun } from '../src/sim/elastic.js';
import { loadNodes, loadPodList } from '../src/sim/trace.js';

const PODS = process.env.PODS ?? 'data/openb/openb_pod_list_default.csv';
const NODES = process.env.NODES ?? 'data/openb/openb_node_list_gpu_node.csv';
const DEFAULT_SETTINGS = ['', 'spare=8', 'spare=16', 'forecast=1', 'spare=8,forecast=1', 'spare=16,forecast=2'];

const KEYS: Record<string, keyof ElasticOptions> = {
  boot: 'bootSeconds',
  threshold: 'pendingThresholdSeconds',
  idle: 'idleTimeoutSeconds',
  cooldown: 'cooldownSeconds',
  spare: 'spareGpus',
  nodes: 'spareNodes',
  forecast: 'forecastFactor',
  window: 'forecastWindowSeconds',
};

function parseSetting(text: string): Partial<ElasticOptions> {
  const out: Record<string, number> = {};
  for (const part of text.split(',').filter((p) => p !== '')) {
    const [k, v] = part.split('=');
    const key = KEYS[k ?? ''];
    const n = Number(v);
    if (key === undefined || !Number.isFinite(n) || n < 0) throw new Error(`bad setting ${JSON.stringify(part)}: expected one of ${Object.keys(KEYS).join(', ')} = a number ≥ 0`);
    out[key] = n;
  }
  return out as Partial<ElasticOptions>;
}

const settings = process.argv.slice(2).length > 0 ? process.argv.slice(2) : DEFAULT_SETTINGS;
const parsed = settings.map((s) => ({ label: s === '' ? 'no headroom' : s, over: parseSetting(s) }));
const { pods } = loadPodList(PODS);
const base: ElasticOptions = { workload: 'openb_pod_list_default', nodes: loadNodes(NODES), pods, policy: 'default', seed: 42 };
const now = () => performance.now();

console.log(`elastic pool vs fixed pool · ${PODS} at its own pace · ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(1)}`);
const t0 = now();
// The fixed replays do not depend on the autoscaler's settings: FIXED_CACHE=file keeps them between runs.
const cache = process.env.FIXED_CACHE;
const key = `${PODS}|${NODES}`;
const cached = cache !== undefined && existsSync(cache) ? (JSON.parse(readFileSync(cache, 'utf8')) as { key: string; fixed: FixedBaseline }) : null;
const fixed = cached !== null && cached.key === key ? cached.fixed : fixedBaseline(base);
if (cache !== undefined && cached?.key !== key) writeFileSync(cache, JSON.stringify({ key, fixed }));
const from = cached?.key === key ? `read from ${cache}` : `${((now() - t0) / 1000).toFixed(0)} s`;
console.log(`fixed pool sized for the peak: ${fixed.nodes} nodes (those a replay on the whole ${base.nodes.length}-node list used) · ${from}`);
const head = `${'pool'.padEnd(24)}${'node-hours'.padStart(12)}${'saved'.padStart(8)}${'cost'.padStart(12)}${'wait mean'.padStart(11)}${'p95'.padStart(8)}${'p99'.padStart(8)}${'waited'.padStart(8)}${'peak'.padStart(6)}${'asked'.padStart(7)}`;
const row = (label: string, r: PoolRun, saved: string, asked: string) =>
  `${label.padEnd(24)}${r.nodeHours.toFixed(0).padStart(12)}${saved.padStart(8)}${r.cost.replace(/\.\d+$/, '').padStart(12)}${(r.waitSeconds.mean.toFixed(2) + ' s').padStart(11)}${String(r.waitSeconds.p95).padStart(8)}${String(r.waitSeconds.p99).padStart(8)}${String(r.waited).padStart(8)}${String(r.peakNodes).padStart(6)}${asked.padStart(7)}`;
const lines = [head, row(`fixed (${fixed.nodes} nodes)`, fixed.run, '', '')];
console.log(lines.join('\n'));
for (const s of parsed) {
  const r = compareElastic({ ...base, ...s.over }, fixed, now);
  const line = row(s.label, r.elastic, `${r.nodeHoursSavedPct.toFixed(1)} %`, String(r.elastic.scaleOuts));
  lines.push(line);
  console.log(`${line}   (${r.wallSeconds.toFixed(0)} s)`);
}
const a = elasticSettings(base);
console.log(`\nboot ${a.bootSeconds} s, threshold ${a.pendingThresholdSeconds} s, idle ${a.idleTimeoutSeconds} s, cool-down ${a.cooldownSeconds} s unless a setting says; waits in seconds over ${fixed.run.placed} placed pods; "waited": pods that started after they arrived; cost at a flat 2.00 per GPU-hour (GPU-hours × 2), since a node-hour of an 8-GPU node and of a 1-GPU node count the same.`);
