import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeApi } from '../sdk/fake.js';
import type { GpuView } from '../sdk/types.js';
import { cliHarness, type CliHarness } from './testing.js';

let api: FakeApi;
let home: string;
let cli: CliHarness;

beforeEach(async () => {
  api = new FakeApi('tok');
  await api.listen();
  home = mkdtempSync(join(tmpdir(), 'fastgpu-cli-'));
  cli = cliHarness({ FASTGPU_HOME: home, FASTGPU_URL: api.url, FASTGPU_TOKEN: 'tok', PATH: '' }, home);
});

afterEach(async () => {
  await api.close();
  rmSync(home, { recursive: true, force: true });
});

const lastBody = (): Record<string, unknown> => api.requests.filter((r) => r.method === 'POST').at(-1)?.body as Record<string, unknown>;

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
    const bare = cliHarness({ FASTGPU_HOME: home });
    const r = await bare.run(['ps']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('fastgpu: no FastGPU server configured: run `fastgpu up` or pass --server/--token (or set FASTGPU_URL/FASTGPU_TOKEN)\n');
  });

  it('reads the config `up` saved', async () => {
    writeFileSync(join(home, 'config.json'), JSON.stringify({ url: api.url, token: 'tok' }), { mode: 0o600 });
    const r = await cliHarness({ FASTGPU_HOME: home }).run(['ps', '--output', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it('names the token problem on 401', async () => {
    const r = await cli.run(['ps', '--token', 'wrong']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^fastgpu: missing or wrong bearer token \(pass --token/);
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
    expect(r.stdout).toMatch(/^t_\d+\n$/);
    expect(lastBody()).toEqual({
      command: ['python', 'train.py', '--epochs', '3'],
      resources: { gpu: { fraction: 0.5, memory: '20GiB' }, memory: '4GiB', cpu: 2 },
      priority: 70,
      name: 'train',
      timeLimit: '2h',
      retries: 1,
      preemptible: true,
      env: { A: '1', B: 'x=y' },
      workdir: '/w',
    });
  });

  it('passes options after the command through to it, and defaults the workdir here for a local server', async () => {
    const r = await cli.run(['run', '-d', 'echo', '--not-ours', 'x']);
    expect(r.code).toBe(0);
    expect(lastBody()).toEqual({ command: ['echo', '--not-ours', 'x'], workdir: home });
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
    const r = await cli.run(['run', ...flags, '--', 'true']);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    expect(api.tasks.size).toBe(0);
  });

  it('refuses a missing command', async () => {
    const r = await cli.run(['run', '--gpu', '0.5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no command given/);
  });

  it('refuses a request that can never fit, saying why and naming the flag', async () => {
    const r = await cli.run(['run', '--gpu', '2', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^fastgpu: --gpu: 2 GPUs can never fit/);
  });

  it('streams output and exits with the task exit code', async () => {
    const done = cli.run(['run', '--', 'sh', '-c', 'exit 3']);
    await until(() => api.tasks.size === 1);
    const id = [...api.tasks.keys()][0]!;
    api.log(id, 'out\n');
    api.log(id, 'err\n', 'stderr');
    api.setState(id, 'FAILED', 3);
    const r = await done;
    expect(r).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('says why a launch failed', async () => {
    const done = cli.run(['run', '--', 'nope']);
    await until(() => api.tasks.size === 1);
    const t = [...api.tasks.values()][0]!;
    t.reasonMessage = 'Launch failed: command not found: nope';
    api.setState(t.id, 'FAILED', 127);
    expect(await done).toEqual({ code: 127, stdout: '', stderr: `fastgpu: task ${t.id}: Launch failed: command not found: nope\n` });
  });

  it('exits 1 with the final state when the task ends without a code', async () => {
    const done = cli.run(['run', '--', 'sleep', '100']);
    await until(() => api.tasks.size === 1);
    api.setState([...api.tasks.keys()][0]!, 'CANCELLED');
    const r = await done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^fastgpu: task t_\d+ ended CANCELLED/);
  });

  it('detaches on Ctrl-C without cancelling, and says how to follow or cancel', async () => {
    let interrupt = (): void => undefined;
    const done = cli.run(['run', '--', 'sleep', '100'], { onStart: (i) => (interrupt = i) });
    await until(() => api.tasks.size === 1);
    await new Promise((r) => setTimeout(r, 50));
    interrupt();
    const r = await done;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/detached; task (t_\d+) keeps running.*fastgpu logs -f t_\d+.*fastgpu cancel t_\d+/);
    expect([...api.tasks.values()][0]!.state).toBe('PENDING');
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
    expect(r.stdout).toMatch(/^t_\d+\n$/);
    expect(lastBody()).toEqual({ name: 'train', command: ['python', 'train.py'], resources: { gpu: 0.5 } });
  });

  it('reads JSON from stdin', async () => {
    const r = await cli.run(['submit', '-'], { stdin: '{"command": "echo hi"}' });
    expect(r.code).toBe(0);
    expect(api.tasks.size).toBe(1);
  });

  it('dry-runs without creating anything', async () => {
    const r = await cli.run(['submit', '--dry-run', write('a.yaml', 'command: echo\n')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^# valid: would create 1 task; feasibility not checked/);
    expect(api.tasks.size).toBe(0);
  });

  it('checks every spec of a multi-spec file before creating any', async () => {
    const r = await cli.run(['submit', write('m.yaml', 'command: echo 1\n---\ncommand: echo 2\nbogus: 1\n')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^fastgpu: .*m\.yaml \(spec 2\): bogus: unknown field/);
    expect(api.tasks.size).toBe(0);
  });

  it.each([
    ['malformed YAML', 'command: [a, b\n', /malformed YAML\/JSON/],
    ['malformed JSON', '{"command": ', /malformed YAML\/JSON/],
    ['a scalar', '42\n', /a task spec must be a mapping/],
    ['an empty file', '', /is empty/],
    ['a missing command', 'name: x\n', /command: required/],
    ['a NaN', 'command: x\nresources: {gpu: .nan}\n', /bad\.yaml: resources\.gpu: NaN is not a number/],
    ['an infinity', 'command: x\npriority: -.inf\n', /bad\.yaml: priority: -Infinity is not a number/],
  ])('refuses %s with a message naming the problem', async (_what, text, message) => {
    const r = await cli.run(['submit', write('bad.yaml', text)]);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^fastgpu: /);
    expect(r.code).toBe(2);
    expect(api.tasks.size).toBe(0);
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
    await cli.run(['run', '-d', '--gpu', '0.5', '--name', 'a', '--', 'true']);
    const t = await cli.run(['ps']);
    expect(t.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+STATE\s+REASON\s+PRI\s+GPU\s+NODE\s+AGE$/);
    const j = await cli.run(['ps', '--all', '--state', 'pending,running', '--output', 'json']);
    expect(JSON.parse(j.stdout)).toHaveLength(1);
    expect(api.requests.at(-1)?.query.get('state')).toBe('PENDING,RUNNING');
    expect(api.requests.at(-1)?.query.get('all')).toBe('true');
    const bad = await cli.run(['ps', '--state', 'DONE']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^fastgpu: --state: "DONE" is not a task state/);
    const badOut = await cli.run(['ps', '--output', 'xml']);
    expect(badOut.code).toBe(2);
    expect(badOut.stderr).toMatch(/--output/);
  });

  it('gets a task, prints its logs, cancels it, and reports each id of a cancel', async () => {
    const id = (await cli.run(['run', '-d', '--', 'true'])).stdout.trim();
    api.log(id, 'hello\n');
    expect((await cli.run(['get', id])).stdout).toMatch(new RegExp(`^id: +${id}\\n`));
    expect(JSON.parse((await cli.run(['get', id, '-o', 'json'])).stdout)).toMatchObject({ id, history: [] });
    expect((await cli.run(['logs', id])).stdout).toBe('hello\n');
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

  it('waits and exits with the task code', async () => {
    const id = (await cli.run(['run', '-d', '--', 'true'])).stdout.trim();
    const w = cli.run(['wait', id]);
    await new Promise((r) => setTimeout(r, 30));
    api.setState(id, 'SUCCEEDED', 0);
    expect(await w).toEqual({ code: 0, stdout: `${id} SUCCEEDED exit 0\n`, stderr: '' });
    const id2 = (await cli.run(['run', '-d', '--', 'true'])).stdout.trim();
    const t = await cli.run(['wait', id2, '--timeout', '100ms']);
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/has not finished/);
  });
});

describe('fastgpu gpus, nodes, vgpu', () => {
  it('shows GPUs with their slices', async () => {
    const g: GpuView = {
      node: 'n1', nodeId: 'node_1', index: 0, uuid: 'GPU-x', model: 'H100-80GB', memoryMiB: 81920, tflops: 989, sharing: 'simulated',
      allocatedMilli: 500, allocatedMemoryMiB: 40960, slices: [{ taskId: 't_1', name: 'a', tenant: 'default', milli: 500, memoryMiB: 40960 }],
    };
    api.gpus = [g];
    const t = await cli.run(['gpus']);
    expect(t.stdout).toMatch(/n1\s+0\s+H100-80GB\s+80 GiB\s+simulated\s+0\.5 GPU, 40 GiB\s+t_1\(0\.5, 40 GiB\)/);
    expect(JSON.parse((await cli.run(['gpus', '--output', 'json'])).stdout)).toEqual([g]);
    expect((await cli.run(['nodes'])).stdout).toMatch(/^NAME\s+ID\s+STATE/);
  });

  it('creates, lists and removes vGPUs, validating sizes', async () => {
    const c = await cli.run(['vgpu', 'create', '--tflops', '20', '--model', 'H100', '--name', 'mine']);
    expect(c.code).toBe(0);
    expect(lastBody()).toEqual({ tflops: 20, model: 'H100', name: 'mine' });
    const id = c.stdout.trim();
    expect((await cli.run(['vgpu', 'ls'])).stdout).toMatch(new RegExp(`${id}\\s+mine\\s+ACTIVE`));
    expect((await cli.run(['vgpu', 'rm', id])).stdout).toBe(`${id} RELEASED\n`);
    for (const [flags, msg] of [
      [[], /say how big/],
      [['--gpu', '2'], /--gpu: a vGPU is a slice of one GPU/],
      [['--gpu', '0.5', '--tflops', '3'], /--tflops: give compute one way/],
      [['--memory', '-3GiB'], /--memory: /],
      [['--tflops', 'x'], /--tflops: "x" is not a positive number/],
    ] as const) {
      const r = await cli.run(['vgpu', 'create', ...flags]);
      expect(r.stderr).toMatch(msg);
      expect(r.code).toBe(2);
    }
  });
});

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
