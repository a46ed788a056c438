// Children that escape (issue 9 §3): processes a task starts in a new session (`setsid`) or
// behind a double fork are killed with the attempt on exit, cancel and timeout — through the
// attempt's cgroup v2 where the host gives one, else by the environment every descendant carries.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningReport } from '../protocol/agent.js';
import { assignment, killTasks, tempDir, waitFor } from './fixtures/helpers.js';
import { defaultCgroupRoot, SupervisorLauncher } from './launcher.js';

let state: ReturnType<typeof tempDir> | undefined;
let launcher: SupervisorLauncher | undefined;
const strays: number[] = [];

afterEach(() => {
  launcher?.dispose();
  if (state) killTasks(state.dir);
  state?.cleanup();
  for (const p of strays.splice(0)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    // A zombie is dead for our purpose: it waits only for its parent to read its status.
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};

// Two escapes: `setsid sleep` (a new session and group) and a double fork (its parent exits at
// once, so it is reparented away from the task's tree). Their pids go to a file first.
const ESCAPE = (pids: string, then: string): string[] => ['sh', '-c', `setsid sleep 300 & echo $! >> ${pids}; (sh -c 'sleep 301 & echo $! >> ${pids}' &) ; sleep 0.2; ${then}`];

const modes: [string, () => string | null][] = [
  ['cgroup v2', () => defaultCgroupRoot()],
  ['environment sweep (no cgroup)', () => null],
];

for (const [mode, root] of modes) {
  describe(`children that escape: ${mode}`, () => {
    const setup = (): SupervisorLauncher => {
      state = tempDir();
      return (launcher = new SupervisorLauncher({ stateDir: state.dir, baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, cgroupRoot: root() }));
    };
    const exited = (l: SupervisorLauncher, taskId: string): Promise<RunningReport> =>
      waitFor(async () => {
        const r = await l.inspect(taskId, 1);
        return r?.status === 'exited' ? r : undefined;
      }, 20_000, `${taskId} to exit`);
    const escaped = async (pidsFile: string): Promise<number[]> => {
      const pids = await waitFor(() => {
        const ps = existsSync(pidsFile) ? readFileSync(pidsFile, 'utf8').trim().split('\n').filter(Boolean).map(Number) : [];
        return ps.length >= 2 ? ps : undefined;
      }, 10_000, 'the escaped pids');
      strays.push(...pids);
      return pids;
    };

    it('on exit', async () => {
      const l = setup();
      const pidsFile = join(state!.dir, 'pids');
      const a = assignment(ESCAPE(pidsFile, 'exit 0'));
      await l.launch(a);
      const pids = await escaped(pidsFile);
      expect(await exited(l, a.taskId)).toMatchObject({ exitCode: 0 });
      await waitFor(() => (pids.some(alive) ? undefined : true), 10_000, 'the escaped processes to die');
      if (mode.startsWith('cgroup') && l.cgroupRoot) expect(existsSync(join(l.cgroupRoot, `${a.taskId}-1`))).toBe(false);
    });

    it('on cancel', async () => {
      const l = setup();
      const pidsFile = join(state!.dir, 'pids');
      const a = assignment(ESCAPE(pidsFile, 'sleep 300'));
      await l.launch(a);
      const pids = await escaped(pidsFile);
      // Where the host gives a cgroup, the escaped ones are in the attempt's.
      if (l.cgroupRoot) for (const p of pids) expect(readFileSync(`/proc/${p}/cgroup`, 'utf8')).toContain(`/${a.taskId}-1`);
      expect(await l.stop(a.taskId, 1, 5000, 'cancelled')).toBe(true);
      expect(await exited(l, a.taskId)).toMatchObject({ endReason: 'cancelled' });
      await waitFor(() => (pids.some(alive) ? undefined : true), 10_000, 'the escaped processes to die');
    });

    it('on timeout', async () => {
      const l = setup();
      const pidsFile = join(state!.dir, 'pids');
      const a = assignment(ESCAPE(pidsFile, 'sleep 300'), { timeLimitMs: 1500, graceMs: 200 });
      await l.launch(a);
      const pids = await escaped(pidsFile);
      expect(await exited(l, a.taskId)).toMatchObject({ endReason: 'timeout' });
      await waitFor(() => (pids.some(alive) ? undefined : true), 10_000, 'the escaped processes to die');
    });
  });
}
