import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../util/clock.js';
import { tempDir, waitFor } from './fixtures/helpers.js';
import { MpsDaemon } from './mps.js';

const FAKE = fileURLToPath(new URL('./fixtures/nvidia-cuda-mps-control', import.meta.url));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function gone(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /\) [ZX]/.test(s);
  } catch {
    return true;
  }
}

function daemon(over: Partial<ConstructorParameters<typeof MpsDaemon>[0]> = {}): { mps: MpsDaemon; dir: string; lines: string[] } {
  const { dir, cleanup } = tempDir('fastgpu-mps-');
  const lines: string[] = [];
  const mps = new MpsDaemon({ pipeDir: join(dir, 'pipe'), logDir: join(dir, 'log'), controlBin: FAKE, checkEveryMs: 0, log: (l) => lines.push(l), ...over });
  cleanups.push(cleanup, () => mps.stop());
  return { mps, dir, lines };
}

const pidOf = (dir: string): number => Number(readFileSync(join(dir, 'pipe', 'nvidia-cuda-mps-control.pid'), 'utf8'));

describe('MpsDaemon', () => {
  it('starts the control daemon with its own pipe and log folders and sees it answer', async () => {
    const { mps, dir } = daemon();
    const h = await mps.start();
    expect(h).toMatchObject({ state: 'ok', restarts: 0, pipeDir: join(dir, 'pipe'), logDir: join(dir, 'log') });
    expect(gone(pidOf(dir))).toBe(false);
    const log = readFileSync(join(dir, 'log', 'control.log'), 'utf8');
    expect(log).toContain('Control daemon started');
    expect(log).toContain('get_server_list');
  });

  it('adopts a daemon already answering on the same pipe folder instead of starting a second', async () => {
    const { mps, dir } = daemon();
    await mps.start();
    const pid = pidOf(dir);
    const again = new MpsDaemon({ pipeDir: join(dir, 'pipe'), logDir: join(dir, 'log'), controlBin: FAKE, checkEveryMs: 0 });
    expect((await again.start()).state).toBe('ok');
    expect(pidOf(dir)).toBe(pid);
  });

  it('restarts the daemon when it dies, and counts the restart', async () => {
    const { mps, dir, lines } = daemon();
    await mps.start();
    const pid = pidOf(dir);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => gone(pid), 5_000, 'the daemon to die');
    const h = await mps.check();
    expect(h).toMatchObject({ state: 'ok', restarts: 1 });
    expect(pidOf(dir)).not.toBe(pid);
    expect(gone(pidOf(dir))).toBe(false);
    expect(lines.some((l) => l.includes('does not answer'))).toBe(true);
    expect(lines.some((l) => l.includes('restarted the control daemon'))).toBe(true);
  });

  it('tells the daemon to quit on stop, and it is gone', async () => {
    const { mps, dir } = daemon();
    await mps.start();
    const pid = pidOf(dir);
    await mps.stop();
    expect(gone(pid)).toBe(true);
    expect(mps.health().state).toBe('stopped');
    expect(readFileSync(join(dir, 'log', 'control.log'), 'utf8')).toContain('quit');
    // Stopped means stopped: a late check does not bring it back.
    expect((await mps.check()).state).toBe('stopped');
  });

  it('reports down, naming the program, when there is no MPS on the machine', async () => {
    const { mps } = daemon({ controlBin: '/nonexistent/nvidia-cuda-mps-control' });
    const h = await mps.start();
    expect(h.state).toBe('down');
    expect(h.detail).toMatch(/nvidia-cuda-mps-control not found/);
  });

  it('reports down when the daemon starts but never answers', async () => {
    const { dir, cleanup } = tempDir('fastgpu-mps-mute-');
    cleanups.push(cleanup);
    const mute = join(dir, 'mute-mps-control');
    writeFileSync(mute, '#!/bin/sh\n[ "$1" = -d ] && exit 0\necho "cannot connect" >&2; exit 1\n');
    chmodSync(mute, 0o755);
    const clock = new ManualClock();
    const mps = new MpsDaemon({ pipeDir: join(dir, 'p'), logDir: join(dir, 'l'), controlBin: mute, checkEveryMs: 0, clock, startTimeoutMs: 1_000, pause: async (ms) => clock.advance(ms) });
    const h = await mps.start();
    expect(h.state).toBe('down');
    expect(h.detail).toBe('started, but does not answer: cannot connect');
  });
});
