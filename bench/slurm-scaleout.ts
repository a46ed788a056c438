// Unmet demand → a task running on a new Slurm node, on the real local cluster that
// scripts/slurm-up.sh starts (Slurm 22.05, one node with fake GPUs, loopback), through the real
// parts: `fastgpu up --autoscale slurm` as a child process, sbatch, slurmd, the agent job joining
// over HTTP, and the task's launch. Each run's parts come from the pool's own records and from
// squeue polled every 50 ms:
//   decision  submit → the autoscaler asks Slurm (the task's ScalingUp event)
//   sbatch    → the job is in squeue
//   job start → squeue says RUNNING
//   join      → the node registered (its registeredAt)
//   launch    → the task started (its started event)
// `npm run bench:slurm [-- --runs N]`. Root only (it starts Slurm); prints a table.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FastGPU } from '../src/sdk/index.js';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..');
const sh = promisify(execFile);
const SLURM_ROOT = join(tmpdir(), 'fastgpu-slurm-bench');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] ?? '') || 5;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function jobs(): Promise<{ id: string; state: string }[]> {
  const { stdout } = await sh('squeue', ['-h', '-o', '%i|%j|%T']);
  return stdout.split('\n').filter((l) => l.includes('|fastgpu-')).map((l) => ({ id: l.split('|')[0]!, state: l.split('|')[2]! }));
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 120_000, every = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(every);
  }
}

interface Parts { decision: number; sbatch: number; jobStart: number; join: number; launch: number; total: number }

async function oneRun(): Promise<Parts> {
  const home = mkdtempSync(join(tmpdir(), 'fastgpu-bench-slurm-'));
  const up = spawn(process.execPath, [join(ROOT, 'bin', 'fastgpu'), 'up', '--port', '0', '--data-dir', join(home, 'data'), '--gpus', '1xH100',
    '--autoscale', 'slurm:max=1,simulated-gpus=yes', '--scale-after', '0s', '--idle-timeout', '1h'], { env: { ...process.env, FASTGPU_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  up.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  up.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  try {
    await waitFor('fastgpu up', async () => (/FastGPU is up at/.test(out) ? true : undefined), 60_000);
    const client = new FastGPU({ env: { FASTGPU_HOME: home } });
    const submitted = Date.now();
    const { id } = await client.tasks.submit({ name: 'bench', command: ['true'], resources: { gpu: 'A100-80GB:1' } });
    const queued = await waitFor('the job in squeue', async () => ((await jobs()).length > 0 ? Date.now() : undefined));
    const running = await waitFor('the job RUNNING', async () => ((await jobs()).some((j) => j.state === 'RUNNING') ? Date.now() : undefined));
    const events = await waitFor('the task started', async () => {
      const all = [];
      for await (const e of client.tasks.eventHistory(id)) all.push(e);
      return all.some((e) => e.type === 'task.started') ? all : undefined;
    });
    const at = (type: string, pred: (d: Record<string, unknown>) => boolean = () => true): number => events.find((e) => e.type === type && pred(e.data))!.at;
    const decided = at('task.pending', (d) => d.reason === 'ScalingUp');
    const node = (await client.nodes()).find((n) => n.name.startsWith('slurm-'))!;
    const joined = Date.parse(node.registeredAt ?? '');
    const started = at('task.started');
    return {
      decision: decided - submitted,
      sbatch: queued - decided,
      jobStart: running - queued,
      join: joined - running,
      launch: started - joined,
      total: started - submitted,
    };
  } finally {
    up.kill('SIGINT');
    await new Promise((r) => up.once('exit', r));
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
    console.log(`unmet demand → task running on a new Slurm node (${runs} runs, ms; target: total ≤ 10,000)`);
    console.log(['part', 'median', 'min', 'max'].map((h) => h.padEnd(10)).join(''));
    for (const k of keys) {
      const xs = all.map((p) => p[k]);
      console.log([k, med(xs), Math.min(...xs), Math.max(...xs)].map((v) => String(v).padEnd(10)).join(''));
    }
  } finally {
    await sh('bash', [join(ROOT, 'scripts', 'slurm-down.sh')], { env: { ...process.env, SLURM_ROOT } });
  }
}

await main();
