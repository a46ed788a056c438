// The fault suite (issue 9), a real full disk: the server's data dir on a small tmpfs that a
// file then fills to the last byte, while a task writes megabytes of logs and reports its exit.
// What must hold: clear errors that name the disk, /healthz degraded, nothing half-written
// (memory and store agree, also after a restart), and recovery once space is freed: every
// acknowledged task is there, finished, with every byte of its logs.
// Mounting needs root (and a host that allows it): where it is refused, the test says why and skips.
import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cluster, joined, submit, TIMEOUT_MS, type Cluster } from './faults-harness.js';
import { fill, mountTmpfs, unmount } from './faults-disk.js';
import { World, requireBuild, until } from './harness.js';

let world: World | undefined;
let mounted: string | undefined;
beforeAll(requireBuild);
afterEach(async () => {
  // Best-effort cleanup: a failed test's own error is the one to read.
  await world?.cleanup().catch(() => {});
  if (mounted) await unmount(mounted);
  world = undefined;
  mounted = undefined;
});

async function health(c: Cluster): Promise<{ status: number; text: string }> {
  const res = await fetch(`${c.url}/healthz`);
  return { status: res.status, text: await res.text() };
}

const LINES = 40_000; // ≈ 4 MiB of log, on a 24 MiB data disk
const line = (i: number): string => `line ${String(i).padStart(6, '0')} ${'x'.repeat(90)}`;

describe('faults', () => {
  it('a full disk under the data dir: clear errors naming the disk, /healthz degraded, nothing half-written, recovery once space is freed', async (ctx) => {
    world = new World();
    mkdirSync(world.dataDir, { recursive: true });
    try {
      await mountTmpfs(world.dataDir, '24m');
      mounted = world.dataDir;
    } catch (e) {
      process.stdout.write(`faults-disk-full: skipped: cannot mount a tmpfs for the data dir here (${(e as Error).message.split('\n')[0]}); it needs root and a host that allows mounts\n`);
      ctx.skip();
      return;
    }
    const c = await cluster(world, ['--node-lost-after', '8s']);
    // The agent's state dir is on the ordinary disk: only the server's store fills up.
    await joined(c, 'node-a');
    const early = await submit(c, 0, '0.25', 'echo early');
    await until('the early task', async () => ((await c.client.tasks.get(early)).state === 'SUCCEEDED' ? true : undefined), 30_000, 200);
    const go = join(world.home, 'go');
    const noisy = await submit(c, 0, '0.25', `while [ ! -e ${go} ]; do sleep 0.05; done; i=0; while [ $i -lt ${LINES} ]; do printf 'line %06d %s\\n' $i ${'x'.repeat(90)}; i=$((i+1)); done`);
    await until('the noisy task running', async () => ((await c.client.tasks.get(noisy)).state === 'RUNNING' ? true : undefined), 30_000, 200);

    const filler = join(world.dataDir, 'filler');
    const took = fill(filler);
    expect(took).toBeGreaterThan(0);
    // 4 MiB of logs need pages the full disk cannot give.
    closeSync(openSync(go, 'w'));
    const degraded = await until(
      '/healthz degraded',
      async () => {
        const h = await health(c);
        return h.status === 503 ? h : undefined;
      },
      60_000,
      100,
    );
    expect(degraded.text).toMatch(/degraded: .*(disk is full|no space left)/i);
    expect(c.server.output).toMatch(/DEGRADED: .*(disk is full|no space left)/i);
    // A submit now is refused with a message that names the disk; nothing is made.
    // Every acknowledged task is listed, also one whose end is not stored yet.
    const before = (await c.client.tasks.list({ all: true })).length;
    expect(before).toBe(2);
    const refused = await world.cli(['run', '-d', '--gpu', '0.25', '--cpu', '10m', '--memory', '16MiB', '--', 'true'], { env: c.env });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/disk is full|no space left/i);
    // The server is alive and reads work.
    expect((await c.client.tasks.get(early)).state).toBe('SUCCEEDED');

    rmSync(filler);
    await until(
      '/healthz healthy again',
      async () => ((await health(c)).status === 200 ? true : undefined),
      60_000,
      200,
    );
    await until('the noisy task finished', async () => ((await c.client.tasks.get(noisy)).state === 'SUCCEEDED' ? true : undefined), 60_000, 200);
    const expected = Array.from({ length: LINES }, (_, i) => `${line(i)}\n`).join('');
    const logsOf = async (): Promise<string> => {
      let text = '';
      let after: number | undefined;
      for (;;) {
        const page = await c.client.tasks.logs(noisy, after === undefined ? {} : { after });
        text += page.chunks.map((ch) => ch.data).join('');
        if (page.chunks.length === 0) return text;
        after = page.next;
      }
    };
    await until('every byte of the logs', async () => ((await logsOf()) === expected ? true : undefined), 60_000, 500);
    const after = await c.client.tasks.list({ all: true });
    expect(after.length).toBe(before);
    // Nothing half-written: a restarted server reads the same from its store.
    const states = Object.fromEntries(after.map((t) => [t.id, t.state]));
    await c.server.kill9();
    const again = await cluster(world, ['--node-lost-after', '8s']);
    const reread = await again.client.tasks.list({ all: true });
    expect(Object.fromEntries(reread.map((t) => [t.id, t.state]))).toEqual(states);
    expect(states[noisy]).toBe('SUCCEEDED');
    // And new work is taken again.
    const later = await submit(again, 0, '0.25', 'true');
    expect(later).toMatch(/^t_/);
  }, TIMEOUT_MS * 2);
});
