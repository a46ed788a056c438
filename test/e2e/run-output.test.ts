// `fastgpu run` prints every byte (issue 9 §3): a task that prints megabytes and exits at once
// used to be reported finished while its agent was still shipping the log (a fixed 5 s margin),
// and `run` stopped with the task, short of the end. Byte-exact, through `fastgpu up`.
import { createHash } from 'node:crypto';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { World, requireBuild } from './harness.js';

let world: World;
beforeAll(requireBuild);
afterEach(async () => world?.cleanup());

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

it('run of a task printing 55 MB prints every byte, in order, then exits with the task', async () => {
  world = new World();
  await world.up(['--gpus', '1xH100', '--quiet']);
  const n = 7_000_000;
  let expected = '';
  for (let i = 1; i <= n; i++) expected += `${i}\n`;
  const run = await world.cli(['run', '--', 'sh', '-c', `seq 1 ${n}; echo last line >&2; exit 3`], { timeoutMs: 240_000 });
  expect(run.stderr).toBe('last line\n');
  expect(run.stdout.length).toBe(expected.length);
  expect(sha(run.stdout)).toBe(sha(expected));
  expect(run.code).toBe(3);
}, 300_000);
