// The "Bad input" list through the CLI against a real `fastgpu up`: each case exits
// non-zero with one `fastgpu: …` line naming the field or the problem, never a stack trace,
// and leaves no task behind.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { World, requireBuild, type CliResult } from './harness.js';

/** Generous: the 2-core machine these run on is often shared and loaded. */
const TIMEOUT_MS = 120_000;

let world: World;

beforeAll(async () => {
  requireBuild();
  world = new World();
  await world.up(['--gpus', '1xH100', '--quiet']);
});
afterAll(async () => world?.cleanup());

function file(name: string, content: string | Buffer): string {
  const p = join(world.home, name);
  writeFileSync(p, content);
  return p;
}

function expectRefused(r: CliResult, message: RegExp, code?: number): void {
  expect(r.stderr).toMatch(message);
  expect(r.stderr).toMatch(/^fastgpu: /);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  if (code !== undefined) expect(r.code).toBe(code);
  else expect(r.code).not.toBe(0);
}

describe('bad input through the CLI', () => {
  it('refuses malformed, unknown, missing and out-of-range spec fields, naming them, creating nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['submit', file('broken.yaml', 'command: [echo, hi\nresources: {gpu: 0.5\n')], /malformed YAML/],
      [['submit', file('broken.json', '{"command": ["echo", "hi"], ')], /malformed YAML\/JSON/],
      [['submit', file('unknown.yaml', 'command: [echo, hi]\ncomand: [echo, hi]\n')], /comand/],
      [['submit', file('missing.yaml', 'name: nothing-to-run\n')], /command/],
      [['submit', file('neg.yaml', 'command: echo\nresources: {gpu: -1}\n')], /resources\.gpu/],
      [['submit', file('zero.yaml', 'command: echo\nresources: {memory: 0}\n')], /resources\.memory/],
      [['submit', file('nan.yaml', 'command: echo\npriority: .nan\n')], /priority/],
      [['submit', file('huge.yaml', 'command: echo\nresources: {memory: 100000TiB}\n')], /resources\.memory/],
      [['submit', file('model.yaml', 'command: echo\nresources: {gpu: "Z900:0.5"}\n')], /Z900/],
      [['submit', file('big.yaml', `command: echo\nenv: {BIG: "${'x'.repeat(2 * 1024 * 1024)}"}\n`)], /large|limit/i],
      [['submit', file('latin1.yaml', Buffer.concat([Buffer.from('command: echo caf'), Buffer.from([0xe9, 0x0a])]))], /UTF-8/],
      [['run', '--gpu', '-1', '--', 'true'], /--gpu/],
      [['run', '--gpu', '0', '--', 'true'], /--gpu/],
      [['run', '--memory', 'NaN', '--', 'true'], /--memory/],
      [['run', '--cpu', '1e9', '--', 'true'], /--cpu/],
      [['run', '--gpu', 'Z900:0.5', '--', 'true'], /Z900/],
      [['run', '--gpu', '0.5'], /no command/],
      [['run', '--time-limit', '-5m', '--', 'true'], /--time-limit/],
    ];
    for (let i = 0; i < cases.length; i += 4) {
      const batch = cases.slice(i, i + 4);
      const results = await Promise.all(batch.map(([args]) => world.cli(args)));
      for (const [j, r] of results.entries()) {
        const [args, message] = batch[j]!;
        expect({ args, stderr: r.stderr.slice(0, 300) }).toEqual({ args, stderr: expect.stringMatching(message) });
        expectRefused(r, message, 2);
      }
    }
    expect(JSON.parse((await world.cli(['ps', '--all', '--output', 'json'])).stdout)).toEqual([]);
  }, TIMEOUT_MS);

  it('says when a task id is unknown, or a cancel comes after the task finished', async () => {
    const [get, logs, cancel, wait] = await Promise.all([
      world.cli(['get', 't_doesnotexist']),
      world.cli(['logs', 't_doesnotexist']),
      world.cli(['cancel', 't_doesnotexist']),
      world.cli(['wait', 't_doesnotexist']),
    ]);
    for (const r of [get, logs, cancel, wait]) expectRefused(r, /t_doesnotexist.*not found|not found.*t_doesnotexist/, 1);

    const done = await world.cli(['run', '--', 'true']);
    expect(done.code).toBe(0);
    const id = (JSON.parse((await world.cli(['ps', '--all', '--output', 'json'])).stdout) as { id: string }[])[0]!.id;
    expectRefused(await world.cli(['cancel', id]), /finished|SUCCEEDED/, 1);
  }, TIMEOUT_MS);
});
