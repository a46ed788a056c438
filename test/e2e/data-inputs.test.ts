// Issue 16 end to end: `fastgpu server` and `fastgpu agent` as real processes. A dataset pushed
// with the SDK is staged into a task's working directory (read-only, FASTGPU_INPUT_<NAME>) before
// it starts; a second task on the same node downloads nothing; a missing dataset is refused at
// submit, naming the input.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FastGPU, type TaskDetail } from '../../src/sdk/index.js';
import { FastGpuApiError } from '../../src/sdk/errors.js';
import { World, requireBuild, until, type Daemon } from './harness.js';

const TIMEOUT_MS = 120_000;
let world: World;
beforeAll(requireBuild);
afterEach(async () => world?.cleanup());

async function cluster(): Promise<{ url: string; token: string; client: FastGPU }> {
  const server = world.start(['server', '--port', '0', '--data-dir', world.dataDir, '--quiet']);
  const url = (await server.waitFor(/listening at (http:\/\/\S+)/))[1]!;
  const token = readFileSync(join(world.dataDir, 'admin.token'), 'utf8').trim();
  return { url, token, client: new FastGPU({ url, token, env: {} }) };
}

function agent(c: { url: string; token: string }, name: string): Daemon {
  return world.start(['agent', '--server', c.url, '--token', c.token, '--gpus', '1xH100', '--name', name, '--state-dir', join(world.home, `agent-${name}`)]);
}

async function finished(client: FastGPU, id: string): Promise<TaskDetail> {
  return until(`task ${id} finished`, async () => {
    const t = await client.tasks.get(id);
    return ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT'].includes(t.state) ? t : undefined;
  }, TIMEOUT_MS);
}

describe('task data inputs', () => {
  it('stages a dataset read-only before the task starts, and a second task on the node downloads nothing', { timeout: 4 * TIMEOUT_MS }, async () => {
    world = new World();
    const c = await cluster();
    const a = agent(c, 'node-a');
    await a.waitFor(/registered as/);
    const dir = join(world.home, 'imgs');
    mkdirSync(join(dir, 'shards'), { recursive: true });
    const shard = randomBytes(9 * 1024 * 1024 + 77); // three chunks: an assembled file
    writeFileSync(join(dir, 'shards', 'train-0.bin'), shard);
    writeFileSync(join(dir, 'labels.csv'), 'id,label\n'.repeat(1000));
    const pushed = await c.client.datasets.push(dir, 'imgs');

    // Reads its input, checks it cannot write there, and prints what it saw.
    const script = [
      'set -e',
      'sha256sum data/imgs/shards/train-0.bin | cut -c1-64',
      'echo "env=$FASTGPU_INPUT_IMGS"',
      'wc -l < "$FASTGPU_INPUT_IMGS/labels.csv"',
      'if touch data/imgs/new 2>/dev/null; then echo writable; else echo read-only; fi',
      'pwd',
    ].join('\n');
    const spec = { command: ['sh', '-c', script], inputs: [{ dataset: 'imgs', path: 'data/imgs' }] };
    const t1 = await c.client.tasks.submit(spec);
    expect(t1.spec.inputs).toEqual([{ dataset: 'imgs', version: pushed.version, path: 'data/imgs', env: 'FASTGPU_INPUT_IMGS' }]);
    const done1 = await finished(c.client, t1.id);
    const out1 = (await c.client.tasks.logs(t1.id)).chunks.map((ch) => `${ch.stream === 'stderr' ? '[err] ' : ''}${ch.data}`).join('');
    expect(done1.state, out1).toBe('SUCCEEDED');
    const lines = out1.trim().split('\n');
    const { createHash } = await import('node:crypto');
    expect(lines[0]).toBe(createHash('sha256').update(shard).digest('hex'));
    const cwd = lines[4]!;
    expect(lines[1]).toBe(`env=${cwd}/data/imgs`);
    expect(lines[2]).toBe('1000');
    // Root may write anywhere; anyone else finds the input read-only.
    expect(lines[3]).toBe(process.getuid?.() === 0 ? 'writable' : 'read-only');
    const first = await a.waitFor(new RegExp(`${t1.id}/1: staged imgs@1 at \\S+: (\\d+) bytes, (\\d+) downloaded`));
    expect(Number(first[2])).toBe(pushed.bytes);
    // The task's events say it staged, and it started only after.
    const events = (await c.client.tasks.events(t1.id)).events.map((e) => e.type);
    expect(events.indexOf('task.staging')).toBeGreaterThan(-1);
    expect(events.indexOf('task.staging')).toBeLessThan(events.indexOf('task.started'));

    const t2 = await c.client.tasks.submit(spec);
    const done2 = await finished(c.client, t2.id);
    expect(done2.state).toBe('SUCCEEDED');
    const second = await a.waitFor(new RegExp(`${t2.id}/1: staged imgs@1 at \\S+: (\\d+) bytes, (\\d+) downloaded`));
    expect(Number(second[2])).toBe(0);

    // A missing dataset or version is refused at submit, naming the input; nothing is made.
    const before = (await c.client.tasks.list()).length;
    for (const [inputs, re] of [
      [[{ dataset: 'nope' }], /inputs\.0\.dataset: dataset nope not found/],
      [[{ dataset: 'imgs@9' }], /inputs\.0\.dataset: dataset imgs has no version 9 .*the newest is 1/],
      [[{ dataset: 'imgs', path: '/etc' }], /inputs\.0\.path: "\/etc" must be relative/],
    ] as [{ dataset: string; path?: string }[], RegExp][]) {
      const err = await c.client.tasks.submit({ command: 'true', inputs }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FastGpuApiError);
      expect((err as FastGpuApiError).status).toBe(400);
      expect((err as Error).message).toMatch(re);
    }
    expect((await c.client.tasks.list()).length).toBe(before);
  });
});
