// `up` and `server` as daemons: the default simulated GPUs and the line saying so, a clean
// stop on SIGINT/SIGTERM, and tasks that keep running while FastGPU is down.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { World, requireBuild, until } from './harness.js';

/** Generous: the 2-core machine these run on is often shared and loaded. */
const TIMEOUT_MS = 120_000;

let world: World;
beforeAll(requireBuild);
afterEach(async () => world?.cleanup());

describe('daemons', () => {
  it('up defaults to 2 simulated H100s and says why; Ctrl-C stops it and the task keeps running', async () => {
    world = new World();
    // A PATH without nvidia-smi, but with the tools tasks use.
    const path = '/usr/bin:/bin';
    const first = world.start(['up', '--port', '0', '--data-dir', world.dataDir, '--quiet'], { PATH: path });
    await first.waitFor(/FastGPU is up at/);
    expect(first.output).toMatch(/using 2 simulated GPUs \(2xH100-80GB\): no nvidia-smi found/);
    const done = join(world.home, 'done');
    const gate = join(world.home, 'gate');
    // The task runs until the gate opens, which happens only once FastGPU is down.
    const r = await world.cli(['run', '-d', '--gpu', '1', '--', 'sh', '-c', `while [ ! -e ${gate} ]; do sleep 0.05; done; touch ${done}`]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const id = r.stdout.trim();
    const client = world.client();
    await until('the task to run', async () => ((await client.tasks.get(id)).state === 'RUNNING' ? true : undefined));
    const shown = JSON.parse((await world.cli(['get', id, '--output', 'json'])).stdout) as { state: string; history: unknown[] };
    expect(shown).toMatchObject({ state: 'RUNNING', history: [expect.objectContaining({ attempt: 1 })] });

    first.child.kill('SIGINT');
    expect(await first.result()).toMatchObject({ exit: 0 });
    expect(first.output).toMatch(/SIGINT: stopping \(running tasks keep going\)/);
    writeFileSync(gate, '');
    await until('the task to finish while FastGPU is down', () => (existsSync(done) ? true : undefined), 10_000);

    await world.up(['--quiet']);
    const w = await world.cli(['wait', id, '--timeout', '30s']);
    expect(w.stdout).toBe(`${id} SUCCEEDED exit 0\n`);
    expect(w.code).toBe(0);
  }, TIMEOUT_MS);

  it('server stops cleanly on SIGTERM', async () => {
    world = new World();
    const server = world.start(['server', '--port', '0', '--data-dir', world.dataDir, '--quiet']);
    await server.waitFor(/listening at/);
    server.child.kill('SIGTERM');
    expect(await server.result()).toMatchObject({ exit: 0 });
  }, TIMEOUT_MS);
});
