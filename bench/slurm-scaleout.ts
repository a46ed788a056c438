// Unmet demand → a task running on a new Slurm node, on the real local cluster that
// scripts/slurm-up.sh starts (Slurm 22.05, one node with fake GPUs, loopback), through the real
// parts: `fastgpu up --autoscale slurm` as a child process, sbatch, slurmd, the agent job joining
// over HTTP with its join token, and the task's launch. Each run's parts come from the pool's own
// event log (GET /v1/events) and from squeue polled every 50 ms:
//   decision  submit → the autoscaler decided to ask Slurm (its autoscale.requested event, less
//             the time sbatch took); includes --scale-after, the wait that makes demand "unmet"
//   sbatch    → sbatch answered with a job id (the event's requestMs)
//   job start → squeue says RUNNING
//   join      → the agent registered (node.registered)
//   launch    → the task started (task.started)
// `npm run bench:slurm [-- --runs N]`. Root only (it starts Slurm); prints a table.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FastGPU, type PoolEvent } from '../src/sdk/index.js';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..');
const sh = promisify(execFile);
const SLURM_ROOT = join(tmpdir(), 'fastgpu-slurm-bench');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] ?? '') || 5;
/** The autoscaler's wait threshold: demand older than this asks Slurm for a node. */
const SCALE_AFTER = '1s';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function jobs(): Promise<{ id: string; state: string }[]> {
  const { stdout } = await sh('squeue', ['-h', '-o', '%i|%j|%T']);
  return stdout.split('\n').filter((l) => l.includes('|fastgpu-')).map((l) => ({ id: l.split('|')[0]!, state: l.split('|')[2]! }));
}

/** Polls `fn`; gives up after `ms`, or at once when `dead()` says why waiting is pointless. */
async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 120_000, every = 50, dead: () => string | null = () => null): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    const why = dead();
    if (why !== null) throw new Error(`bench: ${why} while waiting for ${what}`);
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(every);
  }
}

/** Every event the pool has recorded so far (the SSE feed replays its history first). */
async function poolEvents(client: FastGPU): Promise<PoolEvent[]> {
  const ac = new AbortController();
  const out: PoolEvent[] = [];
  // The feed stays open for live events: stop once it has been quiet for a moment after the replay.
  let quiet = setTimeout(() => ac.abort(), 1_000);
  try {
    for await (const ev of await client.stream('/v1/events', { after: 0 }, ac.signal)) {
      if (ev.data === '' || ev.event === 'ping') continue;
      out.push(JSON.parse(ev.data) as PoolEvent);
      clearTimeout(quiet);
      quiet = setTimeout(() => ac.abort(), 300);
    }
  } catch (e) {
    if (!ac.signal.aborted) throw e;
  } finally {
    clearTimeout(quiet);
  }
  return out;
}

interface Parts { decision: number; sbatch: number; jobStart: number; join: number; launch: number; total: number }

async function oneRun(): Promise<Parts> {
  const home = mkdtempSync(join(tmpdir(), 'fastgpu-bench-slurm-'));
  const up = spawn(process.execPath, [join(ROOT, 'bin', 'fastgpu'), 'up', '--port', '0', '--data-dir', join(home, 'data'), '--gpus', '1xH100',
    '--autoscale', 'slurm:max=1,simulated-gpus=yes', '--scale-after', SCALE_AFTER, '--idle-timeout', '1h'], { env: { ...process.env, FASTGPU_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => up.once('exit', () => r()));
  let out = '';
  up.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  up.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  // `fastgpu up` gone means nothing will ever come: say so with its own words instead of waiting.
  const dead = (): string | null => (up.exitCode !== null || up.signalCode !== null ? `fastgpu up exited (${up.exitCode ?? up.signalCode}): ${out.trim().slice(-2000)}` : null);
  try {
    await waitFor('fastgpu up', async () => (/FastGPU is up at/.test(out) ? true : undefined), 60_000, 50, dead);
    const client = new FastGPU({ env: { FASTGPU_HOME: home } });
    const submitted = Date.now();
    const { id } = await client.tasks.submit({ name: 'bench', command: ['true'], resources: { gpu: 'A100-80GB:1' } });
    let running = 0;
    await waitFor('the job RUNNING', async () => ((await jobs()).some((j) => j.state === 'RUNNING') ? (running = Date.now()) : undefined), 120_000, 50, dead);
    await waitFor('the task started', async () => ((await client.tasks.get(id)).startedAt !== null ? true : undefined), 120_000, 50, dead);
    const events = await poolEvents(client);
    const at = (type: string, pred: (e: PoolEvent) => boolean): PoolEvent => {
      const e = events.find((x) => x.type === type && pred(x));
      if (e === undefined) throw new Error(`bench: no ${type} event: ${events.map((x) => x.type).join(', ')}`);
      return e;
    };
    const requested = at('autoscale.requested', (e) => Array.isArray(e.data.tasks) && e.data.tasks.includes(id));
    const nodeName = String(requested.data.name);
    const task = await client.tasks.get(id);
    if (task.placement?.node !== nodeName) throw new Error(`bench: the task ran on ${task.placement?.node ?? 'no node'}, not on ${nodeName}, the Slurm node asked for it`);
    const requestMs = Number(requested.data.requestMs);
    const decided = requested.at - requestMs;
    const joined = at('node.registered', (e) => e.data.name === nodeName).at;
    const started = at('task.started', (e) => e.taskId === id).at;
    return {
      decision: decided - submitted,
      sbatch: requestMs,
      jobStart: running - requested.at,
      join: joined - running,
      launch: started - joined,
      total: started - submitted,
    };
  } finally {
    if (dead() === null) up.kill('SIGINT');
    await exited;
    const left = (await jobs()).map((j) => j.id);
    if (left.length > 0) await sh('scancel', left);
    await waitFor('squeue empty', async () => ((await jobs()).length === 0 ? true : undefined), 60_000, 200);
    rmSync(home, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await sh('bash', [join(ROOT, 'scripts', 'slurm-up.sh')], { env: { ...process.env, SLURM_ROOT } });
  try {
    const all: Parts[] = [];
    for (let i = 0; i < runs; i++) all.push(await oneRun());
    const keys = ['decision', 'sbatch', 'jobStart', 'join', 'launch', 'total'] as const;
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`unmet demand → task running on a new Slurm node (${runs} runs, ms; --scale-after ${SCALE_AFTER}; target: total ≤ 10,000)`);
    console.log(['part', 'median', 'min', 'max'].map((h) => h.padEnd(10)).join(''));
    for (const k of keys) {
      const xs = all.map((p) => p[k]);
      console.log([k, med(xs), Math.min(...xs), Math.max(...xs)].map((v) => String(v).padEnd(10)).join(''));
    }
  } finally {
    await sh('bash', [join(ROOT, 'scripts', 'slurm-down.sh')], { env: { ...process.env, SLURM_ROOT } });
  }
}

try {
  await main();
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
}
