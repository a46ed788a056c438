// The agent's token never shows in `ps` (issue 9 §5): given with --token it is scrubbed from
// the command line once the agent starts; --token-file and FASTGPU_TOKEN keep it off entirely.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { World, requireBuild } from './harness.js';

let world: World;
beforeAll(requireBuild);
afterEach(async () => world?.cleanup());

const cmdline = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+/g, ' ');

it('--token is scrubbed from /proc/PID/cmdline; --token-file works', async () => {
  world = new World();
  const { url } = await world.up(['--gpus', '1xH100', '--quiet']);
  const token = readFileSync(join(world.dataDir, 'admin.token'), 'utf8').trim();

  const a = world.start(['agent', '--server', url, '--token', token, '--gpus', '1xH100', '--name', 'by-flag', '--state-dir', join(world.home, 'a1')]);
  await a.waitFor(/joined .* as node/);
  expect(cmdline(a.child.pid!)).not.toContain(token);

  const file = join(world.home, 'agent.token');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  const b = world.start(['agent', '--server', url, '--token-file', file, '--gpus', '1xH100', '--name', 'by-file', '--state-dir', join(world.home, 'a2')]);
  await b.waitFor(/joined .* as node/);
  expect(cmdline(b.child.pid!)).not.toContain(token);

  const bad = world.start(['agent', '--server', url, '--token-file', join(world.home, 'missing'), '--gpus', '1xH100']);
  expect((await bad.result()).output).toMatch(/--token-file: cannot read .*ENOENT/);
}, 120_000);
