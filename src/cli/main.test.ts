// The CLI in-process against the real server: `bare` has no agent (its tasks stay PENDING),
// `pool` has a real agent on one simulated H100 (its tasks run as real processes).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../sdk/types.js';
import { openStore } from '../store/index.js';
import { cliHarness, startPool, type CliHarness, type TestPool } from './testing.js';

let bare: TestPool;
let pool: TestPool;
let home: string;
/** The CLI pointed at `bare`, and at `pool`. */
let cli: CliHarness;
let run: CliHarness;

beforeAll(async () => {
  [bare, pool] = await Promise.all([startPool(), startPool({ gpus: '1xH100' })]);
  home = mkdtempSync(join(tmpdir(), 'fastgpu-cli-'));
  cli = cliHarness({ FASTGPU_HOME: home, FASTGPU_URL: bare.url, FASTGPU_TOKEN: bare.token, PATH: '' }, home);
  run = cliHarness({ FASTGPU_HOME: home, FASTGPU_URL: pool.url, FASTGPU_TOKEN: pool.token, PATH: '' }, home);
});

afterAll(async () => {
  await Promise.all([bare?.close(), pool?.close()]);
  rmSync(home, { recursive: true, force: true });
});

let n = 0;
const unique = (what: string): string => `${what}-${++n}`;

/** The one task of `p` named `name`, once it exists. */
async function named(p: TestPool, name: string): Promise<TaskView> {
  let found: TaskView | undefined;
  await until(async () => (found = (await p.client.tasks.list({ name, all: true }))[0]) !== undefined);
  return found!;
}

/** What the server holds: the spec of a task (as the server normalised it). */
const specOf = async (p: TestPool, id: string): Promise<Record<string, unknown>> => (await p.client.tasks.get(id)).spec as unknown as Record<string, unknown>;

/** Runs `f` and says whether the number of tasks in `p` stayed the same. */
async function createsNothing(p: TestPool, f: () => Promise<void>): Promise<boolean> {
  const before = (await p.allTasks()).length;
  await f();
  return (await p.allTasks()).length === before;
}

describe('fastgpu (usage)', () => {
  it('prints help and version with exit 0', async () => {
    const help = await cli.run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/fastgpu run --gpu 0\.5 -- python train\.py/);
    expect((await cli.run(['run', '--help'])).stdout).toMatch(/Usage: fastgpu run \[flags\] -- CMD/);
    expect(help.stdout).toMatch(/\n  sim /);
    expect((await cli.run(['--version'])).stdout.trim()).toBe('0.1.0');
  });

  it('gives one line and exit 2 for unknown commands and options', async () => {
    const r = await cli.run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^fastgpu: unknown command 'frobnicate'/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const o = await cli.run(['ps', '--bogus']);
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/^fastgpu: unknown option '--bogus'/);
  });

  it('says how to configure a server when none is', async () => {
    const none = mkdtempSync(join(tmpdir(), 'fastgpu-cli-none-'));
    try {
      const r = await cliHarness({ FASTGPU_HOME: none }).run(['ps']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('fastgpu: no FastGPU server configured: run `fastgpu up` or pass --server/--token (or set FASTGPU_URL/FASTGPU_TOKEN)\n');
    } finally {
      rmSync(none, { recursive: true, force: true });
    }
  });

  it('reads the config `up` saved', async () => {
    const saved = mkdtempSync(join(tmpdir(), 'fastgpu-cli-saved-'));
    try {
      writeFileSync(join(saved, 'config.json'), JSON.stringify({ url: bare.url, token: bare.token }), { mode: 0o600 });
      const name = unique('saved');
      await bare.client.tasks.submit({ name, command: 'true' });
      const r = await cliHarness({ FASTGPU_HOME: saved }).run(['ps', '--output', 'json']);
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as TaskView[]).filter((t) => t.name === name)).toHaveLength(1);
    } finally {
      rmSync(saved, { recursive: true, force: true });
    }
  });

  it('names the token problem on 401', async () => {
    const r = await cli.run(['ps', '--token', 'wrong']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^fastgpu: .*token.* \(pass --token/);
  });
  it('refuses a bad sample retention on `up` and `server`, naming the flag, before starting anything', async () => {
    const dataDir = join(home, unique('never-created'));
    const up = await cli.run(['up', '--data-dir', dataDir, '--samples-raw', 'a while']);
    expect(up.code).toBe(2);
    expect(up.stderr).toMatch(/^fastgpu: --samples-raw: cannot read duration "a while"/);
    const server = await cli.run(['server', '--data-dir', dataDir, '--samples-hour', '2d']);
    expect(server.code).toBe(2);
    expect(server.stderr).toBe('fastgpu: --samples-hour: 2d is shorter than minute rollups are kept (--samples-minute 7d); hour rollups must be kept at least as long\n');
    expect(existsSync(dataDir)).toBe(false);
    expect((await cli.run(['server', '--help'])).stdout).toMatch(/--samples-raw <duration>\s+keep raw GPU utilisation samples this long\s+\(default 24h\)/);
  });
});

describe('fastgpu run', () => {
  it('builds the spec from flags and prints the id with --detach', async () => {
    const r = await cli.run([
      'run', '--gpu', '0.5', '--gpu-memory', '20GiB', '--memory', '4GiB', '--cpu', '2', '--priority', '70', '--name', 'train',
      '--time-limit', '2h', '--retries', '1', '--preemptible', '--env', 'A=1', '--env', 'B=x=y', '--workdir', '/w', '--detach',
      '--', 'python', 'train.py', '--epochs', '3',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^t_\w+\n$/);
    expect(await specOf(bare, r.stdout.trim())).toMatchObject({
      command: ['python', 'train.py', '--epochs', '3'],
      resources: { gpu: { count: 1, share: { kind: 'milli', milli: 500 }, memoryMiB: 20 * 1024 }, memoryMiB: 4096, cpuMilli: 2000 },
      priority: 70,
      name: 'train',
      timeLimitMs: 2 * 3600_000,
      retries: 1,
      preemptible: true,
      env: { A: '1', B: 'x=y' },
      workdir: '/w',
    });
  });

  it('passes options after the command through to it, and defaults the workdir here for a local server', async () => {
    const r = await cli.run(['run', '-d', 'echo', '--not-ours', 'x']);
    expect(r.code).toBe(0);
    expect(await specOf(bare, r.stdout.trim())).toMatchObject({ command: ['echo', '--not-ours', 'x'], workdir: home });
    // Several servers in FASTGPU_URL, all on this machine: the same (it once failed: "Invalid URL").
    const two = cliHarness({ FASTGPU_HOME: home, FASTGPU_URL: `${bare.url},${bare.url.replace('127.0.0.1', 'localhost')}`, FASTGPU_TOKEN: bare.token, PATH: '' }, home);
    const r2 = await two.run(['run', '-d', 'echo', 'y']);
    expect(r2.stderr).toBe('');
    expect(await specOf(bare, r2.stdout.trim())).toMatchObject({ command: ['echo', 'y'], workdir: home });
  });

  it.each([
    [['--gpu', '-1'], /^fastgpu: --gpu: "-1" must be a positive number/],
    [['--gpu', 'NaN'], /^fastgpu: --gpu: "NaN" must be a positive number/],
    [['--gpu', '1.5'], /^fastgpu: --gpu: "1.5": more than one GPU must be a whole number/],
    [['--memory', 'lots'], /^fastgpu: --memory: cannot read size "lots"/],
    [['--memory', '0GiB'], /^fastgpu: --memory: size "0GiB" must be positive/],
    [['--memory', '9999TiB'], /^fastgpu: --memory: .*larger than/],
    [['--cpu', '-2'], /^fastgpu: --cpu: /],
    [['--priority', '101'], /^fastgpu: --priority: "101" is not a whole number from 0 to 100/],
    [['--priority', '5.5'], /^fastgpu: --priority: /],
    [['--time-limit', 'soon'], /^fastgpu: --time-limit: cannot read duration "soon"/],
    [['--retries', '-1'], /^fastgpu: --retries: /],
    [['--env', 'NOEQUALS'], /^fastgpu: --env: "NOEQUALS" is not KEY=VALUE/],
  ])('refuses %j naming the flag, exit 2, nothing submitted', async (flags, message) => {
    expect(
      await createsNothing(bare, async () => {
        const r = await cli.run(['run', ...flags, '--', 'true']);
        expect(r.stderr).toMatch(message);
        expect(r.code).toBe(2);
      }),
    ).toBe(true);
  });

  it('refuses a missing command', async () => {
    const r = await cli.run(['run', '--gpu', '0.5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no command given/);
  });

  it('refuses a request that can never fit, saying why', async () => {
    expect(
      await createsNothing(pool, async () => {
        const r = await run.run(['run', '--gpu', '2', '--', 'true']);
        expect(r.code).toBe(2);
        // The server blames the GPU request, so the flag that set it is named.
        expect(r.stderr).toBe('fastgpu: --gpu: needs 2 GPUs on one node; the largest node has 1 (1xH100-80GB)\n');
      }),
    ).toBe(true);
  });

  it('streams output and exits with the task exit code', async () => {
    const r = await run.run(['run', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('says why a launch failed', async () => {
    const name = unique('nope');
    const r = await run.run(['run', '--name', name, '--', 'no-such-command-xyz']);
    const t = await named(pool, name);
    expect(t).toMatchObject({ state: 'FAILED', exitCode: 127 });
    // The supervisor's own line (the task's stderr), then the CLI's.
    expect(r).toEqual({
      code: 127,
      stdout: '',
      stderr: `fastgpu: command not found: no-such-command-xyz\nfastgpu: task ${t.id}: Launch failed: command not found: no-such-command-xyz\n`,
    });
  });

  it('exits 1 with the final state when the task ends without a code', async () => {
    const name = unique('cancelled');
    const done = run.run(['run', '--name', name, '--', 'sleep', '100']);
    const t = await named(pool, name);
    await until(async () => (await pool.client.tasks.get(t.id)).state === 'RUNNING');
    await pool.client.tasks.cancel(t.id);
    const r = await done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^fastgpu: task ${t.id} ended CANCELLED`));
  });

  it('says why the task waits, and on Ctrl-C detaches without cancelling, saying it never started', async () => {
    const name = unique('detached');
    // Interrupt once the CLI has said why the task waits.
    const r = await cli.run(['run', '--name', name, '--', 'sleep', '100'], { onStderr: (all, interrupt) => / pending \(Resources: /.test(all) && interrupt() });
    const t = await named(bare, name);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(new RegExp(`^fastgpu: task ${t.id} pending \\(Resources: needs 0.25 CPU, 1 GiB RAM; no ready node`));
    expect(r.stderr).toMatch(new RegExp(`detached; task ${t.id} has not started: it is still pending \\(Resources: .*\\), and stays queued\\. .*fastgpu logs -f ${t.id}.*fastgpu cancel ${t.id}`));
    expect(r.stderr).not.toMatch(/keeps running/);
    expect((await bare.client.tasks.get(t.id)).state).toBe('PENDING');
  });
});

describe('fastgpu submit', () => {
  const write = (name: string, text: string | Buffer): string => {
    const p = join(home, name);
    writeFileSync(p, text);
    return p;
  };

  it('submits a YAML spec and prints the id', async () => {
    const f = write('a.yaml', 'name: train\ncommand: [python, train.py]\nresources:\n  gpu: 0.5\n');
    const r = await cli.run(['submit', f]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^t_\w+\n$/);
    expect(await specOf(bare, r.stdout.trim())).toMatchObject({ name: 'train', command: ['python', 'train.py'], resources: { gpu: { count: 1, share: { kind: 'milli', milli: 500 } } } });
  });

  it('reads JSON from stdin', async () => {
    const r = await cli.run(['submit', '-'], { stdin: '{"command": "echo hi"}' });
    expect(r.code).toBe(0);
    expect(await specOf(bare, r.stdout.trim())).toMatchObject({ command: ['sh', '-c', 'echo hi'] });
  });

  it('dry-runs without creating anything', async () => {
    expect(
      await createsNothing(bare, async () => {
        const r = await cli.run(['submit', '--dry-run', write('a.yaml', 'command: echo\n')]);
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/^# valid: would create 1 task/);
      }),
    ).toBe(true);
  });

  it('checks every spec of a multi-spec file before creating any', async () => {
    expect(
      await createsNothing(bare, async () => {
        const r = await cli.run(['submit', write('m.yaml', 'command: echo 1\n---\ncommand: echo 2\nbogus: 1\n')]);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/^fastgpu: .*m\.yaml \(spec 2\): bogus: unknown field/);
      }),
    ).toBe(true);
  });

  it.each([
    ['malformed YAML', 'command: [a, b\n', /malformed YAML\/JSON/],
    ['malformed JSON', '{"command": ', /malformed YAML\/JSON/],
    ['a scalar', '42\n', /a task spec must be a mapping/],
    ['an empty file', '', /is empty/],
    ['a missing command', 'name: x\n', /bad\.yaml: command: is missing/],
    ['a NaN', 'command: x\nresources: {gpu: .nan}\n', /bad\.yaml: resources\.gpu: NaN is not a number/],
    ['an infinity', 'command: x\npriority: -.inf\n', /bad\.yaml: priority: -Infinity is not a number/],
  ])('refuses %s with a message naming the problem', async (_what, text, message) => {
    expect(
      await createsNothing(bare, async () => {
        const r = await cli.run(['submit', write('bad.yaml', text)]);
        expect(r.stderr).toMatch(message);
        expect(r.stderr).toMatch(/^fastgpu: /);
        expect(r.code).toBe(2);
      }),
    ).toBe(true);
  });

  it('refuses invalid UTF-8 and a missing file', async () => {
    const bad = await cli.run(['submit', write('bin.yaml', Buffer.from([0x63, 0x3a, 0x20, 0xff, 0xfe, 0x0a]))]);
    expect(bad.stderr).toMatch(/bin\.yaml: not valid UTF-8/);
    expect(bad.code).toBe(2);
    const missing = await cli.run(['submit', join(home, 'nope.yaml')]);
    expect(missing.stderr).toMatch(/nope\.yaml: no such file/);
    expect(missing.code).toBe(2);
  });
});

describe('fastgpu ps, get, logs, cancel, wait', () => {
  it('lists tasks as a table and as JSON, and validates --state', async () => {
    const name = unique('listed');
    const id = (await cli.run(['run', '-d', '--gpu', '0.5', '--name', name, '--', 'true'])).stdout.trim();
    const t = await cli.run(['ps']);
    expect(t.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+STATE\s+REASON\s+PRI\s+REQUEST\s+PLACED\s+STARTED\s+ENDED\s+AGE$/);
    expect(t.stdout).toMatch(new RegExp(`\\n${id}\\s+${name}\\s+PENDING\\s`));
    const j = JSON.parse((await cli.run(['ps', '--all', '--state', 'pending,running', '--output', 'json'])).stdout) as TaskView[];
    expect(j.map((x) => x.id)).toContain(id);
    expect(j.every((x) => x.state === 'PENDING' || x.state === 'RUNNING')).toBe(true);
    const none = JSON.parse((await cli.run(['ps', '--all', '--state', 'succeeded', '--output', 'json'])).stdout) as TaskView[];
    expect(none.map((x) => x.id)).not.toContain(id);
    const bad = await cli.run(['ps', '--state', 'DONE']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^fastgpu: --state: "DONE" is not a task state/);
    const badOut = await cli.run(['ps', '--output', 'xml']);
    expect(badOut.code).toBe(2);
    expect(badOut.stderr).toMatch(/--output/);
  });

  it('gets a task, cancels it, and reports each id of a cancel', async () => {
    const id = (await cli.run(['run', '-d', '--', 'true'])).stdout.trim();
    expect((await cli.run(['get', id])).stdout).toMatch(new RegExp(`^id: +${id}\\n`));
    expect(JSON.parse((await cli.run(['get', id, '-o', 'json'])).stdout)).toMatchObject({ id, state: 'PENDING', history: [] });
    const c = await cli.run(['cancel', id, 't_nope']);
    expect(c.stdout).toBe(`${id} CANCELLED\n`);
    expect(c.stderr).toBe('fastgpu: t_nope: task t_nope not found\n');
    expect(c.code).toBe(1);
    const again = await cli.run(['cancel', id]);
    expect(again.stderr).toMatch(/already finished/);
    expect(again.code).toBe(1);
    const unknown = await cli.run(['get', 't_nope']);
    expect(unknown).toMatchObject({ code: 1, stderr: 'fastgpu: task t_nope not found\n' });
  });

  it('prints the logs of a task that ran', async () => {
    const r = await run.run(['run', '-d', '--', 'sh', '-c', 'echo hello; echo oops >&2']);
    const id = r.stdout.trim();
    await run.run(['wait', id]);
    expect(await run.run(['logs', id])).toEqual({ code: 0, stdout: 'hello\n', stderr: 'oops\n' });
  });

  it('says when log retention deleted the logs of a task', async () => {
    const own = await startPool({ gpus: '1xH100' });
    try {
      const cli2 = cliHarness({ FASTGPU_HOME: home, FASTGPU_URL: own.url, FASTGPU_TOKEN: own.token, PATH: '' }, home);
      const id = (await cli2.run(['run', '-d', '--', 'echo', 'soon gone'])).stdout.trim();
      await cli2.run(['wait', id]);
      expect((await cli2.run(['logs', id])).stdout).toBe('soon gone\n');
      // What the server's retention pass does once the task is old enough, on the same file.
      const store = openStore({ kind: 'sqlite', path: join(own.dir, 'data', 'fastgpu.db') });
      await store.init();
      const at = Date.parse('2030-01-01T00:00:00Z');
      expect(await store.pruneLogs(at, at)).toMatchObject({ tasks: 1, chunks: 1 });
      await store.close();
      expect(await cli2.run(['logs', id])).toEqual({ code: 0, stdout: '', stderr: `fastgpu: the logs of ${id} were deleted at 2030-01-01T00:00:00.000Z (log retention)\n` });
    } finally {
      await own.close();
    }
  });

  it('prints a finished task’s history as a table and as JSON', async () => {
    const id = (await run.run(['run', '-d', '--', 'sh', '-c', 'exit 3'])).stdout.trim();
    expect((await run.run(['wait', id])).code).toBe(3);
    const t = await run.run(['events', id]);
    expect(t.code).toBe(0);
    const lines = t.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+TYPE\s+NODE\s+DETAILS$/);
    const iso = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^${iso}\\s+task\\.submitted\\s+-\\s+name=sh tenant=default$`)),
      expect.stringMatching(new RegExp(`^${iso}\\s+task\\.scheduled\\s+${pool.node}\\s+attempt=1 gpus=\\[\\] gpuMilli=0$`)),
      expect.stringMatching(new RegExp(`^${iso}\\s+task\\.started\\s+${pool.node}\\s+attempt=1(?: pid=\\d+)?$`)),
      expect.stringMatching(new RegExp(`^${iso}\\s+task\\.finished\\s+${pool.node}\\s+state=FAILED exitCode=3 attempt=1$`)),
    ]);
    const j = await run.run(['events', id, '--output', 'json']);
    const events = JSON.parse(j.stdout) as { seq: number; type: string; taskId: string; at: number }[];
    expect(events.map((e) => e.type)).toEqual(['task.submitted', 'task.scheduled', 'task.started', 'task.finished']);
    expect(events.every((e) => e.taskId === id && typeof e.at === 'number')).toBe(true);
    expect(events.map((e) => e.seq)).toEqual(events.map((e) => e.seq).sort((a, b) => a - b));
    expect(await run.run(['events', 't_nope'])).toEqual({ code: 1, stdout: '', stderr: 'fastgpu: task t_nope not found\n' });
    const badOut = await run.run(['events', id, '-o', 'yaml']);
    expect(badOut.code).toBe(2);
    expect(badOut.stderr).toMatch(/^fastgpu: .*--output.*'yaml' is invalid/);
    expect((await run.run(['events'])).code).toBe(2);
  });

  it('waits and exits with the task code', async () => {
    const go = join(pool.dir, unique('go'));
    const id = (await run.run(['run', '-d', '--', 'sh', '-c', `until [ -e ${go} ]; do sleep 0.02; done`])).stdout.trim();
    // It cannot end before the go file exists, so a bounded wait must give up, saying so: wait blocks.
    const t = await run.run(['wait', id, '--timeout', '100ms']);
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/has not finished/);
    const w = run.run(['wait', id]);
    writeFileSync(go, '');
    expect(await w).toEqual({ code: 0, stdout: `${id} SUCCEEDED exit 0\n`, stderr: '' });
  });
});

describe('fastgpu gpus, nodes, vgpu', () => {
  it('shows GPUs with their slices', async () => {
    const name = unique('slice');
    const id = (await run.run(['run', '-d', '--gpu', '0.5', '--name', name, '--', 'sleep', '100'])).stdout.trim();
    await until(async () => (await pool.client.tasks.get(id)).state === 'RUNNING');
    const t = await run.run(['gpus']);
    expect(t.stdout).toMatch(new RegExp(`${pool.node}\\s+0\\s+H100-80GB\\s+80 GiB\\s+simulated\\s+0\\.5 GPU, 40 GiB\\s+${id}\\(0\\.5, 40 GiB\\)`));
    expect(JSON.parse((await run.run(['gpus', '--output', 'json'])).stdout)).toEqual(await pool.client.gpus());
    expect((await run.run(['nodes'])).stdout).toMatch(new RegExp(`^NAME\\s+ID\\s+STATE[^\\n]*\\n${pool.node}\\s+n_\\w+\\s+READY`));
    await pool.client.tasks.cancel(id);
  });

  it('drains a node (new tasks wait; the running one goes on) and resumes it', async () => {
    const go = join(pool.dir, unique('go'));
    const before = (await run.run(['run', '-d', '--', 'sh', '-c', `until [ -e ${go} ]; do sleep 0.02; done`])).stdout.trim();
    await until(async () => (await pool.client.tasks.get(before)).state === 'RUNNING');
    const d = await run.run(['nodes', 'drain', pool.node]);
    try {
      // Ours, and maybe an earlier test's task still being stopped: the count is not ours to pin.
      expect(d).toMatchObject({ code: 0, stderr: '' });
      expect(d.stdout).toMatch(new RegExp(`^${pool.node} drained; \\d+ tasks? still running there\\n$`));
      expect((await run.run(['nodes'])).stdout).toMatch(new RegExp(`\\n${pool.node}\\s+n_\\w+\\s+DRAINING`));
      const waiting = (await run.run(['run', '-d', '--', 'true'])).stdout.trim();
      await until(async () => (await pool.client.tasks.get(waiting)).reason === 'Resources');
      writeFileSync(go, '');
      expect((await run.run(['wait', before])).code).toBe(0);
      expect((await pool.client.tasks.get(waiting)).state).toBe('PENDING');
      expect(await run.run(['nodes', 'resume', pool.node])).toEqual({ code: 0, stdout: `${pool.node} resumed\n`, stderr: '' });
      expect((await run.run(['wait', waiting])).stdout).toBe(`${waiting} SUCCEEDED exit 0\n`);
    } finally {
      // The pool is shared with the tests after this one.
      await pool.client.resumeNode(pool.node);
      writeFileSync(go, '');
    }
    const unknown = await run.run(['nodes', 'drain', 'no-such-node']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('fastgpu: node no-such-node not found\n');
  });

  it('creates, lists and removes vGPUs, validating sizes', async () => {
    const c = await run.run(['vgpu', 'create', '--tflops', '20', '--model', 'H100', '--name', 'mine']);
    expect(c.code).toBe(0);
    const id = c.stdout.trim();
    expect((await pool.client.vgpus.get(id)).request).toMatchObject({ count: 1, model: 'H100-80GB', share: { kind: 'tflops', tflops: 20 } });
    await until(async () => (await pool.client.vgpus.get(id)).state === 'ACTIVE');
    expect((await run.run(['vgpu', 'ls'])).stdout).toMatch(new RegExp(`${id}\\s+mine\\s+ACTIVE`));
    expect((await run.run(['vgpu', 'rm', id])).stdout).toBe(`${id} RELEASED\n`);
    for (const [flags, msg] of [
      [[], /say how big/],
      [['--gpu', '2'], /--gpu: a vGPU is a slice of one GPU/],
      [['--gpu', '0.5', '--tflops', '3'], /--tflops: give compute one way/],
      [['--memory', '-3GiB'], /--memory: /],
      [['--tflops', 'x'], /--tflops: "x" is not a positive number/],
    ] as const) {
      const r = await run.run(['vgpu', 'create', ...flags]);
      expect(r.stderr).toMatch(msg);
      expect(r.code).toBe(2);
    }
  });
});

async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
