// Issue 14 end to end on `fastgpu up --gpus 2xH100` (simulated GPUs, real processes): an array of
// 100 with %8 never runs more than 8 at once and returns its results by index; afterok chains
// run in order; a failed dependency cancels its dependents; map returns results in input order;
// bad input gets a clear error. Through the CLI and the TypeScript SDK (the Python SDK's own
// tests are in python/tests/test_arrays.py).
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { World, lines, requireBuild } from './harness.js';

const TIMEOUT_MS = 240_000;

let world: World;
beforeAll(requireBuild);
afterEach(async () => world?.cleanup());

/** Most processes alive at once, from `start|end ID MS` lines. */
function maxConcurrent(events: string[]): number {
  const parsed = events.map((l) => l.split(' ')).map(([kind, id, at]) => ({ kind: kind!, id: id!, at: Number(at) }));
  parsed.sort((a, b) => a.at - b.at || (a.kind === 'end' ? -1 : 1));
  let now = 0;
  let max = 0;
  for (const e of parsed) {
    now += e.kind === 'start' ? 1 : -1;
    max = Math.max(max, now);
  }
  return max;
}

describe('arrays, dependencies and map on fastgpu up', () => {
  it('an array of 100 with %8 never runs more than 8 at once; results come back by index; ps shows one row', async () => {
    world = new World();
    await world.up(['--gpus', '2xH100', '--cpus', '16', '--quiet']);
    const log = join(world.home, 'events.log');
    const body = `echo "start $FASTGPU_TASK_ID $(date +%s%3N)" >> ${log}; sleep 0.3; echo "end $FASTGPU_TASK_ID $(date +%s%3N)" >> ${log}; echo "{\\"index\\": $FASTGPU_ARRAY_INDEX, \\"size\\": $FASTGPU_ARRAY_SIZE}" > "$FASTGPU_RESULT"`;
    const sub = await world.cli(['run', '--detach', '--array', '0-99%8', '--gpu', '0.25', '--name', 'sq', '--', 'sh', '-c', body]);
    expect(sub.stderr).toBe('');
    expect(sub.code).toBe(0);
    const arrayId = sub.stdout.trim();
    expect(arrayId).toMatch(/^a_[a-z2-7]{10}$/);
    const ps = await world.cli(['ps']);
    expect(ps.stdout).toContain(arrayId);
    expect(ps.stdout).toContain('sq[100%8]');
    expect(ps.stdout.split('\n').filter((l) => l.includes(' sq')).length).toBe(1);
    const wait = await world.cli(['wait', arrayId, '--timeout', '200s'], { timeoutMs: 220_000 });
    expect(wait.code).toBe(0);
    expect(wait.stdout).toContain('SUCCEEDED 100');
    expect(wait.stdout).toContain('100/100 finished, all succeeded');
    const events = lines(log);
    expect(events).toHaveLength(200);
    expect(maxConcurrent(events)).toBeLessThanOrEqual(8);
    const res = await world.cli(['array', 'results', arrayId, '-o', 'json']);
    const results = JSON.parse(res.stdout) as { index: number; result: unknown }[];
    expect(results.map((r) => r.result)).toEqual(Array.from({ length: 100 }, (_, i) => ({ index: i, size: 100 })));
    const status = await world.client().arrays.get(arrayId);
    expect(status.usage.gpuSeconds).toBeGreaterThan(100 * 0.25 * 0.3 * 0.9);
    // The array's total in `usage`: the SDK's groups and the CLI's per-group table.
    const usage = await world.client().billing.usage();
    const group = usage.groups.find((g) => g.id === arrayId);
    expect(group).toMatchObject({ kind: 'array', name: 'sq', size: 100, tasks: 100, counts: { SUCCEEDED: 100 } });
    // The array's status rounds to 3 decimals (src/server/arrays.ts); usage groups are exact, so a
    // total like 9.9395 shows as 9.939 there: the two agree within that rounding.
    expect(Math.abs(group!.gpuSeconds - status.usage.gpuSeconds)).toBeLessThanOrEqual(0.0005 + 1e-9);
    const table = (await world.cli(['usage'])).stdout;
    expect(table).toContain('per array, map and sweep');
    expect(table.split('\n').find((l) => l.includes(arrayId))).toMatch(/^ARRAY\s+a_\S+\s+sq\s+default\s+100\s+100 SUCCEEDED\s+[\d.]+\s+[\d.]+\s+-$/);
  }, TIMEOUT_MS);

  it('afterok chains run in order; a failed dependency cancels its dependents with reason Dependency', async () => {
    world = new World();
    await world.up(['--gpus', '2xH100', '--quiet']);
    const log = join(world.home, 'chain.log');
    const id = async (args: string[]): Promise<string> => {
      const r = await world.cli(['run', '--detach', ...args]);
      expect(r.stderr).toBe('');
      return r.stdout.trim();
    };
    const a = await id(['--name', 'a', '--', 'sh', '-c', `sleep 0.5; echo a >> ${log}`]);
    const b = await id(['--name', 'b', '--after', a, '--', 'sh', '-c', `echo b >> ${log}`]);
    const c = await id(['--name', 'c', '--after', `${b}:ok`, '--', 'sh', '-c', `echo c >> ${log}`]);
    const bad = await id(['--name', 'bad', '--', 'sh', '-c', 'exit 3']);
    const never = await id(['--name', 'never', '--after', bad, '--', 'sh', '-c', `echo never >> ${log}`]);
    const then = await id(['--name', 'then', '--after', never, '--', 'true']);
    const rescue = await id(['--name', 'rescue', '--after', `${bad}:failed`, '--', 'sh', '-c', `echo rescue >> ${log}`]);
    expect((await world.cli(['wait', c])).code).toBe(0);
    expect((await world.cli(['wait', rescue])).code).toBe(0);
    const neverWait = await world.cli(['wait', then]);
    expect(neverWait.code).toBe(1);
    expect(neverWait.stderr).toContain('ended CANCELLED');
    const got = await world.client().tasks.get(never);
    expect(got.state).toBe('CANCELLED');
    expect(got.reason).toBe('Dependency');
    expect(got.reasonMessage).toContain(`task ${bad} ended FAILED`);
    const order = lines(log);
    expect(order.filter((l) => ['a', 'b', 'c'].includes(l))).toEqual(['a', 'b', 'c']);
    expect(order).toContain('rescue');
    expect(order).not.toContain('never');
  }, TIMEOUT_MS);

  it('map returns the results in input order, through the TypeScript SDK', async () => {
    world = new World();
    await world.up(['--gpus', '2xH100', '--quiet']);
    const inputs = [7, 3, 11, 0, 5, 2, 9, 4];
    // Later inputs finish first: order comes from the index, not from finishing time.
    const out = await world.client().map(['sh', '-c', 'x=$FASTGPU_INPUT; sleep 0.$((12 - x)); echo $((x * x)) > "$FASTGPU_RESULT"'], inputs, { gpu: 0.25, maxConcurrent: 8 });
    expect(out).toEqual(inputs.map((x) => x * x));
    // A reduce step gets every result (FASTGPU_RESULTS, a JSON list by index) and sums them.
    const sum = 's=0; for x in $(echo "$FASTGPU_RESULTS" | tr -d "[]" | tr "," " "); do s=$((s + x)); done; echo $s > "$FASTGPU_RESULT"';
    const mr = await world.client().arrays.mapReduce(['sh', '-c', 'echo $((FASTGPU_INPUT * 10)) > "$FASTGPU_RESULT"'], [1, 2, 3, 4], ['sh', '-c', sum], { gpu: 0.25 });
    expect(mr).toEqual({ results: [10, 20, 30, 40], reduced: 100 });
  }, TIMEOUT_MS);

  it('bad input gets a clear error naming the flag: malformed range, %0, unknown dependency', async () => {
    world = new World();
    await world.up(['--gpus', '1xH100', '--quiet']);
    const zero = await world.cli(['run', '--array', '0-9%0', '--', 'true']);
    expect(zero.code).not.toBe(0);
    expect(zero.stderr).toContain('--array: "%0" would let no element run');
    const back = await world.cli(['run', '--array', '9-1', '--', 'true']);
    expect(back.stderr).toContain('--array: "9-1" runs backwards');
    const junk = await world.cli(['run', '--array', 'lots', '--', 'true']);
    expect(junk.stderr).toContain('--array: cannot read "lots"');
    const unknown = await world.cli(['run', '--after', 't_nosuchtask1', '--', 'true']);
    expect(unknown.stderr).toContain('t_nosuchtask1 is not a known task id');
    const kind = await world.cli(['run', '--after', 't_x:maybe', '--', 'true']);
    expect(kind.stderr).toContain('"maybe" in "t_x:maybe" is not a dependency kind');
    expect(await world.client().tasks.list({ all: true })).toEqual([]);
  }, TIMEOUT_MS);
});
