// bench/gpu: the workload's arguments, exit codes and output (its CPU path: no GPU here), and a
// dry run of bench/gpu/run.sh through the whole flow (recorded H100 nvidia-smi, fake MPS control
// program, bin/fastgpu), so a device's minutes are not spent on a typo.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, requireBuild } from '../e2e/harness.js';

const WL = join(ROOT, 'bench', 'gpu', 'workload.py');
const work = mkdtempSync(join(tmpdir(), 'fastgpu-gpu-bench-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Result {
  mode: string;
  role: string;
  outcome: string;
  pid: number;
  sid: number;
  [k: string]: unknown;
}

/** Runs the workload without blocking the worker (a vitest worker blocked a minute loses touch with vitest). */
async function workload(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; results: Result[]; stderr: string }> {
  const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile('python3', [WL, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null;
      resolve({ status: code, stdout, stderr });
    });
  });
  const results = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('WORKLOAD_RESULT '))
    .map((l) => JSON.parse(l.slice('WORKLOAD_RESULT '.length)) as Result);
  return { code: r.status, results, stderr: r.stderr };
}

const hasTorch = spawnSync('python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

describe('bench/gpu/workload.py', () => {
  it('matmul: reports TFLOPS and peak memory, then exits 0', async () => {
    const r = await workload(['--backend', 'cpu', '--duration', '0.2', '--size', '16']);
    expect(r.code).toBe(0);
    expect(r.results).toHaveLength(1);
    expect(r.results[0]).toMatchObject({ mode: 'matmul', role: 'main', outcome: 'DONE', backend: 'cpu', simulated: true, size: 16 });
    expect(r.results[0]!.tflops).toBeGreaterThan(0);
    expect(r.results[0]!.peak_mib).toBeGreaterThan(0);
    expect(r.results[0]!.iters).toBeGreaterThan(0);
  });

  it('oom: allocating past the cap fails with an out-of-memory outcome (exit 0 = the cap held)', async () => {
    const r = await workload(['--backend', 'cpu', '--mode', 'oom', '--chunk-mib', '4'], { FASTGPU_GPU_MEMORY_MIB: '32' });
    expect(r.code).toBe(0);
    expect(r.results[0]).toMatchObject({ outcome: 'CUDA_OOM', cap_mib: 32, allocated_mib: 32, target_mib: 40 });
    expect(String(r.results[0]!.error)).toMatch(/out of memory/);
  });

  it('oom-tree: the child and its setsid grandchild (own session) each hit the cap', async () => {
    const r = await workload(['--backend', 'cpu', '--mode', 'oom-tree', '--cap-mib', '16', '--chunk-mib', '4']);
    expect(r.code).toBe(0);
    const by = Object.fromEntries(r.results.map((x) => [x.role, x]));
    expect(by.child).toMatchObject({ outcome: 'CUDA_OOM' });
    expect(by.grandchild).toMatchObject({ outcome: 'CUDA_OOM' });
    expect(by.main).toMatchObject({ outcome: 'TREE_DONE', child_exit: 0 });
    expect(by.grandchild!.sid).toBe(by.grandchild!.pid);
    expect(by.grandchild!.sid).not.toBe(by.child!.sid);
  });

  it('share-tree: child and grandchild each hold a share of the cap at once', async () => {
    const r = await workload(['--backend', 'cpu', '--mode', 'share-tree', '--cap-mib', '16', '--hold-fraction', '0.5', '--hold-seconds', '0.1']);
    expect(r.code).toBe(0);
    expect(r.results.filter((x) => x.outcome === 'HELD').map((x) => x.role).sort()).toEqual(['child', 'grandchild']);
  });

  it('names the bad argument, and exits 2', async () => {
    for (const [args, msg] of [
      [['--mode', 'oom'], /needs a cap: --cap-mib, or FASTGPU_GPU_MEMORY_MIB/],
      [['--duration', '0'], /--duration must be in \(0, 3600\]/],
      [['--past', '0.5', '--cap-mib', '8', '--mode', 'oom'], /--past must be more than 1/],
      [['--mode', 'explode'], /invalid choice: 'explode'/],
    ] as const) {
      const r = await workload([...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
  });

  it.runIf(!hasTorch)('--backend cuda without torch: NO_GPU, exit 13', async () => {
    const r = await workload(['--backend', 'cuda', '--duration', '0.1']);
    expect(r.code).toBe(13);
    expect(r.results[0]).toMatchObject({ outcome: 'NO_GPU' });
    expect(String(r.results[0]!.error)).toMatch(/torch is not importable/);
  });
});

describe('bench/gpu/run.sh --dry-run', () => {
  beforeAll(requireBuild);

  it('runs the whole flow and prints the table', async () => {
    const out = join(work, 'out');
    // Asynchronously: a worker blocked this long loses touch with vitest.
    const { stdout: log } = await promisify(execFile)(join(ROOT, 'bench', 'gpu', 'run.sh'), ['--dry-run', '--fastgpu', join(ROOT, 'bin', 'fastgpu'), '--duration', '0.3'], {
      encoding: 'utf8',
      env: { ...process.env, OUT: out },
      timeout: 170_000,
      maxBuffer: 16 << 20,
    });
    const table = readFileSync(join(out, 'table.md'), 'utf8');
    expect(log).toContain(table.trim().split('\n')[0]);
    expect(table).toContain('DRY RUN: no GPU');
    // Every measurement ran (a number or an outcome, not "did not run" / "skipped").
    expect(table).not.toMatch(/did not run|skipped|not measured/);
    expect(table).toMatch(/\| overhead of a 1\.0 slice against bare \| [-+]\d+\.\d\d % \| < 2 % \|/);
    expect(table).toMatch(/\| two 0\.5 slices at once vs one after the other \(n=16\) \| .* = \d+\.\d\d× /);
    expect(table).toMatch(/\| slice 0\.25: achieved share of the 1\.0 slice \| \d\.\d{3} /);
    expect(table).toContain('| memory cap 64 MiB: the task allocating past it | CUDA OOM after 64 MiB | fails cleanly | met |');
    expect(table).toContain('child: CUDA_OOM at 64 MiB, grandchild: CUDA_OOM at 64 MiB | each fails cleanly | met |');
    expect(table).toContain('| nvidia-smi discovery: UUID | GPU-3f2b6c1e-9d84-5a27-b1c0-7e4d2a96f851 (same as nvidia-smi -q) | equal | met |');
    expect(table).toContain('| nvidia-smi discovery: memory | 81559 MiB (nvidia-smi -q: 81559 MiB) | equal | met |');
    expect(table).toMatch(/\| MPS daemon health in the node view \| \{"state": "ok", "restarts": 0/);
    expect(table).toContain('| MPS daemon stopped when FastGPU stopped | yes | yes | met |');
    const results = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n');
    expect(results.length).toBeGreaterThanOrEqual(17);
  }, 180_000);
});
