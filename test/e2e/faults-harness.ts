// What the fault suite's files share (issue 9): a real `fastgpu server` with agents joined to it
// under a short lease, tasks submitted through the CLI, and SIGSTOP/SIGCONT of a daemon.
// Short leases keep the suite within CI's minutes: with --node-lost-after 8s an agent heartbeats
// every second, its tasks are fenced 6 s after the last renewal (SIGKILL at 7 s), LOST comes at
// 8 s, and a LOST node's requeued tasks wait one more lease (at least 15 s) for its late exit reports.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { FastGPU } from '../../src/sdk/index.js';
import { until, type Daemon, type World } from './harness.js';

export const TIMEOUT_MS = 120_000;

export interface Cluster {
  world: World;
  url: string;
  token: string;
  server: Daemon;
  client: FastGPU;
  env: NodeJS.ProcessEnv;
}

/** `fastgpu server` on an ephemeral port in the world's data dir. */
export async function cluster(world: World, extra: string[] = []): Promise<Cluster> {
  const server = world.start(['server', '--port', '0', '--data-dir', world.dataDir, ...extra]);
  const url = (await server.waitFor(/listening at (http:\/\/\S+)/))[1]!;
  const token = readFileSync(join(world.dataDir, 'admin.token'), 'utf8').trim();
  return { world, url, token, server, client: new FastGPU({ url, token }), env: { FASTGPU_URL: url, FASTGPU_TOKEN: token } };
}

/** The state dir of the `n`th agent started under `name`. */
export const stateDir = (c: Cluster, name: string, n = 1): string => join(c.world.home, `agent-${name}-${n}`);

/** `fastgpu agent` with one simulated H100. */
export function agent(c: Cluster, name: string, dir = stateDir(c, name)): Daemon {
  return c.world.start(['agent', '--server', c.url, '--token', c.token, '--gpus', '1xH100', '--name', name, '--state-dir', dir]);
}

/** An agent, once it has joined. */
export async function joined(c: Cluster, name: string, dir?: string): Promise<Daemon> {
  const a = agent(c, name, dir);
  await a.waitFor(/joined/);
  return a;
}

/** `fastgpu run -d`: the task id. */
export async function submit(c: Cluster, retries: number, gpu: string, script: string): Promise<string> {
  const r = await c.world.cli(['run', '-d', '--gpu', gpu, '--cpu', '10m', '--memory', '16MiB', '--retries', String(retries), '--', 'sh', '-c', script], { env: c.env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

export const stateOf = async (c: Cluster, id: string): Promise<string> => (await c.client.tasks.get(id)).state;

export const running = (c: Cluster, id: string): Promise<boolean> => until(`${id} running`, async () => ((await stateOf(c, id)) === 'RUNNING' ? true : undefined), 60_000, 100);

/** Resolves once the node named `name` is in `state`. */
export const nodeIs = (c: Cluster, name: string, state: string, ms = 30_000): Promise<boolean> =>
  until(`${name} ${state}`, async () => ((await c.client.nodes()).find((n) => n.name === name)?.state === state ? true : undefined), ms, 200);

export function pause(d: Daemon): void {
  d.child.kill('SIGSTOP');
}

export function resume(d: Daemon): void {
  d.child.kill('SIGCONT');
}
