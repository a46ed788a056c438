// `fastgpu agent --cache-size` (issue 16): the node's dataset cache cap reaches the agent (its
// heartbeat reports it, /metrics shows it), and a size without a unit is refused naming the flag.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliHarness, startPool, type CliHarness, type TestPool } from './testing.js';

let pool: TestPool;
let dir: string;
let cli: CliHarness;

beforeAll(async () => {
  pool = await startPool();
  dir = mkdtempSync(join(tmpdir(), 'fastgpu-cache-size-'));
  cli = cliHarness({ FASTGPU_HOME: dir, FASTGPU_URL: pool.url, FASTGPU_TOKEN: pool.token, PATH: '' }, dir);
});

afterAll(async () => {
  await pool?.close();
  rmSync(dir, { recursive: true, force: true });
});

const limitOf = async (node: string): Promise<string | undefined> => {
  const text = await (await fetch(`${pool.url}/metrics`, { headers: { authorization: `Bearer ${pool.token}` } })).text();
  return text.split('\n').find((l) => l.startsWith('fastgpu_data_cache_limit_bytes{') && l.includes(`"${node}"`));
};

describe('fastgpu agent --cache-size', () => {
  it('caps the node cache at the size given, as its heartbeat reports', async () => {
    let joined!: (interrupt: () => void) => void;
    const onJoin = new Promise<() => void>((res) => (joined = res));
    const run = cli.run(['agent', '--gpus', '1xH100', '--name', 'capped', '--state-dir', join(dir, 'agent'), '--cache-size', '64MiB', '--quiet'], {
      onStdout: (out, interrupt) => {
        if (out.includes('joined')) joined(interrupt);
      },
    });
    const interrupt = await Promise.race([
      onJoin,
      run.then((r) => {
        throw new Error(`the agent exited ${r.code} before joining: ${r.stderr}`);
      }),
    ]);
    // The cache report rides on heartbeats: the first one after joining brings the cap.
    await expect.poll(() => limitOf('capped'), { timeout: 30_000 }).toMatch(/ 67108864$/);
    interrupt();
    expect((await run).code).toBe(0);
  });

  it('refuses a size without a unit, naming the flag', async () => {
    const r = await cli.run(['agent', '--gpus', '1xH100', '--state-dir', join(dir, 'agent2'), '--cache-size', '500']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('fastgpu: --cache-size: "500" has no unit; write e.g. 500GiB or 500MiB\n');
  });
});
