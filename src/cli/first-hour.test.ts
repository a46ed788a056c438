// The first hour with the CLI (issue 22): what a new user types, against the real server (and
// a real agent on one simulated H100 for the tasks that must run).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConfig } from '../sdk/config.js';
import type { TaskView } from '../sdk/types.js';
import { cliHarness, startPool, type CliHarness, type TestPool } from './testing.js';

let bare: TestPool;
let pool: TestPool;
let home: string;
let cli: CliHarness;
let run: CliHarness;

beforeAll(async () => {
  // A node the size of a small laptop: 2 cores, so default CPU requests must be small to pack.
  [bare, pool] = await Promise.all([startPool(), startPool({ gpus: '1xH100', cpuMilli: 2000 })]);
  home = mkdtempSync(join(tmpdir(), 'fastgpu-first-hour-'));
  cli = cliHarness({ FASTGPU_HOME: home, FASTGPU_URL: bare.url, FASTGPU_TOKEN: bare.token, PATH: '' }, home);
  run = cliHarness({ FASTGPU_HOME: home, FASTGPU_URL: pool.url, FASTGPU_TOKEN: pool.token, PATH: '' }, home);
});

afterAll(async () => {
  await Promise.all([bare?.close(), pool?.close()]);
  rmSync(home, { recursive: true, force: true });
});

async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const gpuOf = async (id: string): Promise<unknown> => (await bare.client.tasks.get(id)).spec.resources.gpu;

describe('every --gpu form the help shows', () => {
  it.each([
    ['{tflops: 20}', { count: 1, share: { kind: 'tflops', tflops: 20 } }],
    ['{"tflops": 20}', { count: 1, share: { kind: 'tflops', tflops: 20 } }],
    ['{memory: 20GiB}', { count: 1, share: { kind: 'memory', memoryMiB: 20 * 1024 } }],
    ['{fraction: 0.5, memory: 10GiB}', { count: 1, share: { kind: 'milli', milli: 500 }, memoryMiB: 10 * 1024 }],
    ['A100:0.5', { count: 1, share: { kind: 'milli', milli: 500 }, model: 'A100-80GB' }],
    ['2xH100', { count: 2, share: { kind: 'milli', milli: 1000 }, model: 'H100-80GB' }],
    ['0.5', { count: 1, share: { kind: 'milli', milli: 500 } }],
  ])('run --gpu %s', async (form, want) => {
    const r = await cli.run(['run', '-d', '--gpu', form, '--', 'true']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await gpuOf(r.stdout.trim())).toEqual(want);
  });

  it('--gpu-memory adds memory to a mapping form', async () => {
    const r = await cli.run(['run', '-d', '--gpu', '{tflops: 20}', '--gpu-memory', '8GiB', '--', 'true']);
    expect(r.code).toBe(0);
    expect(await gpuOf(r.stdout.trim())).toEqual({ count: 1, share: { kind: 'tflops', tflops: 20 }, memoryMiB: 8192 });
  });

  it.each([
    [['--gpu-memory', '10'], 'fastgpu: --gpu-memory: "10" has no unit; write e.g. 10GiB or 10MiB\n'],
    [['--memory', '4096'], 'fastgpu: --memory: "4096" has no unit; write e.g. 4096GiB or 4096MiB\n'],
    [['--gpu', '{tflop: 20}'], /^fastgpu: --gpu: "\{tflop: 20\}": unknown field "tflop" \(did you mean tflops\?\)/],
    [['--gpu', '{memory: 20}'], /^fastgpu: --gpu: "\{memory: 20\}": memory 20 has no unit; write e.g. 20GiB/],
    [['--gpu', '{tflops: 20'], /^fastgpu: --gpu: .*must end with \}/],
  ])('refuses %j naming the flag', async (flags, message) => {
    const r = await cli.run(['run', ...flags, '--', 'true']);
    expect(r.code).toBe(2);
    if (typeof message === 'string') expect(r.stderr).toBe(message);
    else expect(r.stderr).toMatch(message);
  });

  it('says what GPU memory a TFLOPS or fraction share comes with, on run and vgpu create', async () => {
    // At a terminal; a script's stderr gets none of it (below).
    const t = await run.run(['run', '-d', '--gpu', '{tflops: 20}', '--', 'true'], { tty: 200 });
    expect(t.code).toBe(0);
    // 20 / 989 → 21 milli-GPU → 21/1000 of 80 GiB, rounded down: 1720 MiB.
    expect(t.stderr).toBe('fastgpu: 20 TFLOPS is 0.021 of an H100-80GB (989 TFLOPS dense BF16) with 1.68 GiB of GPU memory; set --gpu-memory for more\n');
    expect((await run.run(['run', '-d', '--gpu', '{tflops: 20}', '--', 'true'])).stderr).toBe('');
    const half = await run.run(['run', '-d', '--gpu', '0.5', '--', 'true'], { tty: 200 });
    expect(half.stderr).toBe('fastgpu: 0.5 GPU comes with 40 GiB of GPU memory on an H100-80GB; set --gpu-memory for more\n');
    const named = await run.run(['run', '-d', '--gpu', '0.5', '--gpu-memory', '10GiB', '--', 'true'], { tty: 200 });
    expect(named.stderr).toBe('');
    const spec = join(home, 'slice.yaml');
    writeFileSync(spec, 'command: ["true"]\nresources: {gpu: {tflops: 20}}\n');
    const dry = await run.run(['submit', '--dry-run', spec]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('# 20 TFLOPS is 0.021 of an H100-80GB (989 TFLOPS dense BF16) with 1.68 GiB of GPU memory; set memory in resources.gpu (e.g. {fraction: 0.5, memory: 10GiB}) for more\n');
    const v = await run.run(['vgpu', 'create', '--tflops', '20']);
    expect(v.code).toBe(0);
    // Placed at once, or said of the pool's model while it waits for its placement.
    expect(v.stderr).toMatch(
      /^fastgpu: (v_\w+: 0\.021 of GPU 0 on test-node, with 1\.68 GiB of GPU memory \(in proportion to its share; set --memory for more\)|20 TFLOPS is 0\.021 of an H100-80GB \(989 TFLOPS dense BF16\) with 1\.68 GiB of GPU memory; set --memory for more)\n$/,
    );
    await run.run(['vgpu', 'rm', v.stdout.trim()]);
  });
});

describe('run and wait say what is happening', () => {
  it('prints a spinner with the state and time on a terminal, and a plain line on detach', async () => {
    const r = await cli.run(['run', '--name', 'spin', '--', 'true'], { tty: 200, onStderr: (all, interrupt) => /⠋|⠙|⠹/.test(all) && /Resources/.test(all) && interrupt() });
    expect(r.code).toBe(130);
    // The status line is redrawn in place (\r, clear to end of line), with the elapsed time.
    expect(r.stderr).toMatch(/\r\x1b\[K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] task t_\w+ pending \(Resources: [^\r\n]*\) · \d+s/);
    expect(r.stderr).toMatch(/\nfastgpu: detached; task t_\w+ has not started: it is still pending \(Resources: /);
  });

  it('wait reports the pending reason, and on Ctrl-C says the task never started', async () => {
    const id = (await cli.run(['run', '-d', '--', 'true'])).stdout.trim();
    const r = await cli.run(['wait', id], { onStderr: (all, interrupt) => /pending \(Resources/.test(all) && interrupt() });
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(new RegExp(`^fastgpu: task ${id} pending \\(Resources: `));
    expect(r.stderr).toMatch(new RegExp(`\\nfastgpu: stopped waiting; task ${id} has not started: it is still pending`));
  });

  it('a task that starts at once adds nothing to stderr, so a script sees only its output', async () => {
    const r = await run.run(['run', '--', 'sh', '-c', 'echo out; echo err >&2']);
    expect(r).toEqual({ code: 0, stdout: 'out\n', stderr: 'err\n' });
  });
});

describe('CLI rough edges', () => {
  it('a bare `fastgpu` prints the help and exits 0', async () => {
    const r = await cli.run([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: fastgpu /);
    expect(r.stderr).toBe('');
  });

  it('says when the saved token is for another address', async () => {
    const other = mkdtempSync(join(tmpdir(), 'fastgpu-other-host-'));
    try {
      writeConfig({ url: bare.url, token: bare.token }, { FASTGPU_HOME: other });
      const port = new URL(bare.url).port;
      const r = await cliHarness({ FASTGPU_HOME: other }).run(['ps', '--server', `http://localhost:${port}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `fastgpu: no token was sent: the token \`fastgpu up\` saved is for ${bare.url} and is only sent there, not to http://localhost:${port}; use --server ${bare.url}, or pass --token (or set FASTGPU_TOKEN)\n`,
      );
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('submit takes -f, suggests a misspelt field, and says where broken YAML breaks', async () => {
    const good = join(home, 'good.yaml');
    writeFileSync(good, 'name: from-f\ncommand: ["true"]\n');
    const r = await cli.run(['submit', '-f', good]);
    expect(r.code).toBe(0);
    expect((await bare.client.tasks.get(r.stdout.trim())).name).toBe('from-f');

    const typo = join(home, 'typo.yaml');
    writeFileSync(typo, 'command: ["true"]\npriorty: 70\n');
    const t = await cli.run(['submit', typo]);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/priorty: unknown field "priorty"; did you mean priority\?/);

    const broken = join(home, 'broken.yaml');
    writeFileSync(broken, 'command: [python, train.py\nname: x\n');
    const b = await cli.run(['submit', broken]);
    expect(b.code).toBe(2);
    expect(b.stderr).toBe(`fastgpu: ${broken}: line 2, column 1: malformed YAML/JSON: Flow sequence in block collection must be sufficiently indented and end with a ] (at "name: x")\n`);
    expect((await cli.run(['submit', good, '-f', good])).stderr).toMatch(/give the file once/);
  });

  it('logs --tail and --timestamps; logs -f says the task was cancelled', async () => {
    const id = (await run.run(['run', '-d', '--', 'sh', '-c', 'printf "a\\nb\\nc\\n"'])).stdout.trim();
    await run.run(['wait', id]);
    expect((await run.run(['logs', id, '--tail', '2'])).stdout).toBe('b\nc\n');
    expect((await run.run(['logs', id, '-n', '0'])).stdout).toBe('');
    const ts = (await run.run(['logs', id, '--timestamps'])).stdout;
    expect(ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z a\n\S+Z b\n\S+Z c\n$/);

    const long = (await run.run(['run', '-d', '--', 'sleep', '60'])).stdout.trim();
    await until(async () => (await pool.client.tasks.get(long)).state === 'RUNNING');
    const follow = run.run(['logs', '-f', long]);
    await pool.client.tasks.cancel(long);
    const f = await follow;
    expect(f.code).toBe(0);
    expect(f.stderr).toMatch(new RegExp(`^fastgpu: task ${long} ended CANCELLED`));
  });

  it('cancel --state and --all cancel what is live, and refuse ended states', async () => {
    const ids = [];
    for (let i = 0; i < 2; i++) ids.push((await cli.run(['run', '-d', '--', 'true'])).stdout.trim());
    const r = await cli.run(['cancel', '--state', 'pending']);
    expect(r.code).toBe(0);
    for (const id of ids) expect(r.stdout).toContain(`${id} CANCELLED\n`);
    const more = (await cli.run(['run', '-d', '--', 'true'])).stdout.trim();
    expect((await cli.run(['cancel', '--all'])).stdout).toBe(`${more} CANCELLED\n`);
    expect((await cli.run(['cancel', '--all'])).stderr).toBe('fastgpu: no PENDING/SCHEDULED/RUNNING task to cancel\n');
    expect((await cli.run(['cancel', '--state', 'SUCCEEDED'])).stderr).toMatch(/--state: SUCCEEDED tasks have ended/);
    expect((await cli.run(['cancel'])).code).toBe(2);
    expect((await cli.run(['cancel', more, '--all'])).stderr).toMatch(/not both/);
  });

  it('four 0.25 slices with the default CPU request pack on one GPU of a 2-core node; ps shows request apart from placement', async () => {
    // Earlier tests' tasks and vGPU have left the GPU.
    await until(async () => (await pool.client.gpus())[0]!.allocatedMilli === 0);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await run.run(['run', '-d', '--gpu', '0.25', '--', 'sleep', '60'])).stdout.trim());
    let tasks: TaskView[] = [];
    await until(async () => {
      tasks = await Promise.all(ids.map((id) => pool.client.tasks.get(id)));
      return tasks.every((t) => t.state === 'RUNNING');
    }).catch((e: unknown) => {
      throw new Error(`${String(e)}: ${JSON.stringify(tasks.map((t) => [t.state, t.reason, t.reasonMessage]))}`);
    });
    expect(new Set(tasks.map((t) => t.placement?.gpus.join(',')))).toEqual(new Set(['0']));
    const ps = (await run.run(['ps', '--state', 'RUNNING'])).stdout.split('\n');
    expect(ps[0]).toMatch(/^ID\s+NAME\s+STATE\s+REASON\s+PRI\s+REQUEST\s+PLACED\s+STARTED\s+ENDED\s+AGE$/);
    for (const id of ids) expect(ps.find((l) => l.startsWith(id))).toMatch(/\s0\.25\s+test-node:gpu0\s/);
    await run.run(['cancel', ...ids]);
  });

  it('run --help agrees with the README: a preemption uses no retry', async () => {
    const h = (await cli.run(['run', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(h).toMatch(/--retries <n> times it goes back to the queue when its node is lost \(default 0\); a preempted task is always requeued and uses none/);
  });
});

describe('fastgpu up', () => {
  it('takes --cpus and --memory for its node, and prints commands that work here', async () => {
    const upHome = mkdtempSync(join(tmpdir(), 'fastgpu-up-'));
    try {
      let node: { cpuMilli?: number; memoryMiB?: number } | undefined;
      let limits: (number | undefined)[] = [];
      let failed: unknown;
      const up = cliHarness({ FASTGPU_HOME: upHome, PATH: '' }, join(import.meta.dirname, '..', '..'));
      const r = await up.run(['up', '--port', '0', '--gpus', '1xH100', '--cpus', '3', '--memory', '6GiB', '--default-time-limit', '2h', '-q'], {
        onStdout: (all, interrupt) => {
          if (!all.includes('Ctrl-C stops') || node || failed) return;
          const url = /FastGPU is up at (\S+)/.exec(all)![1]!;
          void (async () => {
            try {
              const { FastGPU } = await import('../sdk/client.js');
              const fg = new FastGPU({ env: { FASTGPU_HOME: upHome } });
              node = (await fg.nodes())[0] as typeof node;
              // The pool's default time limit applies to a task that sets none, not to one that does.
              const untimed = await fg.tasks.submit({ command: ['true'] });
              const timed = await fg.tasks.submit({ command: ['true'], timeLimit: '5m' });
              limits = [untimed.spec.timeLimitMs, timed.spec.timeLimitMs];
              await fg.tasks.wait(untimed.id);
              await fg.tasks.wait(timed.id);
              expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
            } catch (e) {
              failed = e;
            } finally {
              interrupt();
            }
          })();
        },
      });
      expect(failed).toBeUndefined();
      expect(r.code).toBe(0);
      expect(node).toMatchObject({ cpuMilli: 3000, memoryMiB: 6144 });
      expect(limits).toEqual([2 * 3_600_000, 5 * 60_000]);
      // Run from the clone with no fastgpu on PATH: the banner says bin/fastgpu.
      expect(r.stdout).toMatch(/\n {2}bin\/fastgpu run --gpu 0\.5 -- /);
      expect(r.stdout).toMatch(/\n {2}bin\/fastgpu ps\n/);
      expect((await up.run(['up', '--cpus', 'lots'])).stderr).toMatch(/^fastgpu: --cpus: cannot read CPU "lots"/);
      expect((await up.run(['up', '--memory', '8'])).stderr).toBe('fastgpu: --memory: "8" has no unit; write e.g. 8GiB or 8MiB\n');
    } finally {
      rmSync(upHome, { recursive: true, force: true });
    }
  });
});
