// Issue 16 end to end, task outputs: `fastgpu server` and `fastgpu agent` as real processes. A task
// that writes out/ and exits 0 makes a new version of its output dataset, with the bytes it wrote
// (pulled back and compared), naming the task; a second task reads that version as an input; a
// task that exits non-zero, or exits 0 without its output path, or goes over the tenant's dataset
// quota, makes no version, and the last two end FAILED naming the output and the cause. Bad
// `outputs:` are refused at submit.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FastGPU, type TaskDetail } from '../../src/sdk/index.js';
import { FastGpuApiError } from '../../src/sdk/errors.js';
import { World, requireBuild, until } from './harness.js';

const TIMEOUT_MS = 120_000;
let world: World;
beforeAll(requireBuild);
afterEach(async () => world?.cleanup());

async function finished(client: FastGPU, id: string): Promise<TaskDetail> {
  return until(
    `task ${id} finished`,
    async () => {
      const t = await client.tasks.get(id);
      return ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT'].includes(t.state) ? t : undefined;
    },
    TIMEOUT_MS,
  );
}

const logsOf = async (client: FastGPU, id: string): Promise<string> => (await client.tasks.logs(id)).chunks.map((ch) => `${ch.stream === 'stderr' ? '[err] ' : ''}${ch.data}`).join('');
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('task data outputs', () => {
  it('uploads out/ after exit 0 as a new version a later task reads; failures make none', { timeout: 6 * TIMEOUT_MS }, async () => {
    world = new World();
    const server = world.start(['server', '--port', '0', '--data-dir', world.dataDir, '--quiet']);
    const url = (await server.waitFor(/listening at (http:\/\/\S+)/))[1]!;
    const token = readFileSync(join(world.dataDir, 'admin.token'), 'utf8').trim();
    const client = new FastGPU({ url, token, env: {} });
    const agent = world.start(['agent', '--server', url, '--token', token, '--gpus', '1xH100', '--name', 'node-a', '--state-dir', join(world.home, 'agent-a')]);
    await agent.waitFor(/registered as/);

    // 9 MiB + a bit of random bytes (three chunks), a small text file in a subfolder, and an empty file.
    const write = [
      'set -e',
      'mkdir -p out/sub',
      'head -c 9437261 /dev/urandom > out/weights.bin',
      'echo "step,loss" > out/sub/metrics.csv',
      ': > out/empty',
      'sha256sum out/weights.bin | cut -c1-64',
    ].join('\n');
    const t1 = await client.tasks.submit({ command: ['sh', '-c', write], outputs: [{ path: 'out/', dataset: 'ckpt' }] });
    expect(t1.spec.outputs).toEqual([{ path: 'out', dataset: 'ckpt' }]);
    const done1 = await finished(client, t1.id);
    const log1 = await logsOf(client, t1.id);
    expect(done1.state, `${done1.reasonMessage}\n${log1}`).toBe('SUCCEEDED');
    const written = log1.trim().split('\n')[0]!;
    expect(done1.outputs).toEqual([{ path: 'out', dataset: 'ckpt', version: 1 }]);
    const v1 = await client.datasets.get('ckpt');
    expect(v1).toMatchObject({ name: 'ckpt', version: 1, tenant: 'default', taskId: t1.id, fileCount: 3, bytes: 9437261 + 'step,loss\n'.length });
    expect(v1.manifest.files.map((f) => f.path)).toEqual(['empty', 'sub/metrics.csv', 'weights.bin']);
    // Pulled back: the bytes the task wrote.
    const pulled = join(world.home, 'pulled');
    await client.datasets.pull('ckpt@1', pulled);
    expect(sha(readFileSync(join(pulled, 'weights.bin')))).toBe(written);
    expect(readFileSync(join(pulled, 'sub', 'metrics.csv'), 'utf8')).toBe('step,loss\n');
    // Its own phase, in the events: uploading after the process ended, then the versions, then the end.
    const events = (await client.tasks.events(t1.id)).events;
    const types = events.map((e) => e.type);
    expect(types.indexOf('task.uploading'), types.join(' ')).toBeGreaterThan(types.indexOf('task.started'));
    expect(types.indexOf('task.outputs')).toBeGreaterThan(types.indexOf('task.uploading'));
    expect(types.indexOf('task.finished')).toBeGreaterThan(types.indexOf('task.outputs'));
    expect(events.find((e) => e.type === 'task.outputs')?.data).toMatchObject({ versions: [{ dataset: 'ckpt', version: 1, bytes: v1.bytes }] });
    // Metering stops at the process's exit, not after the upload: the attempt ended when the process did.
    expect(done1.history[0]?.endedAt).toBe(done1.finishedAt);

    // The CLI shows it: the task's outputs with the version made, and the version's maker.
    const conn = ['--server', url, '--token', token];
    const get = await world.cli(['get', t1.id, ...conn]);
    expect(get.stdout, get.stderr).toMatch(/^outputs:\s+out → ckpt@1$/m);
    const show = await world.cli(['data', 'show', 'ckpt', ...conn]);
    expect(show.stdout, show.stderr).toMatch(new RegExp(`^ckpt@1 \\(tenant default\\): 3 files, .* made by task ${t1.id} \\(its outputs\\)`));
    const ls = await world.cli(['data', 'ls', ...conn]);
    expect(ls.stdout).toMatch(new RegExp(`ckpt .* task ${t1.id}$`, 'm'));

    // A second task reads the version as an input.
    const t2 = await client.tasks.submit({ command: ['sh', '-c', 'sha256sum prev/weights.bin | cut -c1-64'], inputs: [{ dataset: 'ckpt', path: 'prev' }] });
    const done2 = await finished(client, t2.id);
    expect(done2.state).toBe('SUCCEEDED');
    expect((await logsOf(client, t2.id)).trim()).toBe(written);

    // Exits non-zero: nothing is uploaded.
    const t3 = await client.tasks.submit({ command: ['sh', '-c', 'mkdir out && echo x > out/a && exit 3'], outputs: [{ path: 'out', dataset: 'ckpt' }] });
    const done3 = await finished(client, t3.id);
    expect(done3.state).toBe('FAILED');
    expect(done3.reasonMessage).toBe('Exited with code 3');
    expect(done3.outputs).toEqual([{ path: 'out', dataset: 'ckpt', version: null }]);

    // Exits 0 without its output: FAILED, naming the output.
    const t4 = await client.tasks.submit({ command: ['sh', '-c', 'echo no outputs'], outputs: [{ path: 'out', dataset: 'ckpt' }] });
    const done4 = await finished(client, t4.id);
    expect(done4.state).toBe('FAILED');
    expect(done4.reasonMessage).toMatch(/^Exited 0, but uploading its outputs failed: outputs\.0 \(out → ckpt\): out does not exist in the task's working directory \(.*\) after it exited 0$/);

    // Over the tenant's dataset quota: FAILED naming the output and the quota; of two outputs, neither is kept.
    await client.datasets.setQuota('default', v1.bytes + 1000);
    const big = 'mkdir -p small big && echo hi > small/x && head -c 2000000 /dev/urandom > big/y';
    const t5 = await client.tasks.submit({ command: ['sh', '-c', big], outputs: [{ path: 'small', dataset: 'notes' }, { path: 'big', dataset: 'blob' }] });
    const done5 = await finished(client, t5.id);
    expect(done5.state).toBe('FAILED');
    expect(done5.reasonMessage).toMatch(/outputs\.1 \(big → blob\): dataset quota of tenant default exceeded/);
    expect(done5.outputs).toEqual([
      { path: 'small', dataset: 'notes', version: null },
      { path: 'big', dataset: 'blob', version: null },
    ]);
    // Nothing half-written: still the one version; no `notes` version either.
    expect((await client.datasets.list()).map((d) => `${d.name}@${d.version}`)).toEqual(['ckpt@1']);
    expect((await client.datasets.quota('default')).usedBytes).toBe(v1.bytes);

    // Bad outputs are refused at submit, naming the field; nothing is made.
    const before = (await client.tasks.list()).length;
    for (const [outputs, re] of [
      [[{ path: '/tmp/out', dataset: 'x' }], /outputs\.0\.path: "\/tmp\/out" must be relative/],
      [[{ path: 'a/../../b', dataset: 'x' }], /outputs\.0\.path: .*'\.\.' segment/],
      [[{ path: 'out', dataset: 'Not A Name' }], /outputs\.0\.dataset: "Not A Name" is not a dataset name/],
      [[{ path: 'a', dataset: 'x' }, { path: 'b', dataset: 'x' }], /outputs\.1\.dataset: x is output 0's dataset too/],
      [[{ path: 'out' }], /outputs\.0\.dataset: is missing/],
    ] as [{ path: string; dataset?: string }[], RegExp][]) {
      const err = await client.tasks.submit({ command: 'true', outputs } as Parameters<typeof client.tasks.submit>[0]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FastGpuApiError);
      expect((err as FastGpuApiError).status).toBe(400);
      expect((err as Error).message).toMatch(re);
    }
    expect((await client.tasks.list()).length).toBe(before);
  });
});
