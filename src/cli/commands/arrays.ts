// Task arrays on the command line (issue 14): `fastgpu run --array 0-99%8 …` submits one,
// `fastgpu array status|tasks|results|cancel|wait ID` read and steer it, `fastgpu ps` shows it as
// one row, and `cancel`/`wait` take an array id (`a_…`) as well as a task id.
import type { Command } from 'commander';
import type { ArrayView, ArraySpecInput } from '../../sdk/arrays.js';
import type { FastGPU } from '../../sdk/client.js';
import type { TaskView } from '../../sdk/types.js';
import { contextOf, type CliContext } from '../context.js';
import { clientFor, durationFlag, outputFlag, withConnection, withOutput } from '../flags.js';
import { age, dash, requestColumn, table } from '../format.js';

/** An array id, as the server makes them. */
export const isArrayId = (id: string): boolean => id.startsWith('a_');

/** `RUNNING 8 · PENDING 90 · SUCCEEDED 2`, in the life order of the states. */
export function countsText(counts: ArrayView['counts']): string {
  const order = ['RUNNING', 'SCHEDULED', 'PENDING', 'PREEMPTED', 'LOST', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT'] as const;
  return order.filter((s) => (counts[s] ?? 0) > 0).map((s) => `${s} ${counts[s]}`).join(' · ');
}

function usageText(a: ArrayView): string {
  const u = a.usage;
  return `${u.gpuSeconds.toFixed(1)} GPU-s, ${u.chargedAmount.toFixed(2)} ${u.currency}${u.discountAmount > 0 ? ` (${u.discountAmount.toFixed(2)} off: ${u.promotions.join(', ')})` : ''}`;
}

/** A person's view of an array: one line per fact. */
export function arrayText(a: ArrayView): string {
  const finished = Object.entries(a.counts)
    .filter(([s]) => ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT'].includes(s))
    .reduce((n, [, c]) => n + (c ?? 0), 0);
  return [
    `array ${a.id} (${a.name}): ${a.size} elements${a.max !== null ? `, at most ${a.max} at once` : ''}`,
    `  ${countsText(a.counts)}`,
    `  ${finished}/${a.size} finished${a.done ? (a.ok ? ', all succeeded' : ', not all succeeded') : ''}`,
    `  usage: ${usageText(a)}`,
  ].join('\n');
}

/** Submit a spec with `array:`; print its id, then (unless detached) wait for it. Exit 0 only if all succeeded. */
export async function runArray(ctx: CliContext, client: FastGPU, spec: ArraySpecInput, detach: boolean): Promise<void> {
  const a = await client.arrays.submit(spec);
  if (detach) return void ctx.stdout.write(`${a.id}\n`);
  ctx.stderr.write(`fastgpu: array ${a.id}: ${a.size} elements${a.max !== null ? `, at most ${a.max} at once` : ''}; fastgpu array tasks ${a.id} lists them\n`);
  await waitArray(ctx, client, a.id, undefined);
}

/** Wait for every element; print the final status; exit code 0 when all succeeded, else 1. */
export async function waitArray(ctx: CliContext, client: FastGPU, id: string, timeoutMs: number | undefined): Promise<void> {
  let last = '';
  const a = await client.arrays.wait(id, {
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    onProgress: (x) => {
      const line = countsText(x.counts);
      if (ctx.stderr.isTTY && line !== last) ctx.stderr.write(`\r\x1b[2Kfastgpu: ${x.id}: ${line}`);
      last = line;
    },
  });
  if (ctx.stderr.isTTY) ctx.stderr.write('\r\x1b[2K');
  ctx.stdout.write(`${arrayText(a)}\n`);
  ctx.exitCode = a.ok ? 0 : 1;
}

/** Cancel an array's unfinished elements, printing what happened. */
export async function cancelArray(ctx: CliContext, client: FastGPU, id: string): Promise<void> {
  const r = await client.arrays.cancel(id);
  ctx.stdout.write(`${id} cancelled ${r.cancelled} element${r.cancelled === 1 ? '' : 's'} (${countsText(r.array.counts)})\n`);
}

/** ps rows with each array's elements folded into one row (its counts from the server). */
export async function psRows(client: FastGPU, list: readonly TaskView[], now = Date.now()): Promise<string[][]> {
  const rows: string[][] = [];
  const seen = new Set<string>();
  for (const t of list) {
    const arrayId = t.array?.id;
    if (arrayId === undefined) {
      rows.push([t.id, t.name, t.state, dash(t.reason), String(t.priority), requestColumn(t), t.placement ? t.placement.node : '-', age(t.createdAt, now)]);
      continue;
    }
    if (seen.has(arrayId)) continue;
    seen.add(arrayId);
    const a = await client.arrays.get(arrayId).catch(() => null); // gone meanwhile: shown as ARRAY
    const state = a ? (a.done ? (a.ok ? 'SUCCEEDED' : 'DONE') : 'ARRAY') : 'ARRAY';
    rows.push([arrayId, `${t.name}[${a?.size ?? t.array!.size}${a?.max != null ? `%${a.max}` : ''}]`, state, a ? countsText(a.counts) : '-', String(t.priority), requestColumn(t), '-', age(a?.createdAt ?? t.createdAt, now)]);
  }
  return rows;
}

export function psArrayTable(rows: readonly (readonly string[])[]): string {
  return table(['ID', 'NAME', 'STATE', 'REASON', 'PRI', 'REQUEST', 'PLACED', 'AGE'], rows);
}

export function register(program: Command): void {
  const group = program.command('array').description('task arrays: status, elements, results, cancel, wait (submit one with fastgpu run --array)');
  const get = (name: string, what: string, show: (ctx: CliContext, client: FastGPU, id: string, json: boolean) => Promise<void>): void => {
    withOutput(withConnection(group.command(name)))
      .description(what)
      .argument('<id>', 'array id (a_…)')
      .action(async (id: string, raw: { output?: string }, cmd: Command) => {
        await show(contextOf(cmd), clientFor(cmd), id, outputFlag(raw.output) === 'json');
      });
  };
  get('status', 'the array’s elements counted by state, and its GPU-seconds and cost', async (ctx, client, id, json) => {
    const a = await client.arrays.get(id);
    ctx.stdout.write(json ? `${JSON.stringify(a, null, 2)}\n` : `${arrayText(a)}\n`);
  });
  get('tasks', 'the array’s elements, by index', async (ctx, client, id, json) => {
    const tasks = await client.arrays.tasks(id);
    if (json) return void ctx.stdout.write(`${JSON.stringify(tasks, null, 2)}\n`);
    ctx.stdout.write(table(['INDEX', 'ID', 'STATE', 'REASON', 'EXIT', 'PLACED'], tasks.map((t) => [String(t.array?.index ?? '-'), t.id, t.state, dash(t.reason), t.exitCode === null ? '-' : String(t.exitCode), t.placement ? t.placement.node : '-'])));
  });
  get('results', 'each element’s $FASTGPU_RESULT, by index (JSON lines with -o json)', async (ctx, client, id, json) => {
    const r = await client.arrays.results(id);
    if (json) return void ctx.stdout.write(`${JSON.stringify(r.results, null, 2)}\n`);
    for (const x of r.results) ctx.stdout.write(`${x.index}\t${x.state}\t${x.result === undefined ? '-' : JSON.stringify(x.result)}\n`);
  });
  withConnection(group.command('cancel'))
    .description('cancel every element that has not finished')
    .argument('<id>', 'array id (a_…)')
    .action(async (id: string, _raw: unknown, cmd: Command) => cancelArray(contextOf(cmd), clientFor(cmd), id));
  withConnection(group.command('wait'))
    .description('wait until every element has finished; exits 0 when all succeeded, else 1')
    .argument('<id>', 'array id (a_…)')
    .option('--timeout <duration>', 'give up after this long (e.g. 90s, 2h)')
    .action(async (id: string, raw: { timeout?: string }, cmd: Command) => {
      await waitArray(contextOf(cmd), clientFor(cmd), id, raw.timeout === undefined ? undefined : durationFlag(raw.timeout, '--timeout'));
    });
}
