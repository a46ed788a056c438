// The self-contained bundle (scripts/bundle.mjs) works where nothing else is: built once (fast
// compression), unpacked into an empty folder, run with a PATH that has no Node.js and no
// node_modules anywhere above it, it starts `up` on simulated GPUs and runs a task.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, ROOT } from './harness.js';

const work = mkdtempSync(join(tmpdir(), 'fastgpu-bundle-'));
const tarball = join(work, 'fastgpu-bundle.tar.xz');
const unpacked = join(work, 'empty');
const home = join(work, 'home');
const bin = join(unpacked, 'fastgpu', 'bin', 'fastgpu');
let up: Daemon | undefined;

/** A PATH folder with every program of /usr/bin except Node.js and npm: the bundle brings its own. */
function pathWithoutNode(): string {
  const dir = join(work, 'path');
  mkdirSync(dir);
  for (const name of readdirSync('/usr/bin')) {
    if (/^(node|nodejs|npm|npx|corepack)$/.test(name)) continue;
    symlinkSync(join('/usr/bin', name), join(dir, name));
  }
  return dir;
}

let env: NodeJS.ProcessEnv;

/** Runs the bundled CLI without blocking the worker (a blocked vitest worker loses touch with vitest). */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(bin, args, { env, cwd: work, encoding: 'utf8', timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout: string; stderr: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'web', 'index.html'))) throw new Error('dist/web is missing: run `npm run build` before this test');
  // Asynchronously: a worker blocked this long loses touch with vitest.
  await promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs'), '--level', '0', '--out', tarball, '--stage', join(work, 'stage')], { timeout: 170_000 });
  rmSync(join(work, 'stage'), { recursive: true, force: true });
  mkdirSync(unpacked);
  await promisify(execFile)('tar', ['-xJf', tarball, '-C', unpacked], { timeout: 60_000 });
  env = { PATH: pathWithoutNode(), HOME: home, FASTGPU_HOME: home, LANG: 'C.UTF-8' };
}, 180_000);

afterAll(async () => {
  if (up?.alive) {
    up.child.kill('SIGTERM');
    await up.exited;
  }
  rmSync(work, { recursive: true, force: true });
});

describe('the self-contained bundle', () => {
  it('is one compressed file that fits the device limit beside the repo', () => {
    // Level 0 here for speed; `npm run bundle` compresses harder (the README gives its size).
    expect(statSync(tarball).size).toBeLessThan(60 * 1024 * 1024);
    expect(existsSync(join(unpacked, 'fastgpu', 'bin', 'node'))).toBe(true);
  });

  it('runs with no Node.js on PATH and no node_modules above it', async () => {
    expect(execFileSync('sh', ['-c', 'command -v node || echo none'], { env, encoding: 'utf8' }).trim()).toBe('none');
    const v = await cli(['--version']);
    expect(v.stderr).toBe('');
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('starts `up` on simulated GPUs and runs a task through the bundled CLI', async () => {
    const child = spawn(bin, ['up', '--port', '0', '--gpus', '1xH100', '--name', 'bundled'], { env, cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    up = new Daemon(child);
    await up.waitFor(/FastGPU is up at (http:\/\/127\.0\.0\.1:\d+)/, 30_000);

    const run = await cli(['run', '--gpu', '0.5', '--', 'sh', '-c', 'echo "slice $FASTGPU_GPU_MILLI on $CUDA_VISIBLE_DEVICES"; exit 3']);
    expect(run.stdout).toContain('slice 500 on 0');
    expect(run.code).toBe(3);

    const gpus = await cli(['gpus']);
    expect(gpus.code).toBe(0);
    expect(gpus.stdout).toMatch(/bundled\s+0\s+H100-80GB/);
    // The dashboard's assets travelled too.
    const url = /FastGPU is up at (\S+)/.exec(up.output)![1]!;
    const page = await fetch(url + '/');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<!doctype html>');
  });
});
