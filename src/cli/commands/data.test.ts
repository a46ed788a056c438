// `fastgpu data …` against a real server (startPool): push, a second push that moves nothing,
// ls, show, rm, quota, and the errors a person meets.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliHarness, startPool, type CliHarness, type TestPool } from '../testing.js';
import { bytes } from './data.js';

let pool: TestPool;
let cli: CliHarness;
let folder: string;

beforeAll(async () => {
  pool = await startPool();
  cli = cliHarness({ FASTGPU_URL: pool.url, FASTGPU_TOKEN: pool.token });
  folder = join(pool.dir, 'train');
  mkdirSync(join(folder, 'img'), { recursive: true });
  for (let i = 0; i < 5; i++) writeFileSync(join(folder, 'img', `${i}.jpg`), randomBytes(300_000));
  writeFileSync(join(folder, 'labels.txt'), 'cat\ndog\n'.repeat(10_000));
});
afterAll(async () => pool?.close());

describe('fastgpu data', () => {
  it('pushes, pushes again moving nothing, lists, shows and removes', async () => {
    const first = await cli.run(['data', 'push', folder, 'pets']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^pushed pets@1: 6 files, 1\.5 MiB in 6 chunks; uploaded 6 chunks, 1\.5 MiB \(.* on the wire\) in [\d.]+ s\n$/);
    const again = await cli.run(['data', 'push', folder, 'pets']);
    expect(again.stdout).toMatch(/^pushed pets@2: .* uploaded 0 chunks, 0 B /);

    const ls = await cli.run(['data', 'ls']);
    expect(ls.stdout.split('\n')[0]).toMatch(/^TENANT\s+NAME\s+VERSION\s+FILES\s+SIZE\s+CHUNKS\s+AGE/);
    expect(ls.stdout).toMatch(/default\s+pets\s+1\s+6\s+1\.5 MiB\s+6/);
    expect(ls.stdout).toMatch(/default\s+pets\s+2\s+6/);

    const show = await cli.run(['data', 'show', 'pets@1']);
    expect(show.stdout).toMatch(/^pets@1 \(tenant default\): 6 files, 1\.5 MiB, 6 chunks, pushed /);
    expect(show.stdout).toMatch(/img\/0\.jpg\s+293\.0 KiB\s+1/);
    const shown = JSON.parse((await cli.run(['data', 'show', 'pets', '--output', 'json'])).stdout);
    expect(shown.version).toBe(2);
    expect(shown.manifest.files).toHaveLength(6);

    const into = join(pool.dir, 'pulled');
    const pulled = await cli.run(['data', 'pull', 'pets@1', into]);
    expect(pulled.stderr).toBe('');
    expect(pulled.stdout).toMatch(new RegExp(`^pulled pets@1 into ${into}: 6 files, 1\\.5 MiB in [\\d.]+ s\n$`));
    for (const rel of ['labels.txt', 'img/3.jpg']) expect(readFileSync(join(into, rel)).equals(readFileSync(join(folder, rel))), rel).toBe(true);
    const twice = await cli.run(['data', 'pull', 'pets', into]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/pulled: exists and is not empty; give a new \(or empty\) folder to pull into/);
    const json = JSON.parse((await cli.run(['data', 'pull', 'pets', join(pool.dir, 'pulled2'), '--output', 'json'])).stdout);
    expect(json).toMatchObject({ name: 'pets', version: 2, files: 6 });

    expect((await cli.run(['data', 'rm', 'pets@1'])).stdout).toBe('removed pets version 1; 0 chunks freed\n');
    expect((await cli.run(['data', 'rm', 'pets'])).stdout).toBe('removed pets version 2; 6 chunks freed\n');
    expect((await cli.run(['data', 'ls'])).stdout).toMatch(/^no datasets/);
  });

  it('shows and sets quotas, and a push over the quota fails with the numbers', async () => {
    expect((await cli.run(['data', 'quota', 'default', '--set', '1MiB'])).stdout).toBe('tenant default: 0 B of datasets, limit 1.0 MiB\n');
    const over = await cli.run(['data', 'push', folder, 'big']);
    expect(over.code).toBe(1);
    expect(over.stderr).toMatch(/^fastgpu: dataset quota of tenant default exceeded: 0 bytes stored \+ \d+ new > limit 1048576 bytes/);
    expect((await cli.run(['data', 'quota', 'default', '--set', 'none'])).stdout).toBe('tenant default: 0 B of datasets, limit none\n');
    expect((await cli.run(['data', 'quota', 'default', '--set', '12'])).stderr).toMatch(/--set: "12" has no unit/);
  });

  it('says what is wrong with bad input', async () => {
    const cases: [string[], RegExp, number][] = [
      [['data', 'push', join(pool.dir, 'nope'), 'x'], /nope: not a folder/, 2],
      [['data', 'push', folder, 'No Caps'], /"No Caps" is not a dataset name/, 2],
      [['data', 'show', 'missing'], /dataset missing \(tenant default\) not found/, 1],
      [['data', 'show', 'missing@x'], /version "x" is not a version number/, 2],
      [['data', 'rm', 'missing@3'], /dataset missing has no version 3/, 1],
      [['data', 'push', folder, 'p', '--parallel', '0'], /--parallel: "0" must be a whole number from 1 to 64/, 2],
      [['data', 'pull', 'missing', join(pool.dir, 'x')], /dataset missing \(tenant default\) not found/, 1],
      [['data', 'pull', 'missing', join(pool.dir, 'x'), '--parallel', 'lots'], /--parallel: "lots" must be a whole number from 1 to 64/, 2],
    ];
    for (const [argv, msg, code] of cases) {
      const r = await cli.run(argv);
      expect(r.stderr, argv.join(' ')).toMatch(msg);
      expect(r.code, argv.join(' ')).toBe(code);
    }
  });

  it('formats sizes for people', () => {
    expect([bytes(0), bytes(1023), bytes(1024), bytes(1.5 * 2 ** 30)]).toEqual(['0 B', '1023 B', '1.0 KiB', '1.5 GiB']);
  });
});
