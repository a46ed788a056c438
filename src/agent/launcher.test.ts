import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SupervisorLauncher, which } from './launcher.js';
import { ManualClock } from '../util/clock.js';
import { assignment, tempDir, waitFor, killTasks, PRINTS_SIGNAL_FILE, STUBBORN } from './fixtures/helpers.js';
import type { RunningReport } from '../protocol/agent.js';

let state: ReturnType<typeof tempDir>;
let launcher: SupervisorLauncher;

beforeEach(() => {
  state = tempDir();
  launcher = new SupervisorLauncher({ stateDir: state.dir, baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', FASTGPU_TOKEN: 'secret', CUDA_VISIBLE_DEVICES: '7' } });
});
afterEach(() => {
  launcher.dispose();
  killTasks(state.dir);
  state.cleanup();
});

const exited = (taskId: string, attempt = 1): Promise<RunningReport> =>
  waitFor(async () => {
    const r = await launcher.inspect(taskId, attempt);
    return r?.status === 'exited' ? r : undefined;
  }, 10_000, `${taskId} to exit`);

const out = (taskId: string, stream = 'stdout'): string => readFileSync(join(launcher.attemptDir(taskId, 1), `${stream}.log`), 'utf8');

describe('SupervisorLauncher', () => {
  it('runs the task with the slice environment and records its exit', async () => {
    const a = assignment(['sh', '-c', 'env; echo oops >&2; exit 3'], { env: { MY_VAR: 'x y', FASTGPU_GPUS: 'forged' } });
    const { launched, report } = await launcher.launch(a);
    expect(launched).toBe(true);
    expect(report.status).toBe('running');
    const r = await exited(a.taskId);
    expect(r).toMatchObject({ status: 'exited', exitCode: 3, signal: null, endReason: 'exit' });
    const env = Object.fromEntries(out(a.taskId).trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(env).toMatchObject({
      MY_VAR: 'x y',
      FASTGPU_TASK_ID: a.taskId,
      FASTGPU_ATTEMPT: '1',
      FASTGPU_TASK_NAME: a.name,
      FASTGPU_NODE: 'box',
      FASTGPU_GPU_MILLI: '500',
      FASTGPU_GPU_MEMORY_MIB: '40960',
      FASTGPU_GPUS: '1',
      FASTGPU_SHARING: 'simulated',
      CUDA_VISIBLE_DEVICES: '1',
      HOME: '/tmp',
      FASTGPU_SIGNAL_FILE: join(launcher.attemptDir(a.taskId, 1), 'signal'),
    });
    expect(env.FASTGPU_TOKEN).toBeUndefined();
    expect(env.CUDA_MPS_PIPE_DIRECTORY).toBeUndefined();
    expect(out(a.taskId, 'stderr')).toBe('oops\n');
    expect(readFileSync(join(launcher.attemptDir(a.taskId, 1), 'pid'), 'utf8')).toMatch(/^\d+ \d+\n$/);
  });

  it('sets the MPS variables in mps mode, by uuid on real GPUs', async () => {
    const a = assignment(['sh', '-c', 'env | grep -E "^(CUDA|FASTGPU_SHARING)" | sort'], {
      placement: { nodeId: 'n', node: 'box', gpus: [0, 2], gpuUuids: ['GPU-aaa', 'GPU-ccc'], gpuMilli: 250, memoryMiB: 20480, cpuMilli: 0, hostMemoryMiB: 0, sharing: 'mps' },
    });
    await launcher.launch(a);
    await exited(a.taskId);
    expect(out(a.taskId)).toBe(
      [
        `CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25`,
        `CUDA_MPS_LOG_DIRECTORY=${join(state.dir, 'mps', 'log')}`,
        `CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=20480M,1=20480M`,
        `CUDA_MPS_PIPE_DIRECTORY=${join(state.dir, 'mps', 'pipe')}`,
        `CUDA_VISIBLE_DEVICES=GPU-aaa,GPU-ccc`,
        `FASTGPU_SHARING=mps`,
        '',
      ].join('\n'),
    );
  });

  it('runs in the workdir and never launches a pair twice', async () => {
    const a = assignment(['sh', '-c', 'pwd; echo run >> count'], { workdir: state.dir });
    expect((await launcher.launch(a)).launched).toBe(true);
    const again = await launcher.launch(a);
    expect(again.launched).toBe(false);
    await exited(a.taskId);
    expect((await launcher.launch(a)).launched).toBe(false);
    expect(readFileSync(join(state.dir, 'count'), 'utf8')).toBe('run\n');
    expect(out(a.taskId)).toBe(`${state.dir}\n`);
  });

  it('reports launch failures: command not found, not executable, bad workdir', async () => {
    const missing = assignment(['no-such-command-xyz', 'arg']);
    const noexec = assignment([join(state.dir, 'plain.txt')]);
    writeFileSync(join(state.dir, 'plain.txt'), 'hi');
    const badDir = assignment(['true'], { workdir: '/nonexistent/dir' });
    for (const a of [missing, noexec, badDir]) await launcher.launch(a);
    expect(await exited(missing.taskId)).toMatchObject({ endReason: 'launch-failed', exitCode: 127, error: 'command not found: no-such-command-xyz' });
    expect(await exited(noexec.taskId)).toMatchObject({ endReason: 'launch-failed', exitCode: 126, error: `command is not executable: ${join(state.dir, 'plain.txt')}` });
    expect(await exited(badDir.taskId)).toMatchObject({ endReason: 'launch-failed', exitCode: 126, error: 'workdir /nonexistent/dir does not exist or is not accessible' });
    expect(out(missing.taskId, 'stderr')).toContain('command not found');
  });

  it('enforces the time limit: SIGTERM, then SIGKILL after the grace period', async () => {
    const polite = assignment(['sh', '-c', 'trap "trap \\"\\" TERM; echo term; exit 0" TERM; while :; do sleep 0.05; done'], { timeLimitMs: 300, graceMs: 5000 });
    const stubborn = assignment(STUBBORN, { timeLimitMs: 1500, graceMs: 300 });
    await launcher.launch(polite);
    await launcher.launch(stubborn);
    const p = await exited(polite.taskId);
    expect(p).toMatchObject({ endReason: 'timeout', exitCode: 124 });
    expect(out(polite.taskId)).toBe('term\n');
    const s = await exited(stubborn.taskId);
    expect(s).toMatchObject({ endReason: 'timeout', exitCode: 137, signal: 'SIGKILL' });
    // SIGTERM first (it said so), the SIGKILL only after the limit and the grace: a lower bound
    // (load only lengthens it) from the supervisor's own stamps (whole ms, hence the 10 ms).
    // No upper bound: a loaded machine may take any time, and the SIGKILL is the proof enough.
    expect(out(stubborn.taskId)).toBe('ready\nignored\n');
    expect(s.endedAt! - s.startedAt!).toBeGreaterThanOrEqual(1500 + 300 - 10);
  });

  it('a task that exits 124 by itself before its limit did not time out', async () => {
    const a = assignment(['sh', '-c', 'exit 124'], { timeLimitMs: 60_000 });
    await launcher.launch(a);
    expect(await exited(a.taskId)).toMatchObject({ endReason: 'exit', exitCode: 124 });
  });

  it('cancels: stop marker first, SIGTERM to the whole process group', async () => {
    const a = assignment(['sh', '-c', 'sleep 30 & sleep 30; echo never']);
    await launcher.launch(a);
    await waitFor(() => existsSync(join(launcher.attemptDir(a.taskId, 1), 'pid')));
    expect(await launcher.stop(a.taskId, 1, 5000, 'cancelled')).toBe(true);
    const r = await exited(a.taskId);
    expect(r).toMatchObject({ endReason: 'cancelled', exitCode: 143, signal: 'SIGTERM' });
    expect(JSON.parse(readFileSync(join(launcher.attemptDir(a.taskId, 1), 'stop'), 'utf8'))).toMatchObject({ reason: 'cancelled' });
    // A pair never launched here is claimed as stopped, so a late assignment cannot start it.
    expect(await launcher.stop('never-launched', 1, 0, 'cancelled')).toBe(true);
    expect(await launcher.inspect('never-launched', 1)).toMatchObject({ status: 'exited', endReason: 'cancelled', exitCode: null, error: 'stopped before it was launched on this node' });
    expect((await launcher.launch(assignment(['true'], { taskId: 'never-launched' }))).launched).toBe(false);
    expect(await launcher.stop('../x', 1, 0, 'cancelled')).toBe(false);
  });

  describe('the lease watch', () => {
    /** Live processes other than `not` whose command line holds `dir` (the supervisor and its watch do). */
    const holding = (dir: string, not: number): number[] =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p) && Number(p) !== not)
        .filter((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir);
          } catch {
            return false;
          }
        })
        .map(Number);
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // Lease deadlines the supervisor (a shell, on the real clock) reads: no clock read here.
    const FAR_FUTURE = 9_999_999_999_999; // the year 2286
    const LONG_PAST = 1;
    const withLease = (deadline: number): { lease: string; fenced: SupervisorLauncher } => {
      const lease = join(state.dir, 'lease');
      writeFileSync(lease, `${deadline} 100\n`);
      return { lease, fenced: new SupervisorLauncher({ stateDir: state.dir, leaseFile: lease, baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp' } }) };
    };

    it("fences a task whose supervisor was killed outright, and ends once the task's group is gone", async () => {
      const { lease, fenced } = withLease(FAR_FUTURE);
      try {
        const a = assignment(['sleep', '60']);
        await fenced.launch(a);
        const dir = fenced.attemptDir(a.taskId, 1);
        const [pgid, sup] = (await waitFor(() => existsSync(join(dir, 'pid')) && readFileSync(join(dir, 'pid'), 'utf8').trim())).split(' ').map(Number) as [number, number];
        const watch = await waitFor(() => holding(dir, sup).filter((p) => p !== pgid)[0], 10_000, 'the lease watch');
        // The supervisor dies (as to the OOM killer); the task runs on, still fenced: once the
        // lease has passed, its watch ends it.
        process.kill(sup, 'SIGKILL');
        writeFileSync(lease, `${LONG_PAST} 100\n`);
        await waitFor(() => !alive(-pgid), 15_000, "the task's group to be fenced");
        await waitFor(() => !alive(watch), 15_000, 'the watch to end');

        // A task group killed from outside, with its supervisor: the watch ends too, rather than
        // looping on a lease that will never be renewed.
        writeFileSync(lease, `${FAR_FUTURE} 100\n`);
        const b = assignment(['sleep', '60'], { taskId: 'second' });
        await fenced.launch(b);
        const dirB = fenced.attemptDir(b.taskId, 1);
        const [pgidB, supB] = (await waitFor(() => existsSync(join(dirB, 'pid')) && readFileSync(join(dirB, 'pid'), 'utf8').trim())).split(' ').map(Number) as [number, number];
        const watchB = await waitFor(() => holding(dirB, supB).filter((p) => p !== pgidB)[0], 10_000, 'the lease watch');
        await waitFor(() => alive(-pgidB), 10_000, "the task's group");
        process.kill(-pgidB, 'SIGKILL');
        process.kill(supB, 'SIGKILL');
        await waitFor(() => !alive(watchB), 15_000, 'the orphaned watch to end');
      } finally {
        fenced.dispose();
      }
    }, 40_000);
  });

  it('the supervisor does not start a task whose stop marker is already there', () => {
    const dir = join(state.dir, 'direct');
    mkdirSync(dir);
    writeFileSync(join(dir, 'stop'), '{}');
    const supervisor = fileURLToPath(new URL('./supervisor.sh', import.meta.url));
    execFileSync('/bin/sh', [supervisor, dir, which('timeout')!, '0', '100', '', '--', 'sh', '-c', `echo ran > ${join(dir, 'ran')}`]);
    expect(readFileSync(join(dir, 'exit'), 'utf8')).toMatch(/^status=143\n/);
    expect(existsSync(join(dir, 'ran'))).toBe(false);
    expect(existsSync(join(dir, 'pid'))).toBe(false);
  });

  it('a stop right after launch ends the task as cancelled', async () => {
    const a = assignment(['sleep', '30']);
    await launcher.launch(a);
    await launcher.stop(a.taskId, 1, 1000, 'cancelled');
    expect(await exited(a.taskId)).toMatchObject({ endReason: 'cancelled' });
  });

  it('preempts: FASTGPU_PREEMPTED=1 is in the signal file before SIGTERM', async () => {
    const a = assignment(PRINTS_SIGNAL_FILE);
    await launcher.launch(a);
    await waitFor(() => existsSync(join(launcher.attemptDir(a.taskId, 1), 'stdout.log')) && out(a.taskId) === 'ready\n');
    await launcher.stop(a.taskId, 1, 5000, 'preempted');
    expect(await exited(a.taskId)).toMatchObject({ endReason: 'preempted', exitCode: 0 });
    expect(out(a.taskId)).toBe('ready\nFASTGPU_PREEMPTED=1\n');
  });

  it('escalates a stop to SIGKILL after the grace period, also after an agent restart', async () => {
    const a = assignment(STUBBORN, { graceMs: 60_000 });
    await launcher.launch(a);
    await waitFor(() => existsSync(join(launcher.attemptDir(a.taskId, 1), 'stdout.log')) && out(a.taskId) === 'ready\n');
    await launcher.stop(a.taskId, 1, 400, 'cancelled');
    // The agent "crashes" before its timer fires; a new one finishes the escalation.
    launcher.dispose();
    launcher = new SupervisorLauncher({ stateDir: state.dir });
    const reports = await launcher.scan();
    const found = reports.find((r) => r.report.taskId === a.taskId);
    expect(found?.report.status).toBe('running');
    expect(found?.placement).toEqual(a.placement);
    const r = await exited(a.taskId);
    expect(r).toMatchObject({ endReason: 'cancelled', signal: 'SIGKILL' });
  });

  it('forgets an attempt but keeps a tombstone', async () => {
    const a = assignment(['true']);
    await launcher.launch(a);
    await exited(a.taskId);
    await launcher.forget(a.taskId, 1);
    expect(readdirSync(launcher.attemptDir(a.taskId, 1))).toEqual(['forgotten']);
    expect(await launcher.inspect(a.taskId, 1)).toBeUndefined();
    expect((await launcher.scan()).some((r) => r.report.taskId === a.taskId)).toBe(false);
    expect((await launcher.launch(a)).launched).toBe(false);
  });

  it('prunes tombstones after a week', async () => {
    const clock = new ManualClock(Date.now());
    launcher.dispose();
    launcher = new SupervisorLauncher({ stateDir: state.dir, clock });
    const a = assignment(['true']);
    await launcher.launch(a);
    await exited(a.taskId);
    await launcher.forget(a.taskId, 1);
    await launcher.scan();
    expect(existsSync(launcher.attemptDir(a.taskId, 1))).toBe(true);
    clock.advance(8 * 24 * 3600_000);
    await launcher.scan();
    expect(existsSync(join(state.dir, 'tasks', a.taskId))).toBe(false);
  });

  describe('an agent that stops in the middle of a launch', () => {
    const supervisor = fileURLToPath(new URL('./supervisor.sh', import.meta.url));
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    /** What launch() leaves on disk when the agent dies after its mkdir, before the supervisor runs. */
    const crashedLaunch = (taskId: string, launchedAt: number, spec = true): string => {
      const dir = launcher.attemptDir(taskId, 1);
      mkdirSync(dir, { recursive: true });
      const a = assignment(['sh', '-c', `echo ran >> ${join(state.dir, 'ran')}`], { taskId });
      if (spec) writeFileSync(join(dir, 'spec.json'), JSON.stringify({ taskId, attempt: 1, launchedAt, bootId, graceMs: a.graceMs, assignment: a }));
      return dir;
    };
    const lateSupervisor = (dir: string): void => {
      execFileSync('/bin/sh', [supervisor, dir, which('timeout')!, '0', '100', '', '--', 'sh', '-c', `echo ran >> ${join(state.dir, 'ran')}`]);
    };

    it('after the start grace, an attempt whose supervisor never started ends never-started, and a late supervisor does not run it', async () => {
      const clock = new ManualClock(Date.now());
      launcher.dispose();
      launcher = new SupervisorLauncher({ stateDir: state.dir, clock, startGraceMs: 5_000 });
      const dir = crashedLaunch('crashed', clock.now());
      // Within the grace the supervisor may still be on its way: running, not yet started.
      expect(await launcher.inspect('crashed', 1)).toEqual({ taskId: 'crashed', attempt: 1, status: 'running' });
      clock.advance(5_000);
      const r = await launcher.inspect('crashed', 1);
      expect(r).toEqual({ taskId: 'crashed', attempt: 1, status: 'exited', endedAt: clock.now(), exitCode: null, signal: null, endReason: 'never-started', error: 'the agent stopped before the task was started' });
      expect(readFileSync(join(dir, 'claim'), 'utf8')).toBe('agent\n');
      const exit = readFileSync(join(dir, 'exit'), 'utf8');
      lateSupervisor(dir);
      expect(existsSync(join(state.dir, 'ran'))).toBe(false);
      expect(readFileSync(join(dir, 'exit'), 'utf8')).toBe(exit);
      // Another restart reads the same outcome; the pair is never launched again.
      launcher.dispose();
      launcher = new SupervisorLauncher({ stateDir: state.dir, clock, startGraceMs: 5_000 });
      expect((await launcher.scan()).map((s) => s.report)).toEqual([r]);
      expect((await launcher.launch(assignment(['true'], { taskId: 'crashed' }))).launched).toBe(false);
    });

    it('a claim won by the agent stops a supervisor even when the agent died before it recorded the outcome', async () => {
      const dir = crashedLaunch('claimed', Date.now() - 60_000);
      writeFileSync(join(dir, 'claim'), 'agent\n');
      lateSupervisor(dir);
      expect(existsSync(join(state.dir, 'ran'))).toBe(false);
      expect(await launcher.inspect('claimed', 1)).toMatchObject({ status: 'exited', endReason: 'never-started', exitCode: null });
    });

    it('a folder without its spec (the crash came right after the mkdir) ends never-started too', async () => {
      launcher.dispose();
      // Without a spec the folder's own time says when the launch began: a minute ago, here.
      launcher = new SupervisorLauncher({ stateDir: state.dir, clock: new ManualClock(Date.now() + 60_000), startGraceMs: 5_000 });
      crashedLaunch('bare', 0, false);
      expect(await launcher.inspect('bare', 1)).toMatchObject({ status: 'exited', endReason: 'never-started', exitCode: null });
    });

    it('after a reboot, an attempt that never started ends never-started', async () => {
      const dir = crashedLaunch('rebooted', Date.now());
      const spec = JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8'));
      writeFileSync(join(dir, 'spec.json'), JSON.stringify({ ...spec, bootId: 'an-earlier-boot' }));
      expect(await launcher.inspect('rebooted', 1)).toMatchObject({ status: 'exited', endReason: 'never-started', error: 'the machine restarted before the task was started' });
    });

    it('a supervisor that claimed the launch but has not written its pid yet is re-attached, not given up on', async () => {
      launcher.dispose();
      launcher = new SupervisorLauncher({ stateDir: state.dir, startGraceMs: 0 });
      const dir = crashedLaunch('slow', Date.now() - 60_000);
      // A stand-in for a supervisor still starting: alive, with the attempt's folder in its argv.
      const sup = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', dir], { stdio: 'ignore' });
      try {
        await waitFor(() => sup.pid !== undefined && readFileSync(`/proc/${sup.pid}/cmdline`, 'utf8').includes(dir));
        writeFileSync(join(dir, 'claim'), `${sup.pid}\n`);
        expect(await launcher.inspect('slow', 1)).toEqual({ taskId: 'slow', attempt: 1, status: 'running' });
        expect(existsSync(join(dir, 'exit'))).toBe(false);
      } finally {
        sup.kill('SIGKILL');
      }
      await new Promise((r) => sup.once('exit', r));
      // It died between its claim and its pid: whether the task began is unknown, and said so.
      expect(await launcher.inspect('slow', 1)).toMatchObject({ status: 'exited', endReason: 'exit', exitCode: null, error: "the supervisor ended before it recorded the task's pid" });
    });

    it('a launch records the supervisor as the claim holder', async () => {
      const a = assignment(['true']);
      await launcher.launch(a);
      await exited(a.taskId);
      expect(readFileSync(join(launcher.attemptDir(a.taskId, 1), 'claim'), 'utf8')).toMatch(/^\d+\n$/);
    });
  });

  it('a supervisor that cannot be spawned ends the attempt never-started (a node problem, not the task\'s)', async () => {
    const broken = new SupervisorLauncher({ stateDir: state.dir, shell: join(state.dir, 'no-such-shell') });
    try {
      const a = assignment(['true']);
      const ended = new Promise<void>((resolve) => broken.onExit((id) => id === a.taskId && resolve()));
      expect((await broken.launch(a)).launched).toBe(true);
      await ended;
      expect(await broken.inspect(a.taskId, 1)).toEqual({
        taskId: a.taskId,
        attempt: 1,
        status: 'exited',
        endedAt: expect.any(Number),
        exitCode: null,
        signal: null,
        endReason: 'never-started',
        error: expect.stringMatching(/^could not start the supervisor: spawn .*no-such-shell ENOENT$/),
      });
    } finally {
      broken.dispose();
    }
  });

  it('refuses a task id that is not a safe folder name', async () => {
    const r = await launcher.launch(assignment(['true'], { taskId: '../escape' }));
    expect(r).toMatchObject({ launched: false, report: { endReason: 'launch-failed' } });
  });
});
