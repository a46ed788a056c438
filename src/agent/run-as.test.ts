// Tasks run as an unprivileged user (issue 9 §5, agent `runAs`): a task cannot read another
// task's spec (its env, with its secrets), its logs, nor the admin token; it can read its own
// signal file. Needs root (the agent switches users); as any other user the option refuses.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningReport } from '../protocol/agent.js';
import { assignment, killTasks, tempDir, waitFor } from './fixtures/helpers.js';
import { resolveRunAs, SupervisorLauncher, which } from './launcher.js';
import { compileRunAs, passwdUids, pickTaskUid, settleDefault, TASK_UID_RANGE, thisHost, untraversableAbove, type RunAsHost } from './task-user.js';

let state: ReturnType<typeof tempDir> | undefined;
let launcher: SupervisorLauncher | undefined;
afterEach(() => {
  launcher?.dispose();
  if (state) killTasks(state.dir);
  state?.cleanup();
});

const root = process.getuid?.() === 0;

it(root ? 'a task run as nobody reads neither another task’s spec or logs nor the admin token' : 'run-as refuses without root', async () => {
  if (!root) {
    expect(() => resolveRunAs('nobody')).toThrow(/needs an agent running as root/);
    return;
  }
  state = tempDir();
  // The data dir as `up` makes it: 0700 around the admin token (0600) — but traversable where
  // the agent's state dir lies, so that a task reaches its own signal file.
  const data = join(state.dir, 'data');
  mkdirSync(data, { mode: 0o700 });
  writeFileSync(join(data, 'admin.token'), 'admin-secret\n', { mode: 0o600 });
  chmodSync(state.dir, 0o711);
  const agentDir = join(state.dir, 'agent');
  launcher = new SupervisorLauncher({ stateDir: agentDir, runAs: 'nobody', baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  chmodSync(agentDir, 0o711);

  const victim = assignment(['sh', '-c', 'echo victim-output; sleep 30'], { env: { API_KEY: 'tenant-a-secret' } });
  await launcher.launch(victim);
  const vdir = launcher.attemptDir(victim.taskId, 1);
  await waitFor(() => (existsSync(join(vdir, 'stdout.log')) && readFileSync(join(vdir, 'stdout.log'), 'utf8') !== '' ? true : undefined), 10_000, 'the victim to print');
  expect(statSync(join(vdir, 'spec.json')).mode & 0o777).toBe(0o600);

  const spy = assignment(['sh', '-c', [
    'id -u',
    `cat ${join(vdir, 'spec.json')} && echo READ-SPEC`,
    `cat ${join(vdir, 'stdout.log')} && echo READ-LOG`,
    `cat ${join(data, 'admin.token')} && echo READ-TOKEN`,
    `ls ${join(agentDir, 'tasks')} && echo LISTED`,
    'cat "$FASTGPU_SIGNAL_FILE" && echo SIGNAL-OK',
    'true',
  ].join('; ')]);
  await launcher.launch(spy);
  const r = await waitFor(async () => {
    const x: RunningReport | undefined = await launcher!.inspect(spy.taskId, 1);
    return x?.status === 'exited' ? x : undefined;
  }, 20_000, 'the spy to exit');
  expect(r.exitCode).toBe(0);
  const out = readFileSync(join(launcher.attemptDir(spy.taskId, 1), 'stdout.log'), 'utf8');
  const err = readFileSync(join(launcher.attemptDir(spy.taskId, 1), 'stderr.log'), 'utf8');
  expect(out.split('\n')[0]).toBe('65534');
  expect(out).not.toMatch(/READ-SPEC|READ-LOG|READ-TOKEN|LISTED|tenant-a-secret|admin-secret|victim-output/);
  expect(out).toMatch(/SIGNAL-OK/);
  expect(err).toMatch(/Permission denied/);
}, 60_000);

/** The uid a task's first line printed, once it exited 0. */
async function exitedOk(l: SupervisorLauncher, taskId: string): Promise<string> {
  const r = await waitFor(async () => {
    const x = await l.inspect(taskId, 1);
    return x?.status === 'exited' ? x : undefined;
  }, 20_000, `${taskId} to exit`);
  const out = readFileSync(join(l.attemptDir(taskId, 1), 'stdout.log'), 'utf8');
  expect(r.exitCode, out + readFileSync(join(l.attemptDir(taskId, 1), 'stderr.log'), 'utf8')).toBe(0);
  return out;
}

it(root ? "a root agent's default: each task runs as a uid of its own, and cannot read another task's environment" : 'the root default needs root', async () => {
  if (!root) return;
  state = tempDir();
  chmodSync(state.dir, 0o711);
  const agentDir = join(state.dir, 'agent');
  // What startAgent compiles when no --run-as is given (and $FASTGPU_RUN_AS is not set).
  const runAs = compileRunAs(undefined, thisHost(which('setpriv')));
  expect(runAs.kind).toBe('per-task');
  launcher = new SupervisorLauncher({ stateDir: agentDir, runAs, baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  chmodSync(agentDir, 0o711);

  const victim = assignment(['sh', '-c', 'echo $$ > "$FASTGPU_RESULT.pid" 2>/dev/null; id -u; exec sleep 30'], { env: { API_KEY: 'tenant-a-secret' } });
  await launcher.launch(victim);
  const vdir = launcher.attemptDir(victim.taskId, 1);
  await waitFor(() => (existsSync(join(vdir, 'stdout.log')) && readFileSync(join(vdir, 'stdout.log'), 'utf8').endsWith('\n') ? true : undefined), 10_000, 'the victim to print');
  const victimUid = Number(readFileSync(join(vdir, 'stdout.log'), 'utf8').trim());
  // The victim's process (sleep, as its own uid): its environ holds the secret.
  const victimPid = Number(readFileSync(join(vdir, 'pid'), 'utf8').split(' ')[0]);
  const sleeper = (): number | undefined => {
    for (const p of [victimPid, ...readFileSync(`/proc/${victimPid}/task/${victimPid}/children`, 'utf8').trim().split(/\s+/).map(Number)]) {
      try {
        if (readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep')) return p;
      } catch {
        // gone
      }
    }
    return undefined;
  };
  const pid = await waitFor(() => { try { return sleeper(); } catch { return undefined; } }, 10_000, "the victim's sleep");
  expect(readFileSync(`/proc/${pid}/environ`, 'utf8')).toContain('API_KEY=tenant-a-secret'); // as root, it is there

  const spy = assignment(['sh', '-c', [
    'id -u',
    `cat /proc/${pid}/environ && echo READ-ENV`,
    `kill -0 ${pid} && echo SIGNALLED`,
    'echo \'{"ok": true}\' > "$FASTGPU_RESULT"',
    'echo done',
  ].join('; ')]);
  await launcher.launch(spy);
  const out = await exitedOk(launcher, spy.taskId);
  const spyUid = Number(out.split('\n')[0]);
  const { first, last } = TASK_UID_RANGE;
  for (const uid of [victimUid, spyUid]) expect(uid >= first && uid <= last, `uid ${uid}`).toBe(true);
  expect(spyUid).not.toBe(victimUid);
  expect(out).not.toMatch(/READ-ENV|SIGNALLED|tenant-a-secret/);
  expect(out).toMatch(/done/);
  const err = readFileSync(join(launcher.attemptDir(spy.taskId, 1), 'stderr.log'), 'utf8');
  expect(err).toMatch(/environ: Permission denied/);
  expect(err).toMatch(/Operation not permitted/);
  // Its result file is its own, alone, and what it wrote is read back.
  const result = join(launcher.attemptDir(spy.taskId, 1), 'result.json');
  const st = statSync(result);
  expect([st.uid, st.mode & 0o777]).toEqual([spyUid, 0o600]);
  expect(JSON.parse(readFileSync(result, 'utf8'))).toEqual({ ok: true });
  // The victim's uid is still taken: a third task gets another one.
  const third = assignment(['id', '-u']);
  await launcher.launch(third);
  expect(Number((await exitedOk(launcher, third.taskId)).trim())).not.toBe(victimUid);
}, 60_000);

describe('compileRunAs', () => {
  const host = (o: Partial<RunAsHost> = {}): RunAsHost => ({
    isRoot: true,
    setpriv: '/usr/bin/setpriv',
    lookup: (u) => (u === 'nobody' || u === '65534' ? [65534, 65534] : u === 'root' ? [0, 0] : undefined),
    ...o,
  });

  it('root: a uid per task by default; `root` opts out; a user is every task’s', () => {
    expect(compileRunAs(undefined, host())).toEqual({ kind: 'per-task', ...TASK_UID_RANGE, setpriv: '/usr/bin/setpriv' });
    expect(compileRunAs('per-task', host()).kind).toBe('per-task');
    expect(compileRunAs('root', host())).toEqual({ kind: 'agent', optedOut: true });
    expect(compileRunAs('nobody', host())).toEqual({ kind: 'user', user: 'nobody', uid: 65534, gid: 65534, setpriv: '/usr/bin/setpriv' });
    expect(() => compileRunAs('ghost', host())).toThrow('--run-as: no user "ghost" on this host');
    expect(() => compileRunAs('0', host({ lookup: () => [0, 0] }))).toThrow(/must not be root .*--run-as root/);
    expect(() => compileRunAs(undefined, host({ setpriv: undefined }))).toThrow(/setpriv .*--run-as root/);
  });

  it('not root: tasks run as the agent, and switching users is refused with the reason', () => {
    const user = host({ isRoot: false });
    expect(compileRunAs(undefined, user)).toEqual({ kind: 'agent', optedOut: false });
    expect(compileRunAs('root', user)).toEqual({ kind: 'agent', optedOut: false });
    expect(() => compileRunAs('per-task', user)).toThrow(/needs an agent running as root/);
    expect(() => compileRunAs('nobody', user)).toThrow(/needs an agent running as root/);
  });

  it('picks a free uid in the range, from a random start, and says when there is none', () => {
    const range = { first: 10, last: 14 };
    expect(pickTaskUid(range, new Set(), new Set(), () => 0)).toBe(10);
    expect(pickTaskUid(range, new Set([13]), new Set([14]), () => 0.6)).toBe(10); // 13 taken, 14 busy, wraps
    expect(() => pickTaskUid(range, new Set([10, 11, 12]), new Set([13, 14]))).toThrow('no free task uid in 10–14: 5 tasks run already');
    expect(passwdUids().has(0)).toBe(true);
  });

  it('names the folder above a state dir that other users cannot traverse', () => {
    const t = tempDir();
    try {
      mkdirSync(join(t.dir, 'open', 'state'), { recursive: true });
      chmodSync(t.dir, 0o700);
      expect(untraversableAbove(join(t.dir, 'open', 'state'))).toBe(t.dir);
      // A state dir not made yet is judged by the folders above it (the agent makes it later).
      expect(untraversableAbove(join(t.dir, 'open', 'new', 'state', 'tasks'))).toBe(t.dir);
      chmodSync(t.dir, 0o711);
      expect(untraversableAbove(join(t.dir, 'open', 'state'))).toBe(untraversableAbove(t.dir));
    } finally {
      t.cleanup();
    }
  });

  it('the default per-task uids give way where a task could not reach its files; a --run-as given is kept', () => {
    const perTask = compileRunAs(undefined, host());
    // `fastgpu up` as root: the state dir sits in the 0700 data dir.
    expect(settleDefault(perTask, false, '/root/.fastgpu/data')).toEqual({ kind: 'agent', optedOut: false, closedAt: '/root/.fastgpu/data' });
    expect(settleDefault(perTask, false, undefined)).toBe(perTask);
    expect(settleDefault(perTask, true, '/root/.fastgpu/data')).toBe(perTask);
    const nobody = compileRunAs('nobody', host());
    expect(settleDefault(nobody, true, '/root')).toBe(nobody);
  });
});
