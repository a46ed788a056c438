// The two-tenant preemption scenario through the CLI, on `fastgpu up --gpus 1xH100`:
// tenant A borrows B's idle guarantee; B submits; A's borrowed task is preempted (it finds
// FASTGPU_PREEMPTED=1 in its signal file when SIGTERM comes), requeued, and finishes later,
// never overlapping B's task on the one GPU. Tokens come from `fastgpu admin token create`.
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/sdk/index.js';
import { World, lines, requireBuild, until } from './harness.js';

let world: World;
beforeAll(requireBuild);
afterEach(async () => world?.cleanup());

/** A's job: on its first attempt it runs until stopped, logging what the signal file says. */
function borrowerScript(log: string): string {
  const stamp = 'date +%s%3N';
  return [
    `echo "start $FASTGPU_ATTEMPT $(${stamp})" >> ${log}`,
    `trap 'echo "term $FASTGPU_ATTEMPT $(${stamp}) $(cat "$FASTGPU_SIGNAL_FILE" 2>/dev/null | tr "\\n" " ")" >> ${log}; exit 143' TERM`,
    `if [ "$FASTGPU_ATTEMPT" = 1 ]; then while :; do sleep 0.05; done; fi`,
    `echo "done $FASTGPU_ATTEMPT $(${stamp})" >> ${log}`,
  ].join('\n');
}

describe('two tenants on fastgpu up --gpus 1xH100', () => {
  it('A borrows B’s idle guarantee; B submits; A is preempted, requeued, and finishes after B', async () => {
    world = new World();
    await world.up(['--gpus', '1xH100', '--quiet']);
    const cli = async (args: string[], token?: string): Promise<string> => {
      const r = await world.cli(args, token ? { env: { FASTGPU_TOKEN: token } } : {});
      expect(r.code, `fastgpu ${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r.stdout;
    };
    await cli(['admin', 'tenant', 'create', 'team-a', '--guarantee', '0']);
    await cli(['admin', 'tenant', 'create', 'team-b', '--guarantee', '1']);
    const tokenA = (await cli(['admin', 'token', 'create', '--tenant', 'team-a'])).trim().split('\n').pop()!;
    const tokenB = (await cli(['admin', 'token', 'create', '--tenant', 'team-b'])).trim().split('\n').pop()!;
    await cli(['admin', 'price', 'set', 'H100', '3.60']);

    const log = join(world.home, 'a.log');
    const blog = join(world.home, 'b.log');
    const aId = (await cli(['run', '--detach', '--gpu', '1', '--name', 'a-borrower', '--', 'sh', '-c', borrowerScript(log)], tokenA)).trim();
    const client = world.client();
    await until('A running on the whole GPU', async () => (lines(log).some((l) => l.startsWith('start 1')) ? true : undefined));

    const stamp = 'date +%s%3N';
    const bId = (await cli(['run', '--detach', '--gpu', '1', '--name', 'b-owner', '--', 'sh', '-c', `echo "start $(${stamp})" >> ${blog}; sleep 1; echo "end $(${stamp})" >> ${blog}`], tokenB)).trim();

    // A is stopped with FASTGPU_PREEMPTED=1 in its signal file, B runs, then A runs again and finishes.
    const a = await until(
      'A preempted, requeued and finished',
      async () => {
        const t = await client.tasks.get(aId);
        return t.state === 'SUCCEEDED' ? t : undefined;
      },
      90_000,
      200,
    );
    expect(a.history.map((x) => x.outcome)).toEqual(['PREEMPTED', 'SUCCEEDED']);
    const b = (await client.tasks.get(bId)) as TaskView;
    expect(b.state).toBe('SUCCEEDED');
    const events = lines(log);
    const term = events.find((l) => l.startsWith('term 1'));
    expect(term, events.join('\n')).toMatch(/^term 1 \d+ FASTGPU_PREEMPTED=1/);
    expect(events.some((l) => l.startsWith('done 2'))).toBe(true);
    // No overlap on the GPU: B started after A's first attempt stopped; A's second after B ended.
    const at = (list: string[], prefix: string): number => Number(list.find((l) => l.startsWith(prefix))!.split(' ')[prefix.split(' ').length]);
    const bl = lines(blog);
    expect(at(bl, 'start')).toBeGreaterThanOrEqual(at(events, 'term 1'));
    expect(at(events, 'start 2')).toBeGreaterThanOrEqual(at(bl, 'end'));

    // Through the CLI: the task shows both attempts, and each tenant sees only its own usage.
    const shown = JSON.parse(await cli(['ps', '--all', '--output', 'json'], tokenA)) as TaskView[];
    expect(shown.map((t) => t.id)).toEqual([aId]);
    const usageA = JSON.parse(await cli(['usage', '--output', 'json'], tokenA));
    expect(usageA.rows.map((r: { tenant: string; taskId: string }) => [r.tenant, r.taskId])).toEqual([['team-a', aId]]);
    expect(usageA.rows[0]).toMatchObject({ gpuModel: 'H100-80GB', promotions: [] });
    expect(usageA.rows[0].gpuSeconds).toBeGreaterThan(0);
    // 3.60 per GPU-hour is 1,000 micro-units per GPU-second; no promotion, so charged = list.
    const t = usageA.totals as { gpuSeconds: number; chargedMicros: string; listMicros: string; discountMicros: string };
    expect(Number(t.chargedMicros)).toBeGreaterThan(0);
    expect(Math.abs(Number(t.chargedMicros) - t.gpuSeconds * 1000)).toBeLessThanOrEqual(2); // per-line rounding, 2 attempts
    expect([t.listMicros, t.discountMicros]).toEqual([t.chargedMicros, '0']);
    const all = JSON.parse(await cli(['usage', '--output', 'json']));
    expect(all.rows.map((r: { tenant: string }) => r.tenant).sort()).toEqual(['team-a', 'team-b']);
  }, 150_000);
});
