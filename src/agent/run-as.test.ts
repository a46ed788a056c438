// Tasks run as an unprivileged user (issue 9 §5, agent `runAs`): a task cannot read another
// task's spec (its env, with its secrets), its logs, nor the admin token; it can read its own
// signal file. Needs root (the agent switches users); as any other user the option refuses.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { RunningReport } from '../protocol/agent.js';
import { assignment, killTasks, tempDir, waitFor } from './fixtures/helpers.js';
import { resolveRunAs, SupervisorLauncher } from './launcher.js';

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
