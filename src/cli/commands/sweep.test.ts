// `fastgpu sweep` end to end: a real server and agent (simulated GPUs) in this process, trials
// as real processes that append metric lines to $FASTGPU_METRICS, which the agent ships.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cliHarness, startPool, type CliHarness, type TestPool } from '../testing.js';

let pool: TestPool;
let home: string;
let cli: CliHarness;

beforeAll(async () => {
  pool = await startPool({ gpus: '1xH100', cpuMilli: 8000 });
  home = mkdtempSync(join(tmpdir(), 'fastgpu-sweep-cli-'));
  cli = cliHarness({ FASTGPU_HOME: home, FASTGPU_URL: pool.url, FASTGPU_TOKEN: pool.token, PATH: '' }, home);
});

afterAll(async () => {
  await pool.close();
  rmSync(home, { recursive: true, force: true });
});

describe('fastgpu sweep', () => {
  it('runs a grid sweep from YAML, ships $FASTGPU_METRICS lines, and reports status and the best', async () => {
    const file = join(home, 'sweep.yaml');
    writeFileSync(
      file,
      [
        'name: grid',
        // Each trial reports loss = x / step at steps 1..3, then a bad line the agent skips.
        `command: 'for i in 1 2 3; do echo "{\\"step\\": $i, \\"loss\\": $(( {x} * 100 / i ))}" >> "$FASTGPU_METRICS"; done; echo not-json >> "$FASTGPU_METRICS"'`,
        'space:',
        '  x: [3, 1, 2, 4]',
        'gpu: 0.5',
        'max_concurrent: 2',
        'metric: loss',
        '',
      ].join('\n'),
    );
    const r = await cli.run(['sweep', file]);
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim();
    expect(id).toMatch(/^sw_/);
    await vi.waitFor(
      async () => {
        const s = await pool.client.sweeps.get(id);
        expect(s.sweep.state).toBe('SUCCEEDED');
      },
      { timeout: 60_000, interval: 100 },
    );
    const d = await pool.client.sweeps.get(id);
    expect(d.trials.map((t) => t.state)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(d.trials.map((t) => t.points)).toEqual([3, 3, 3, 3]);
    expect(d.trials.map((t) => t.slice?.gpuMilli)).toEqual([500, 500, 500, 500]);
    const best = JSON.parse((await cli.run(['sweep', 'best', id, '--output', 'json'])).stdout);
    expect(best.params).toEqual({ x: 1 });
    expect(best.best).toEqual({ value: 33, step: 3 });
    const status = await cli.run(['sweep', 'status', id]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`sweep ${id} (grid): SUCCEEDED, 4/4 trials started (4 succeeded)`);
    expect(status.stdout).toMatch(/0\s+t_\w+\s+SUCCEEDED\s+0\.5 GPU/);
    expect(status.stdout).toContain('best: trial 1 loss=33 at step 3 (x=1)');
    const ls = await cli.run(['sweep', 'ls']);
    expect(ls.stdout).toMatch(new RegExp(`${id}\\s+grid\\s+SUCCEEDED\\s+4/4`));
  });

  it('refuses a space that cannot be sampled, naming the field, and bad verbs', async () => {
    const file = join(home, 'bad.yaml');
    writeFileSync(file, 'command: train\nmetric: loss\ntrials: 4\nspace:\n  lr: {loguniform: [0, 0.1]}\n');
    const r = await cli.run(['sweep', file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('space.lr.loguniform');
    expect(r.stderr).toContain('above 0');
    const none = await cli.run(['sweep', 'status']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('give the sweep id');
    const missing = await cli.run(['sweep', join(home, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read it');
    // Optuna's sampler runs in Python: the CLI says where, and starts nothing.
    const opt = join(home, 'optuna.yaml');
    writeFileSync(opt, 'command: train --lr {lr}\nmetric: loss\ntrials: 4\nbackend: optuna\nspace:\n  lr: {loguniform: [1e-4, 0.1]}\n');
    const o = await cli.run(['sweep', opt]);
    expect(o.code).toBe(2);
    expect(o.stderr).toContain(`python -m fastgpu.sweep_optuna ${opt}`);
  });
});
